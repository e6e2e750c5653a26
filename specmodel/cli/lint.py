"""The ``specmodel lint FILE.rst ...`` subcommand and its output formats (:mod:`specmodel.lint`).

Text output (``--format text``, the default): one line per finding,
``path:line: <kind>: <message>`` (kinds: ``undocumented``, ``renamed``, ``unknown-field``,
``duplicate``), then one summary line per file, ``path: no drift; ...``,
``path: drift (...); ...`` or ``path: not checked: <what is wrong>``; each summary names the
kernel version compared with (``against v6.16``). Input errors are reported on stderr as
``path:line: error: <message>``, or ``path: error: <message>`` when they concern the whole
file (missing, a directory, empty, no field list).

JSON output (``--format json``), schema ``specmodel-lint/1``::

    {"schema": "specmodel-lint/1",
     "kernel": str,                          # the version compared with ("v6.16")
     "exit": 0 | 1 | 2,                      # the largest per-file status
     "files": [{
        "path": str,                          # as given on the command line
        "status": "clean" | "drift" | "error",
        "exit": 0 | 1 | 2,
        "header_line": int | null,            # line of the field-list header
        "fields_documented": [str, ...],      # struct fields and role bits (current names) with
                                              # an entry, in field_specs() order
        "entries": [{"line": int, "names": [str, ...]}, ...],
        "findings": [{"line": int, "kind": str, "field": str, "message": str,
                      "rename": {"old": str, "new": str, "version": str, "note": str} | null}],
        "error": {"line": int | null, "message": str} | null}]}

Lines are 1-based. Keys are only ever added within a schema version.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from specmodel.errors import UnknownNameError
from specmodel.lint import KINDS, FileReport, default_catalog, error_line, exit_code, lint_files
from specmodel.reports import Result, github, sarif

SCHEMA = "specmodel-lint/1"


def add_lint_parser(subparsers: argparse._SubParsersAction[Any]) -> argparse.ArgumentParser:
    """Register ``lint`` on a subparsers object; the handler is ``args.handler(args)``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "lint",
        help="check an unmodified kernel mmu.rst against the field models (read-only)",
        description=(
            "Compare the field list of a kernel mmu.rst ('Shadow pages contain the following "
            "information:') with struct kvm_mmu_page and its role bits. Never executes, "
            "evaluates or includes anything it reads. Exit 0: no drift, 1: drift, "
            "2: unreadable or malformed input (the largest over all files)."
        ),
    )
    parser.add_argument("files", nargs="+", metavar="FILE.rst", help="mmu.rst files to check")
    parser.add_argument(
        "--kernel",
        metavar="VERSION",
        help="compare with the struct of this kernel version (default: the newest the model "
        "knows); an unknown version lists the known ones",
    )
    parser.add_argument(
        "--format",
        choices=("text", "json", "github", "sarif"),
        default="text",
        help="text: 'path:line: kind: message' lines and a summary per file (default); "
        "json: the specmodel-lint/1 document; github: GitHub Actions workflow commands; "
        "sarif: SARIF 2.1.0",
    )
    add_prose_arguments(parser)
    parser.set_defaults(handler=run_lint)
    return parser


def add_prose_arguments(parser: argparse.ArgumentParser) -> None:
    """``--prose``, ``--base``, ``--strict``, ``--trace``: see :mod:`specmodel.prose.report`."""
    group = parser.add_argument_group("prose (sentence by sentence, specmodel.prose)")
    group.add_argument(
        "--prose",
        action="store_true",
        help="judge each sentence of the field entries (an mmu.rst, a patch, an "
        "mbox or a reply quoting a patch) against the claims instead of the "
        "field drift; exit 1 on a refuted sentence",
    )
    group.add_argument(
        "--base",
        metavar="FILE.rst",
        help="with --prose: apply the patch to this mmu.rst and judge the result",
    )
    group.add_argument(
        "--strict",
        action="store_true",
        help="with --prose: exit 1 also on ambiguous and unjudged sentences",
    )
    group.add_argument(
        "--trace",
        action="store_true",
        help="with --prose: print the counterexample under each refuted sentence",
    )


