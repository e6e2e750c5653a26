"""``specmodel lint --prose``: judge the sentences of an mmu.rst or of a patch to one.

Text output: one line per judged sentence (``verified``, ``refuted``, ``ambiguous``,
``unjudged``; ``descriptive`` and ``outside`` ones only in JSON), then a summary per input::

    PATH:LINE: refuted: "<first words>..." (claim ID): <reason>; counterexample in N steps
    PATH:LINE: ambiguous: "<first words>..." readings: "<reading>" (claim ID) refuted; ...
    PATH:LINE: unjudged: "<first words>..." <why>; nearest known: ... (only similar)
    PATH: prose: N sentences: a verified, b refuted, ... (sentence table kvm_mmu_page)

For a patch, PATH:LINE is the patch's line and ``[FILE:LINE]`` the target file's line the hunk
gives; with ``--base`` it is the patched base file's line and ``[PATCH:LINE]`` the patch's.
``--trace`` prints the counterexample of each refuted reading under its line. Input errors go
to stderr as ``PATH:LINE: error: <message>``.

JSON output (``--format json``), schema ``specmodel-lint-prose/1``: ``{"schema", "exit",
"table", "claims_run", "files": [{"path", "kind", "target", "status", "exit", "counts",
"notes": [{"line", "message"}], "sentences": [...], "error"}]}``, each sentence as
:func:`specmodel.prose.judge.judgement_json` (full traces included).

Exit status: 1 if a sentence is refuted (with ``--strict`` also if one is ambiguous or
unjudged), 2 if an input cannot be read (the largest over all inputs), 0 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from specmodel.errors import LintInputError, SpecmodelError
from specmodel.lint import error_line
from specmodel.prose.judge import (
    VERDICTS,
    ClaimRunner,
    Judgement,
    default_cache_dir,
    judge,
    judgement_json,
    needed_claims,
    terminal_progress,
)
from specmodel.prose.patch import Input, read_input
from specmodel.prose.table import Table, load_table

SCHEMA = "specmodel-lint-prose/1"
QUIET = ("descriptive", "outside")


@dataclass
class ProseReport:
    path: str
    input: Input | None = None
    judgements: list[Judgement] = field(default_factory=list)
    error: LintInputError | None = None

    def exit_code(self, strict: bool) -> int:
        if self.error is not None:
            return 2
        bad = {"refuted"} | ({"ambiguous", "unjudged"} if strict else set())
        return 1 if any(j.verdict in bad for j in self.judgements) else 0

    def counts(self) -> dict[str, int]:
        return {v: sum(j.verdict == v for j in self.judgements) for v in VERDICTS}


def lint_prose(
    paths: Sequence[str],
    *,
    base: str | None = None,
    table: Table | None = None,
    runner: ClaimRunner | None = None,
) -> list[ProseReport]:
    """Read every input, then run the claims they need once, then judge."""
    table = table or load_table()
    reports: list[ProseReport] = []
    for path in paths:
        try:
            reports.append(ProseReport(path, read_input(path, base)))
        except LintInputError as exc:
            reports.append(ProseReport(path, error=exc))
    needed = set().union(
        *(needed_claims(table, r.input.sentences) for r in reports if r.input is not None)
    )
    if needed and runner is None:
        runner = ClaimRunner(default_cache_dir(), progress=terminal_progress)
    for report in reports:
        if report.input is not None:
            report.judgements = judge(table, report.input.sentences, runner)
    return reports


def _where(j: Judgement) -> str:
    w = j.found.where
    return f"{w.path}:{w.line}"


def _suffix(j: Judgement) -> str:
    w = j.found.where
    return f" [{w.target}:{w.target_line}]" if w.target and w.target_line else ""


def render_line(j: Judgement) -> str:
    head = f'{_where(j)}: {j.verdict}: "{j.words}"'
    if j.verdict == "ambiguous":
        parts = [f'"{r.reading}" (claim {r.claim}) {r.verdict}' for r in j.readings]
        body = f"{head} readings: {'; '.join(parts)}"
    elif j.verdict == "refuted":
        refuted = next(r for r in j.readings if r.verdict == "refuted")
        steps = refuted.outcome.steps
        tail = f"; counterexample in {steps} steps" if steps else ""
        body = f"{head} (claim {refuted.claim}): {j.reason}{tail}"
    elif j.verdict == "verified" and j.readings:
        claims = ", ".join(r.claim for r in j.readings)
        body = f"{head} (claim {claims}): {j.reason}"
    elif j.verdict == "verified":
        body = f"{head} ({j.reason})"
    elif j.verdict == "unjudged" and j.record is None:
        body = f"{head} new or changed wording, no claim covers it"
        if j.nearest is not None:
            rec, score = j.nearest
            body += (
                f'; nearest known sentence of {rec.entry}: "{rec.words}..." ({rec.id}, '
                f"similarity {score:.2f}; only similar, not the same wording)"
            )
    elif j.verdict == "unjudged":
        known = j.record.id if j.record is not None else "?"
        body = f"{head} known sentence ({known}), not judged: {j.reason}"
    else:
        body = f"{head} {j.reason}"
    notes = "".join(f" (note: {n})" for n in j.notes)
    return body + notes + _suffix(j)


def render_text(reports: Sequence[ProseReport], table: Table, trace: bool = False) -> str:
    out: list[str] = []
    for report in reports:
        if report.error is not None:
            where = "" if report.error.line is None else f" at line {report.error.line}"
            out.append(f"{report.path}: prose not checked: bad input{where}")
            continue
        assert report.input is not None
        out.extend(f"{report.path}:{line}: note: {msg}" for line, msg in report.input.notes)
        for j in report.judgements:
            if j.verdict in QUIET:
                continue
            out.append(render_line(j))
            if trace:
                for r in j.readings:
                    if r.verdict == "refuted" and r.outcome.trace:
                        out.append(
                            f"    counterexample to {r.claim} (schedule {r.outcome.schedule}):"
                        )
                        out.extend(f"    {step}" for step in r.outcome.trace)
        counts = report.counts()
        summary = ", ".join(f"{counts[v]} {v}" for v in VERDICTS)
        out.append(
            f"{report.path}: prose: {len(report.judgements)} sentences: {summary} "
            f"(sentence table {table.name})"
        )
    return "\n".join(out) + "\n" if out else ""


def to_json(
    reports: Sequence[ProseReport], table: Table, strict: bool, ran: Sequence[str]
) -> dict[str, Any]:
    statuses = {0: "ok", 1: "fail", 2: "error"}
    return {
        "schema": SCHEMA,
        "exit": max((r.exit_code(strict) for r in reports), default=0),
        "table": table.name,
        "claims_run": list(ran),
        "files": [
            {
                "path": r.path,
                "kind": r.input.kind if r.input else None,
                "target": r.input.target if r.input else None,
                "status": statuses[r.exit_code(strict)],
                "exit": r.exit_code(strict),
                "counts": r.counts(),
                "notes": [{"line": n, "message": m} for n, m in (r.input.notes if r.input else [])],
                "sentences": [judgement_json(j) for j in r.judgements],
                "error": None
                if r.error is None
                else {"line": r.error.line, "message": r.error.message},
            }
            for r in reports
        ],
    }


def run_prose(args: argparse.Namespace) -> int:
    """The ``lint --prose`` handler (see the module docstring)."""
    try:
        table = load_table(getattr(args, "table", None) or "kvm_mmu_page")
    except SpecmodelError as exc:
        print(f"specmodel lint: error: {exc}", file=sys.stderr)
        return 2
    base = getattr(args, "base", None)
    if base is not None:
        try:
            from specmodel.lint import decode
            from specmodel.prose.patch import read_bytes

            decode(read_bytes(base), base)
        except LintInputError as exc:
            print(error_line(exc), file=sys.stderr)
            return 2
    runner = ClaimRunner(default_cache_dir(), progress=terminal_progress)
    reports = lint_prose(args.files, base=base, table=table, runner=runner)
    strict = bool(getattr(args, "strict", False))
    for report in reports:
        if report.error is not None:
            print(error_line(report.error), file=sys.stderr)
    if args.format == "json":
        sys.stdout.write(json.dumps(to_json(reports, table, strict, runner.ran), indent=2) + "\n")
    else:
        sys.stdout.write(render_text(reports, table, trace=bool(getattr(args, "trace", False))))
    return max((r.exit_code(strict) for r in reports), default=0)
