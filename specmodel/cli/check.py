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
* ``github``: GitHub Actions workflow commands (``::error file=...,line=...,title=...::msg``).
* ``sarif``: SARIF 2.1.0.

The writers live in :mod:`specmodel.reports` (one rule for paths: relative to the current
directory). With ``--output FILE`` the report goes to FILE (atomically, and always: a run
that fails on bad input still replaces an older report) and standard output gets only the
one-line summary. A source file that is not UTF-8 text is one ``path:line: error:`` verdict
(exit 2), not a traceback.

Exit status: 0 every check holds, 1 a divergence, 2 bad input (a directive the model cannot
run, or sources Sphinx cannot build) or usage.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from specmodel import reports
from specmodel.cli import argtype
from specmodel.sphinxext.config import VALUES
from specmodel.sphinxext.records import Verdict

SCHEMA = "specmodel-check/1"
#: Folders Sphinx never reads sources from (build output, hidden folders, virtualenvs).
_SKIP_DIRS = frozenset({"_build", "node_modules", "__pycache__"})


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
    p.add_argument(
        "--format",
        choices=reports.FORMATS,
        default="text",
        help="text (default), json (specmodel-check/1), junit, github (workflow commands) "
        "or sarif (SARIF 2.1.0)",
    )
    p.add_argument(
        "--output",
        metavar="FILE",
        help="write the report here (atomically) and print only the summary line",
    )
    p.add_argument(
        "--conf-dir",
        metavar="DIR",
        help="folder of the project's conf.py (default: PATH itself, else the "
        "nearest parent folder with a conf.py)",
    )
    p.add_argument(
        "--max-states",
        type=argtype("specmodel_max_states", VALUES["specmodel_max_states"]),
        metavar="N",
        help="state budget of each check (overrides specmodel_max_states; 'none': no limit)",
    )
    p.add_argument(
        "--time-limit",
        type=argtype("specmodel_time_limit", VALUES["specmodel_time_limit"]),
        metavar="S",
        help="seconds each check may take (overrides specmodel_time_limit; 'none': no limit)",
    )
    p.add_argument(
        "--kernel",
        type=argtype("specmodel_kernel", VALUES["specmodel_kernel"]),
        metavar="VERSION",
        help="kernel version spec:model coverage requires (overrides specmodel_kernel)",
    )
    p.add_argument(
        "--fresh",
        action="store_true",
        help="ignore the previous build's state and the result cache: run every check "
        "again (the results are still written to the cache)",
    )
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
    """``path`` as every report shows it (:func:`specmodel.reports.display_path`)."""
    return reports.display_path(path)


def render_text(verdicts: list[Verdict], seconds: float, *, color: bool = False) -> str:
    return reports.check_text(verdicts, seconds, color=color)


def render_json(paths: list[str], verdicts: list[Verdict], seconds: float) -> str:
    return reports.check_json(paths, verdicts, seconds, SCHEMA)


def render_junit(verdicts: list[Verdict], seconds: float) -> str:
    return reports.check_junit(verdicts, seconds)


def render(fmt: str, paths: list[str], verdicts: list[Verdict], seconds: float) -> str:
    """The report in ``fmt`` (uncoloured; the caller colours text on a terminal)."""
    if fmt == "json":
        return render_json(paths, verdicts, seconds)
    if fmt == "junit":
        return render_junit(verdicts, seconds)
    summary = reports.check_summary(verdicts, seconds)
    if fmt == "github":
        return reports.github(reports.check_results(verdicts), summary)
    if fmt == "sarif":
        from specmodel import __version__

        status = _status(verdicts)
        return reports.sarif(
            reports.check_results(verdicts),
            version=__version__,
            exit_code=status,
            tool="specmodel check",
        )
    return render_text(verdicts, seconds)


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


