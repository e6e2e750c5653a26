"""Draw a counterexample trace as a self-contained SVG timeline.

One lane per thread (zapper, each vCPU), one column per step. Lock holds are solid bars, lock
waits hatched bars, a vCPU's mode a thin strip under its lane, and each step a numbered dot on
the lane of the thread that took it (hover for the kernel operation). No external program,
font, stylesheet or network access: the SVG can be inlined in HTML as it is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from xml.sax.saxutils import escape, quoteattr

LABEL_W = 96
STEP_W = 30
HEADER_H = 22
LANE_H = 50
LEGEND_H = 40
FONT = "font-family:sans-serif"

LOCK_COLOURS = {
    "slots_lock": "#1f77b4",
    "mmu_lock(write)": "#d62728",
    "mmu_lock(read)": "#ff9f1c",
}
MODE_COLOURS = {
    "IN_GUEST_MODE": "#2ca02c",
    "OUTSIDE_GUEST_MODE": "#b0b0b0",
    "EXITING_GUEST_MODE": "#e6b800",
}
_SPARE = ("#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22")


class StepLike(Protocol):
    """What the timeline reads from a step (``specmodel.explorer.trace.Step`` has it)."""

    @property
    def index(self) -> int: ...
    @property
    def thread(self) -> str: ...
    @property
    def op(self) -> str: ...
    @property
    def holds(self) -> Sequence[str]: ...
    @property
    def waits(self) -> str | None: ...
    @property
    def mode(self) -> object: ...


class TraceLike(Protocol):
    """What the timeline reads from a trace (``specmodel.explorer.trace.Trace`` has it)."""

    @property
    def threads(self) -> Sequence[str]: ...
    @property
    def steps(self) -> Sequence[StepLike]: ...


@dataclass(frozen=True)
class _State:
    holds: tuple[str, ...] = ()
    waits: str | None = None
    mode: str | None = None


def _mode_name(mode: object) -> str | None:
    if mode is None:
        return None
    return str(getattr(mode, "value", mode))


def lock_family(lock: str) -> str:
    """``mmu_lock(write)`` and ``mmu_lock(read)`` share one row of a lane."""
    return lock.split("(", 1)[0]


def lock_colour(lock: str) -> str:
    if lock in LOCK_COLOURS:
        return LOCK_COLOURS[lock]
    digest = hashlib.sha256(lock.encode()).digest()
    return _SPARE[digest[0] % len(_SPARE)]


def thread_states(trace: TraceLike) -> dict[str, list[_State]]:
    """Each thread's holds, wait and mode after every step (carried over while it does not run)."""
    threads = list(trace.threads)
    for step in trace.steps:
        if step.thread not in threads:
            threads.append(step.thread)
    current = {t: _State() for t in threads}
    columns: dict[str, list[_State]] = {t: [] for t in threads}
    for step in trace.steps:
        mode = _mode_name(step.mode)
        previous = current[step.thread]
        current[step.thread] = _State(
            tuple(step.holds), step.waits, mode if mode is not None else previous.mode
        )
        for thread in threads:
            columns[thread].append(current[thread])
    return columns


def _runs(values: Sequence[str | None]) -> list[tuple[int, int, str]]:
    """Maximal runs ``(first, last, value)`` of equal non-None values."""
    runs: list[tuple[int, int, str]] = []
    for i, value in enumerate(values):
        if value is None:
            continue
        if runs and runs[-1][2] == value and runs[-1][1] == i - 1:
            runs[-1] = (runs[-1][0], i, value)
        else:
            runs.append((i, i, value))
    return runs


