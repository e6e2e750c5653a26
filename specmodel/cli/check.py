"""``specmodel check``: every spec directive of the .rst files under PATH, without HTML.

Reports (``--format``):

* ``text``: one line per failing verdict, ``path:line: status: kind target: message``, then
  a summary line (checked, held, diverged, errors, states explored, seconds).
* ``json``: ``{"schema": "specmodel-check/1", "paths": [...], "summary": {...},
  "verdicts": [{"path", "line", "kind", "target", "status", "message", "states",
  "seconds", "docname", "expect"}, ...]}``. ``status`` is one of held, diverged, error,
  skipped; ``expect`` is holds or violated. New keys may be added; existing ones keep
  their meaning while the schema name stays ``specmodel-check/1``.
* ``junit``: one ``<testcase>`` per verdict (``classname`` the source path, ``name`` the
  kind, target and line; ``file`` and ``line`` attributes), ``<failure>`` for a divergence,
  ``<error>`` for bad input, ``<skipped>`` for skipped exploration.

Exit status: 0 every check holds, 1 a divergence, 2 bad input (a directive the model cannot
run, or sources Sphinx cannot build) or usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from specmodel.sphinxext.engine import (
    CheckRun,
    EngineError,
    check_sources,
    common_folder,
    summarize,
)
from specmodel.sphinxext.records import Verdict

SCHEMA = "specmodel-check/1"


def add_check_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "check",
        help="run every spec directive under PATH (no HTML)",
        description="Run every spec directive in the .rst files under each PATH (default "
        "docs/) with the same coverage and divergence rules as the Sphinx extension, "
        "without rendering HTML. Exit 0: all hold; 1: a divergence; 2: bad input or usage.",
    )
    p.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        default=["docs"],
        help="a source folder or one .rst file (default: docs)",
    )
    p.add_argument("--format", choices=("text", "json", "junit"), default="text")
    p.add_argument(
        "--output",
        metavar="FILE",
        help="write the report here (atomically) instead of standard output",
    )
    p.add_argument(
        "--conf-dir",
        metavar="DIR",
        help="folder of the project's conf.py (default: PATH itself, else the "
        "nearest parent folder with a conf.py)",
    )
    p.add_argument("--fresh", action="store_true", help="ignore the previous build's state")
    p.set_defaults(handler=run_check)


def _find_conf(path: Path) -> Path | None:
    folder = path if path.is_dir() else path.parent
    for candidate in (folder, *folder.parents):
        if (candidate / "conf.py").is_file():
            return candidate
        if (candidate / ".git").exists():
            break
    return None


def _relative(path: str) -> str:
    """``path`` relative to the working directory when it lies below it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return path


def _line(v: Verdict) -> str:
    return f"{_relative(v.path)}:{v.line}: {v.status}: {v.message}"


def render_text(verdicts: list[Verdict], seconds: float) -> str:
    lines = [_line(v) for v in verdicts if v.failed]
    s = summarize(verdicts)
    lines.append(
        f"specmodel check: {s['checked']} checked, {s['held']} held, {s['diverged']} "
        f"diverged, {s['errors']} errors, {s['skipped']} skipped; {int(s['states'])} states "
        f"explored; {seconds:.2f} s"
    )
    return "\n".join(lines) + "\n"


def render_json(paths: list[str], verdicts: list[Verdict], seconds: float) -> str:
    summary: dict[str, Any] = dict(summarize(verdicts))
    summary["wall_seconds"] = round(seconds, 3)
    doc = {
        "schema": SCHEMA,
        "paths": paths,
        "summary": summary,
        "verdicts": [v.to_json() for v in verdicts],
    }
    return json.dumps(doc, indent=2) + "\n"


def render_junit(verdicts: list[Verdict], seconds: float) -> str:
    suites = ET.Element("testsuites", name="specmodel check")
    by_path: dict[str, list[Verdict]] = {}
    for v in verdicts:
        by_path.setdefault(v.path, []).append(v)
    total = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for path, group in by_path.items():
        suite = ET.SubElement(suites, "testsuite", name=path)
        counts = {"tests": len(group), "failures": 0, "errors": 0, "skipped": 0}
        for v in group:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=path,
                name=f"{v.kind} {v.target} (line {v.line})",
                file=path,
                line=str(v.line),
                time=f"{v.seconds:.3f}",
            )
            if v.status == "diverged":
                counts["failures"] += 1
                el = ET.SubElement(
                    case, "failure", message=f"{v.location}: {v.message}"[:500], type="divergence"
                )
                el.text = f"{v.location}: {v.message}"
            elif v.status == "error":
                counts["errors"] += 1
                el = ET.SubElement(
                    case, "error", message=f"{v.location}: {v.message}"[:500], type="bad-input"
                )
                el.text = f"{v.location}: {v.message}"
            elif v.status == "skipped":
                counts["skipped"] += 1
                ET.SubElement(case, "skipped", message=v.message or "exploration skipped")
        for key, value in counts.items():
            suite.set(key, str(value))
            total[key] += value
    for key, value in total.items():
        suites.set(key, str(value))
    suites.set("time", f"{seconds:.3f}")
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def write_atomically(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename, so a crash never
    leaves a truncated report."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or Path("."))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run_check(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    runs: list[CheckRun] = []
    verdicts: list[Verdict] = []
    progress = sys.stderr.isatty()
    for given in args.paths:
        if not Path(given).exists():
            print(
                f"{given}:0: error: expected a source folder or an .rst file; found nothing",
                file=sys.stderr,
            )
            return 2
    # the paths are one set of documents, built together (coverage spans them all)
    paths = list(dict.fromkeys(args.paths))
    conf = Path(args.conf_dir) if args.conf_dir else _find_conf(common_folder(paths))
    if progress:
        print(f"specmodel check: {' '.join(paths)} ...", file=sys.stderr)
    try:
        run = check_sources(paths, confdir=conf, freshenv=args.fresh)
    except EngineError as exc:
        print(f"specmodel check: error: {exc}", file=sys.stderr)
        return 2
    runs.append(run)
    verdicts.extend(run.verdicts)
    seconds = time.perf_counter() - start
    if args.format == "json":
        report = render_json(list(args.paths), verdicts, seconds)
    elif args.format == "junit":
        report = render_junit(verdicts, seconds)
    else:
        report = render_text(verdicts, seconds)
    if args.output:
        try:
            write_atomically(args.output, report)
        except OSError as exc:
            print(f"specmodel check: error: cannot write {args.output}: {exc}", file=sys.stderr)
            return 2
        if args.format != "text":
            sys.stdout.write(render_text(verdicts, seconds))
    else:
        sys.stdout.write(report)
    if any(v.status == "error" for v in verdicts):
        return 2
    return 1 if any(v.failed for v in verdicts) else 0