def _sources(path: Path) -> Iterator[Path]:
    """The .rst files Sphinx would read under ``path`` (or ``path`` itself), sorted."""
    if path.is_file():
        yield path
        return
    for folder, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith("."))
        for name in sorted(files):
            if name.endswith(".rst"):
                yield Path(folder) / name


def undecodable(path: Path) -> list[Verdict]:
    """An error verdict at the first bad byte of each source that is not UTF-8 text.

    Sphinx reads sources as UTF-8 and dies with a UnicodeDecodeError (no file, no line);
    checking first gives one located error per file instead.
    """
    from specmodel.errors import LintInputError
    from specmodel.lint import decode

    found = []
    for source in _sources(path):
        try:
            decode(source.read_bytes(), str(source))
        except LintInputError as exc:
            found.append(
                Verdict(
                    path=str(source),
                    line=exc.line or 1,
                    kind="markup",
                    target=source.name,
                    status="error",
                    message=f"{exc.message}; Sphinx reads sources as UTF-8",
                )
            )
        except OSError as exc:
            found.append(
                Verdict(
                    path=str(source),
                    line=1,
                    kind="markup",
                    target=source.name,
                    status="error",
                    message=f"expected a readable file; {exc.strerror or type(exc).__name__}",
                )
            )
    return found


def _status(verdicts: list[Verdict]) -> int:
    if any(v.status == "error" for v in verdicts):
        return 2
    return 1 if any(v.failed for v in verdicts) else 0


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    given = {
        "specmodel_max_states": args.max_states,
        "specmodel_time_limit": args.time_limit,
        "specmodel_kernel": args.kernel,
    }
    return {name: value.value for name, value in given.items() if value is not None}


def run_check(args: argparse.Namespace) -> int:
    from specmodel.sphinxext.engine import CheckRun, EngineError, check_sources, common_folder

    start = time.perf_counter()
    runs: list[CheckRun] = []
    verdicts: list[Verdict] = []
    progress = sys.stderr.isatty()
    for given in args.paths:
        if not Path(given).exists():
            print(
                f"{given}: error: expected a source folder or an .rst file; found nothing",
                file=sys.stderr,
            )
            return 2
    bad = [verdict for given in args.paths for verdict in undecodable(Path(given))]
    verdicts.extend(bad)
    # the paths are one set of documents, built together (coverage spans them all)
    paths = list(dict.fromkeys(args.paths))
    conf = Path(args.conf_dir) if args.conf_dir else _find_conf(common_folder(paths))
    if progress and not bad:
        print(f"specmodel check: {' '.join(paths)} ...", file=sys.stderr)
    try:
        overrides = _overrides(args)
        if args.fresh:
            overrides["specmodel_fresh"] = True
        run = (
            None
            if bad
            else check_sources(paths, confdir=conf, freshenv=args.fresh, confoverrides=overrides)
        )
    except EngineError as exc:
        print(f"specmodel check: error: {reports.terminal_safe(str(exc))}", file=sys.stderr)
        return 2
    except UnicodeDecodeError as exc:  # a source the scan above did not see
        print(f"specmodel check: error: not UTF-8 text: {exc}", file=sys.stderr)
        return 2
    if run is not None:
        runs.append(run)
        verdicts.extend(run.verdicts)
    seconds = time.perf_counter() - start
    status = _status(verdicts)
    report = render(args.format, list(args.paths), verdicts, seconds)
    if args.output:
        try:
            write_atomically(args.output, report)
        except OSError as exc:
            print(f"specmodel check: error: cannot write {args.output}: {exc}", file=sys.stderr)
            return 2
        color = reports.color_enabled(sys.stdout)
        line = reports.check_summary(verdicts, seconds)
        sys.stdout.write(reports.paint(line, "red" if status else "green", color) + "\n")
    elif args.format == "text":
        sys.stdout.write(render_text(verdicts, seconds, color=reports.color_enabled(sys.stdout)))
    else:
        sys.stdout.write(report)
    return status