def render_svg(trace: TraceLike, *, title: str = "counterexample timeline") -> str:
    """The SVG document (no XML declaration, ready to inline in HTML)."""
    columns = thread_states(trace)
    threads = list(columns)
    steps = list(trace.steps)
    families = sorted(
        {lock_family(lock) for states in columns.values() for s in states for lock in s.holds}
        | {lock_family(s.waits) for states in columns.values() for s in states if s.waits},
    )
    row_h = max(6, min(10, (LANE_H - 20) // max(1, len(families))))
    legend = _legend_items(columns, hatch_id := f"spec-hatch-{_uid(steps)}")
    width = max(LABEL_W + STEP_W * max(1, len(steps)) + 10, sum(w for _, _, w in legend) + 12)
    height = HEADER_H + LANE_H * len(threads) + LEGEND_H
    hatch = hatch_id
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label={quoteattr(title)} '
        f'class="spec-timeline-svg" style="{FONT};font-size:11px">',
        f"<title>{escape(title)}</title>",
        f'<defs><pattern id="{hatch}" width="6" height="6" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff"/>'
        f'<line x1="0" y1="0" x2="0" y2="6" stroke="#555" stroke-width="3"/></pattern></defs>',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
    ]
    for i in range(len(steps)):
        x = LABEL_W + i * STEP_W
        out.append(
            f'<text x="{x + STEP_W / 2}" y="{HEADER_H - 8}" text-anchor="middle" '
            f'fill="#555">{i + 1}</text>'
        )
        out.append(
            f'<line x1="{x}" y1="{HEADER_H}" x2="{x}" y2="{HEADER_H + LANE_H * len(threads)}" '
            f'stroke="#eeeeee"/>'
        )
    for lane, thread in enumerate(threads):
        out.extend(_lane(lane, thread, columns[thread], steps, families, row_h, hatch))
    out.extend(_legend(HEADER_H + LANE_H * len(threads) + 14, legend))
    out.append("</svg>")
    return "\n".join(out)


def _lane(
    lane: int,
    thread: str,
    states: list[_State],
    steps: list[StepLike],
    families: list[str],
    row_h: int,
    hatch: str,
) -> list[str]:
    top = HEADER_H + lane * LANE_H
    out = [
        f'<rect x="0" y="{top}" width="{LABEL_W + STEP_W * len(steps) + 10}" height="{LANE_H}" '
        f'fill="{"#fafafa" if lane % 2 else "#ffffff"}"/>',
        f'<text x="6" y="{top + LANE_H / 2 + 4}" font-weight="bold" fill="#222">'
        f"{escape(thread)}</text>",
    ]
    for row, family in enumerate(families):
        y = top + 4 + row * (row_h + 1)
        held = [next((h for h in s.holds if lock_family(h) == family), None) for s in states]
        for first, last, lock in _runs(held):
            out.append(
                f'<rect x="{LABEL_W + first * STEP_W}" y="{y}" '
                f'width="{(last - first + 1) * STEP_W}" height="{row_h}" '
                f'fill="{lock_colour(lock)}"><title>{escape(thread)} holds {escape(lock)} '
                f"(steps {first + 1}-{last + 1})</title></rect>"
            )
        waiting = [s.waits if s.waits and lock_family(s.waits) == family else None for s in states]
        for first, last, lock in _runs(waiting):
            out.append(
                f'<rect x="{LABEL_W + first * STEP_W}" y="{y}" '
                f'width="{(last - first + 1) * STEP_W}" height="{row_h}" fill="url(#{hatch})" '
                f'stroke="{lock_colour(lock)}"><title>{escape(thread)} waits for '
                f"{escape(lock)} (steps {first + 1}-{last + 1})</title></rect>"
            )
    for first, last, mode in _runs([s.mode for s in states]):
        out.append(
            f'<rect x="{LABEL_W + first * STEP_W}" y="{top + LANE_H - 7}" '
            f'width="{(last - first + 1) * STEP_W}" height="5" '
            f'fill="{MODE_COLOURS.get(mode, "#6a3d9a")}"><title>{escape(thread)}: '
            f"{escape(mode)} (steps {first + 1}-{last + 1})</title></rect>"
        )
    for i, step in enumerate(steps):
        if step.thread != thread:
            continue
        cx = LABEL_W + i * STEP_W + STEP_W / 2
        cy = top + LANE_H - 16
        out.append(
            f"<g><title>{i + 1}. {escape(thread)}: {escape(step.op)}</title>"
            f'<circle cx="{cx}" cy="{cy}" r="8" fill="#333333"/>'
            f'<text x="{cx}" y="{cy + 3.5}" text-anchor="middle" fill="#ffffff" '
            f'font-size="9">{i + 1}</text></g>'
        )
    return out


def _uid(steps: Sequence[StepLike]) -> str:
    """Ids inside an inlined SVG must not clash with another timeline on the same page."""
    return hashlib.sha256(repr([(s.thread, s.op) for s in steps]).encode()).hexdigest()[:8]


def _legend_items(columns: dict[str, list[_State]], hatch: str) -> list[tuple[str, str, int]]:
    """``(fill, label, width)`` for each legend entry."""
    locks = sorted({lock for states in columns.values() for s in states for lock in s.holds})
    modes = sorted({s.mode for states in columns.values() for s in states if s.mode})
    items: list[tuple[str, str]] = [(lock_colour(lock), f"holds {lock}") for lock in locks]
    if any(s.waits for states in columns.values() for s in states):
        items.append((f"url(#{hatch})", "waits for a lock"))
    items.extend((MODE_COLOURS.get(m, "#6a3d9a"), m) for m in modes)
    return [(fill, label, 26 + _text_width(label)) for fill, label in items]


def _text_width(label: str) -> int:
    """Rough width in pixels of ``label`` at 11px sans-serif (capitals and ``_`` are wider)."""
    return sum(8 if ch.isupper() or ch in "_mw" else 6 for ch in label)


def _legend(y: int, items: list[tuple[str, str, int]]) -> list[str]:
    out: list[str] = []
    x = 6
    for fill, label, w in items:
        out.append(
            f'<rect x="{x}" y="{y}" width="14" height="10" fill="{fill}" stroke="#555" '
            f'stroke-width="0.5"/><text x="{x + 18}" y="{y + 9}" fill="#222">'
            f"{escape(label)}</text>"
        )
        x += w
    return out
