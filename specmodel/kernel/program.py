"""How a thread program steps: helpers shared by the zapper and vCPU programs.

A program is a function ``step(state, tid, cfg) -> list[Successor]``; an empty list means
the thread cannot run now (blocked or finished). Each successor carries the label the
trace shows: the kernel function and what it did.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from specmodel.errors import UseAfterFree
from specmodel.kernel.config import Config
from specmodel.kernel.locks import LockStep, mmu_lock, mmu_lock_step, slots_lock, slots_lock_step
from specmodel.kernel.state import PoisonedPointer, State, Work

#: pc of a thread that crashed the host (a use-after-free): it never runs again.
PC_CRASHED = -1


class Successor(NamedTuple):
    label: str
    state: State


Program = Callable[[State, int, Config], list[Successor]]


class Locals:
    """The named positions of a thread program's locals tuple."""

    def __init__(self, *names: str) -> None:
        self.index = {name: i for i, name in enumerate(names)}

    def set(self, w: Work, tid: int, **changes: Any) -> None:
        """Store ``changes`` into thread ``tid``'s locals."""
        values = list(w.threads[tid])
        for name, value in changes.items():
            values[self.index[name]] = value
        w.threads[tid] = tuple(values)

    def goto(self, tid: int, **changes: Any) -> Callable[[Work], None]:
        """A step body that only stores ``changes``."""
        return lambda w: self.set(w, tid, **changes)


def run(state: State, tid: int, label: str, body: Callable[[Work], str | None]) -> Successor:
    """Apply ``body`` to a working copy; it may return extra text for the label. A
    use-after-free or a poisoned-pointer dereference inside ``body`` ends the thread (the
    host has oopsed or is corrupt) with the hazard recorded."""
    w = Work(state, tid)
    try:
        extra = body(w)
    except UseAfterFree as exc:
        t = w.threads[tid]
        w.threads[tid] = (PC_CRASHED, *t[1:])
        kind = (
            "GENERAL PROTECTION FAULT (host oops)"
            if isinstance(exc, PoisonedPointer)
            else "USE-AFTER-FREE"
        )
        return Successor(f"{label}: {_notes(w)}{kind} ({exc})", w.freeze())
    return Successor(f"{label}{': ' + extra if extra else ''}{_notes(w, '; ')}", w.freeze())


def _notes(w: Work, lead: str = "") -> str:
    if not w.notes:
        return ""
    text = "; ".join(w.notes)
    return f"{lead}{text}" if lead else f"{text}; "


def lock_mmu(
    state: State,
    tid: int,
    write: bool,
    then: Callable[[Work], str | None],
    what: str = "",
    *,
    section: bool = False,
) -> list[Successor]:
    """A step that takes ``mmu_lock`` and runs ``then`` holding it, or starts waiting.

    ``then`` is the rest of the step: usually just the next pc. With ``section`` it is a
    whole critical section that ends by releasing the lock, and the label says so. Running
    the section in the step that takes the lock loses no interleaving (an acquire moves
    right, a release left: Lipton), and saves the states in which a thread holds the lock
    but has not yet done anything with it.
    """
    step = mmu_lock_step(state.vm, tid, write)
    if step is LockStep.BLOCKED:
        return []
    kind = "write" if write else "read"
    lock = f"{kind}_lock(&kvm->mmu_lock)"

    def body(w: Work) -> str | None:
        if not mmu_lock(w, tid, write, step):
            return f"{lock}: waits" if section else "waits"
        text = then(w)
        if not section:
            return text
        # what the section's kernel functions did belongs before the release
        inner = "; ".join([t for t in (text,) if t] + w.notes)
        w.notes.clear()
        return f"{lock}; {inner}; {kind}_unlock(&kvm->mmu_lock)"

    label = what if section else (f"{what}: {lock}" if what else lock)
    return [run(state, tid, label, body)]


def lock_slots(state: State, tid: int, then: Callable[[Work], None]) -> list[Successor]:
    step = slots_lock_step(state.vm, tid)
    if step is LockStep.BLOCKED:
        return []

    def body(w: Work) -> str | None:
        if slots_lock(w, tid):
            then(w)
            return None
        return "waits"

    return [run(state, tid, "mutex_lock(&kvm->slots_lock)", body)]
