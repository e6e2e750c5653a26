"""Counterexample traces: numbered steps naming the thread and the kernel operation, and
the encoded schedule that replays them (``specmodel.replay``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    """One step of a trace."""

    #: 1-based position in the trace.
    index: int
    #: Thread that ran: ``zapper``, ``zapper0``, ``vcpu0``, ...
    thread: str
    #: Kernel operation and what it did.
    op: str
    #: Locks the thread holds after the step (``slots_lock``, ``mmu_lock(write)``, ...).
    holds: tuple[str, ...] = ()
    #: Lock the thread waits for after the step, if any.
    waits: str | None = None
    #: vCPU mode after the step (vCPU threads only).
    mode: str | None = None

    def render(self, width: int = 8) -> str:
        extra = []
        if self.holds:
            extra.append("holds " + ", ".join(self.holds))
        if self.waits:
            extra.append("waits for " + self.waits)
        if self.mode:
            extra.append(self.mode)
        tail = f"  [{'; '.join(extra)}]" if extra else ""
        return f"{self.index:>4}. {self.thread:<{width}} {self.op}{tail}"

    def __str__(self) -> str:
        return self.render()


@dataclass(frozen=True)
class Trace:
    """A path from the scenario's initial state."""

    steps: tuple[Step, ...]
    #: Encoded schedule: comma-separated thread indexes, ``t/j`` for a thread's j-th choice.
    schedule: str
    #: Lane names in order.
    threads: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.steps)

    def render(self) -> str:
        """The numbered steps, one a line (empty for a trace of no steps)."""
        width = max((len(t) for t in self.threads), default=6)
        return "\n".join(step.render(width) for step in self.steps)

    def __str__(self) -> str:
        """``str(trace)`` is the numbered trace, or a line saying the violation holds in the
        initial state already (a trace of no steps)."""
        return self.render() or "   (the initial state: no steps)"


def encode_schedule(choices: list[tuple[int, int]]) -> str:
    return ",".join(f"{t}/{j}" if j else str(t) for t, j in choices)


def decode_schedule(schedule: str) -> list[tuple[int, int]]:
    """Inverse of ``encode_schedule``; raises ValueError naming the bad element."""
    out: list[tuple[int, int]] = []
    if not schedule.strip():
        return out
    for n, item in enumerate(schedule.split(","), 1):
        thread, _, choice = item.strip().partition("/")
        try:
            out.append((int(thread), int(choice or 0)))
        except ValueError:
            raise ValueError(
                f"schedule element {n} must be 'thread' or 'thread/choice' (got {item!r})"
            ) from None
    return out
