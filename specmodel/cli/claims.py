"""``specmodel claims``: every claim in checks/ with the mutants it is verified to catch."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from specmodel.claims import Claim, all_claims
from specmodel.errors import SpecmodelError
from specmodel.prose.coverage import claims_section

_CLAIM_DIRECTIVE = re.compile(r"^\s*\.\.\s+spec:claim::\s*(\S+)")


def add_claims_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "claims",
        help="list every claim, the mutants it catches and where the docs cite it",
        description="List every claim in checks/: id, statement, scenarios, the mutants it "
        "catches (each one run now, not taken from the declaration) and the places under "
        "--docs that cite it with spec:claim. Exit 0 (1 if a declared mutant is not caught).",
    )
    p.add_argument(
        "--docs",
        metavar="DIR",
        default="docs",
        help="folder scanned (as text, nothing run) for spec:claim (default docs)",
    )
    p.add_argument(
        "--no-verify", action="store_true", help="do not run the mutants; list the declared ones"
    )
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(handler=run_claims)


_DIRECTIVE = re.compile(r"^\s*\.\.\s+[\w:-]+::")
_CODE_DIRECTIVE = re.compile(r"^\s*\.\.\s+(code-block|code|sourcecode|literalinclude)::")
# explicit markup that is not a comment: a directive, a footnote or citation, a hyperlink
# target, a substitution definition; anything else after ".." is a comment
_NOT_COMMENT = re.compile(r"^\s*\.\.\s+(\S+::|\[[^\]]+\]|_|\|)")
_EXPLICIT = re.compile(r"^\s*\.\.(\s|$)")


def _opens_block(line: str) -> bool:
    """Whether the indented lines after ``line`` are not read as markup: a literal block
    (a paragraph ending in ``::``), a code directive, or an rst comment."""
    text = line.rstrip()
    if _CODE_DIRECTIVE.match(line):
        return True
    if _EXPLICIT.match(line):
        return not _NOT_COMMENT.match(line)
    return text.endswith("::")


def _outside_literal_blocks(lines: list[str]) -> list[tuple[int, str]]:
    """The lines (numbered from 1) outside literal blocks and comments: the lines after a
    paragraph that ends with ``::``, in a code directive, or in an rst comment (``..``
    followed by anything that is not a directive, target or substitution). Markup shown
    there as an example, or commented out, is not a citation."""
    kept: list[tuple[int, str]] = []
    opener_indent: int | None = None
    for n, line in enumerate(lines, 1):
        indent = len(line) - len(line.lstrip())
        if opener_indent is not None:
            if not line.strip() or indent > opener_indent:
                continue
            opener_indent = None
        if _EXPLICIT.match(line) and not _NOT_COMMENT.match(line):
            opener_indent = indent  # the comment itself is not a citation either
            continue
        kept.append((n, line))
        if _opens_block(line):
            opener_indent = indent
    return kept


def citations(docs: Path) -> dict[str, list[str]]:
    """Where each claim id appears in a ``spec:claim`` directive under ``docs`` (read as
    text, nothing run; literal blocks and comments are skipped)."""
    found: dict[str, list[str]] = {}
    if not docs.is_dir():
        return found
    for path in sorted(docs.rglob("*.rst")):
        if "_build" in path.parts:
            continue
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        for n, line in _outside_literal_blocks(lines):
            m = _CLAIM_DIRECTIVE.match(line)
            if m:
                found.setdefault(m.group(1), []).append(f"{path}:{n}")
    return found


def _row(c: Claim, verify: bool, cited: list[str]) -> dict[str, Any]:
    if c.kernel_refutes:
        result = c.run()
        caught = []
        status = "refuted by the kernel model" if not result.holds else "NOT REFUTED"
    else:
        caught = [m for m in c.mutants if not c.run(mutant=m).holds] if verify else list(c.mutants)
        status = "ok" if set(caught) == set(c.mutants) else "MISSES MUTANTS"
    return {
        "id": c.id,
        "statement": c.statement,
        "scenarios": list(c.scenarios),
        "mutants": list(c.mutants),
        "caught": caught,
        "status": status,
        "kernel_refutes": c.kernel_refutes,
        "cited": cited,
    }


def run_claims(args: argparse.Namespace) -> int:
    try:
        claims = all_claims()
    except SpecmodelError as exc:
        print(f"specmodel claims: error: {exc}", file=sys.stderr)
        return 2
    cited = citations(Path(args.docs))
    rows = []
    for c in claims:
        if sys.stderr.isatty():
            print(f"specmodel claims: checking {c.id} ...", file=sys.stderr)
        rows.append(_row(c, not args.no_verify, cited.get(c.id, [])))
    prose_lines, prose, prose_ok = claims_section([c.id for c in claims])
    if args.format == "json":
        print(
            json.dumps({"schema": "specmodel-claims/1", "claims": rows, "prose": prose}, indent=2)
        )
    else:
        for r in rows:
            print(r["id"])
            print(f"    {r['statement']}")
            print(f"    scenarios: {', '.join(r['scenarios'])}")
            if r["kernel_refutes"]:
                print(
                    f"    {r['status']} (a historical wording; docs cite it with :expect: violated)"
                )
            else:
                verified = "verified" if not args.no_verify else "declared, not run"
                print(
                    f"    mutants caught ({verified}): {', '.join(r['caught']) or 'none'}"
                    + ("" if r["status"] == "ok" else f"  <-- {r['status']}")
                )
            print(f"    cited in: {', '.join(r['cited']) or '(not cited in ' + args.docs + ')'}")
        print("\n".join(prose_lines))
    bad = [r for r in rows if r["status"] not in ("ok", "refuted by the kernel model")]
    return 1 if bad or not prose_ok else 0
