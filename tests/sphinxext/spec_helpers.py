"""Shared helpers for the Sphinx extension tests."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sphinx.util.console import strip_escape_sequences

from specmodel.sphinxext.domain import spec_domain
from specmodel.sphinxext.records import Verdict

_START = re.compile(r"^\S.*?(:\d+)?: (ERROR|WARNING|CRITICAL): ")


def messages(app: Any) -> list[str]:
    """Every warning/error the build logged, each as one (possibly multi-line) string."""
    records: list[str] = []
    for line in strip_escape_sequences(app.warning.getvalue()).splitlines():
        if _START.match(line) or not records:
            records.append(line)
        else:
            records[-1] += "\n" + line
    return records


def spec_errors(app: Any) -> list[str]:
    """The errors specmodel reported (tagged ``[spec.divergence]`` or ``[spec.error]``)."""
    return [m for m in messages(app) if m.endswith(("[spec.divergence]", "[spec.error]"))]


def line_of(path: Path, text: str, nth: int = 1) -> int:
    """1-based line of the ``nth`` line of ``path`` containing ``text``."""
    seen = 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if text in line:
            seen += 1
            if seen == nth:
                return number
    raise AssertionError(f"{text!r} not found {nth} time(s) in {path}")


def at(app: Any, filename: str, text: str, nth: int = 1) -> str:
    """``<srcdir>/<filename>:<line of text>: ERROR: ``, as Sphinx prints a located error."""
    path = Path(app.srcdir) / filename
    return f"{path}:{line_of(path, text, nth)}: ERROR: "


def verdicts(app: Any) -> list[Verdict]:
    return spec_domain(app.env).stored_verdicts()


def fresh_runs(app: Any) -> list[Verdict]:
    return spec_domain(app.env).fresh_runs()
