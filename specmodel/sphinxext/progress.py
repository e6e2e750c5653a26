"""Progress of the checks on a terminal: one line per finished check, and a live status line
naming the checks still running. Nothing at all when stderr is not a terminal (a pipe, a
CI log), so output there stays exactly the build's own.

Colour follows the rules Sphinx uses: ``NO_COLOR`` (or ``NO_COLOUR``) turns it off,
``FORCE_COLOR`` (or ``FORCE_COLOUR``) on, otherwise a terminal whose ``TERM`` is not ``dumb``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from specmodel.sphinxext.pool import Listener
from specmodel.sphinxext.records import Job, Outcome

_COLOURS = {"held": "32", "diverged": "31;1", "error": "31;1", "skipped": "33"}
_WORD = {"held": "held", "diverged": "DIVERGED", "error": "ERROR", "skipped": "skipped"}


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def use_colour(stream: TextIO) -> bool:
    """Sphinx's rule (sphinx._cli.util.colour), applied to ``stream``."""
    env = os.environ
    if "NO_COLOR" in env or "NO_COLOUR" in env:
        return False
    if "FORCE_COLOR" in env or "FORCE_COLOUR" in env:
        return True
    return _isatty(stream) and env.get("TERM", "unknown").lower() not in ("dumb", "unknown")


def _relative(path: str) -> str:
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path


def _label(job: Job) -> str:
    what = job.what or job.target
    if job.kind == "invariant":
        what = f"invariant {what}"
    return f"{_relative(job.path)}:{job.line} {what}"


class TerminalProgress(Listener):
    """Prints to ``stream`` (a terminal) as the worker pool runs the checks. Checks start
    while documents are still being read, so the total grows: ``[done/started]``."""

    def __init__(self, stream: TextIO, workers: int) -> None:
        self.stream = stream
        self.workers = workers
        self.total = 0
        self.done = 0
        self.colour = use_colour(stream)
        self._live = False

    @classmethod
    def on_terminal(cls, workers: int) -> TerminalProgress | None:
        """A progress printer if stderr is a terminal, else None."""
        if not _isatty(sys.stderr):
            return None
        return cls(sys.stderr, workers)

    def started(self, job: Job) -> None:
        if not self.total:
            plural = "" if self.workers == 1 else "es"
            self._print(f"specmodel: checking in {self.workers} worker process{plural}")
        self.total += 1

    def _paint(self, text: str, status: str) -> str:
        if not self.colour:
            return text
        return f"\x1b[{_COLOURS.get(status, '0')}m{text}\x1b[0m"

    def _clear(self) -> None:
        if self._live:
            self.stream.write("\r\x1b[K")
            self._live = False

    def _print(self, line: str) -> None:
        self._clear()
        self.stream.write(line + "\n")
        self.stream.flush()

    def finished(self, job: Job, outcome: Outcome) -> None:
        self.done += 1
        word = self._paint(f"{_WORD.get(outcome.status, outcome.status):<8}", outcome.status)
        states = f"{outcome.states} states, " if outcome.states else ""
        self._print(
            f"specmodel: [{self.done}/{self.total}] {word} {_label(job)} "
            f"({states}{outcome.seconds:.1f} s)"
        )

    def tick(self, running: Sequence[tuple[Job, float]]) -> None:
        if not running:
            self._clear()
            self.stream.flush()
            return
        parts = ", ".join(f"{_label(job)} ({seconds:.0f} s)" for job, seconds in running)
        text = f"specmodel: {self.done}/{self.total} done; running {parts}"
        width = self._width()
        if len(text) > width - 1:
            text = text[: max(0, width - 4)] + "..."
        self.stream.write("\r\x1b[K" + text)
        self.stream.flush()
        self._live = True

    def _width(self) -> int:
        try:
            columns = os.get_terminal_size(self.stream.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
        return columns if columns >= 20 else 80

    def close(self, from_cache: int = 0) -> None:
        self._clear()
        if self.total:
            cached = f", {from_cache} from the cache" if from_cache else ""
            self._print(f"specmodel: {self.done} checks run{cached}")
        self.stream.flush()