def run_lint(args: argparse.Namespace) -> int:
    """Lint ``args.files``: report on stdout, input errors also on stderr; return the status."""
    if getattr(args, "prose", False):
        from specmodel.prose.report import run_prose

        return run_prose(args)
    try:
        catalog = default_catalog(args.kernel)
    except UnknownNameError as exc:
        print(f"specmodel lint: error: --kernel: {exc}", file=sys.stderr)
        return 2
    reports = lint_files(args.files, catalog)
    for report in reports:
        if report.error is not None:
            print(error_line(report.error), file=sys.stderr)
    if args.format == "json":
        sys.stdout.write(render_json(reports))
    elif args.format == "github":
        sys.stdout.write(render_github(reports))
    elif args.format == "sarif":
        sys.stdout.write(render_sarif(reports))
    else:
        sys.stdout.write(render_text(reports))
    return exit_code(reports)


def results(reports: Iterable[FileReport]) -> list[Result]:
    """Findings and input errors as :class:`specmodel.reports.Result` records."""
    found: list[Result] = []
    for report in reports:
        if report.error is not None:
            found.append(
                Result(
                    report.path,
                    report.error.line,
                    "error",
                    "lint-input-error",
                    "not checked",
                    report.error.message,
                )
            )
        for f in report.findings:
            title = f"{f.kind} {f.field}" + (f" ({report.kernel})" if report.kernel else "")
            found.append(Result(report.path, f.line, "error", f"lint-{f.kind}", title, f.message))
    return found


def render_github(reports: Sequence[FileReport]) -> str:
    """GitHub Actions workflow commands, one per finding, then a summary line."""
    drift = sum(1 for r in reports if r.exit_code == 1)
    errors = sum(1 for r in reports if r.exit_code == 2)
    summary = f"specmodel lint: {len(reports)} file(s), {drift} with drift, {errors} not checked"
    return github(results(reports), summary)


def render_sarif(reports: Sequence[FileReport]) -> str:
    """A SARIF 2.1.0 log of the findings."""
    from specmodel import __version__

    return sarif(
        results(reports), version=__version__, exit_code=exit_code(reports), tool="specmodel lint"
    )


def render_text(reports: Iterable[FileReport]) -> str:
    """One ``path:line: kind: message`` line per finding, then one summary line per file.

    Input errors appear only in the summary; print :func:`error_line` for them separately.
    """
    out: list[str] = []
    for report in reports:
        if report.error is not None:  # the located error itself goes to stderr (error_line)
            if report.error.line is None:  # the whole file: say what is wrong with it
                out.append(f"{report.path}: not checked: {report.error.message}")
            else:
                out.append(
                    f"{report.path}: not checked: malformed input at line {report.error.line}"
                )
            continue
        out.extend(f"{report.path}:{f.line}: {f.kind}: {f.message}" for f in report.findings)
        counts = [sum(1 for f in report.findings if f.kind == kind) for kind in KINDS]
        summary = ", ".join(f"{n} {kind}" for n, kind in zip(counts, KINDS, strict=True) if n)
        state = f"drift ({summary})" if report.findings else "no drift"
        if report.kernel:
            state += f" against {report.kernel}"
        out.append(
            f"{report.path}: {state}; {len(report.fields_documented)} of {report.fields_total} "
            f"fields and role bits documented in {len(report.entries)} entries"
        )
    return "\n".join(out) + "\n" if out else ""


def to_json(reports: Sequence[FileReport]) -> dict[str, object]:
    """The ``specmodel-lint/1`` document (see the module docstring)."""
    statuses = {0: "clean", 1: "drift", 2: "error"}
    kernels = sorted({r.kernel for r in reports if r.kernel})
    return {
        "schema": SCHEMA,
        "kernel": kernels[0] if len(kernels) == 1 else None,
        "exit": exit_code(reports),
        "files": [
            {
                "path": r.path,
                "status": statuses[r.exit_code],
                "exit": r.exit_code,
                "header_line": r.header_line,
                "fields_documented": list(r.fields_documented),
                "entries": [{"line": e.line, "names": list(e.names)} for e in r.entries],
                "findings": [
                    {
                        "line": f.line,
                        "kind": f.kind,
                        "field": f.field,
                        "message": f.message,
                        "rename": None if f.rename is None else vars(f.rename).copy(),
                    }
                    for f in r.findings
                ],
                "error": None
                if r.error is None
                else {"line": r.error.line, "message": r.error.message},
            }
            for r in reports
        ],
    }


def render_json(reports: Sequence[FileReport]) -> str:
    return json.dumps(to_json(reports), indent=2) + "\n"
