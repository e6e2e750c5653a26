"""Memoised successors: a thread's step, remembered on exactly what it read.

Most of a thread's steps read and write nothing of the other threads: a vCPU's step is a
function of its thread id, its own locals, the VM and the pages, and so is most of the
zapper's (it reads the vCPUs' locals only to wait for their acknowledgement, and writes them
only to make requests or count waiters). Many states share those four while differing
elsewhere (another thread's progress), so a breadth-first search asks the same question
again and again: in ``fast_zap`` with 2 vCPUs and 16 pages, about 89% of vCPU steps repeat
an earlier one.

The memo runs a step for the first time on a copy of the state whose other threads' locals
are ``_Hidden`` objects. If the step completes without touching one (indexing, iterating,
comparing, hashing or testing it) and without storing into another thread's locals, its
successors depended on nothing outside the key (tid, own locals, VM, pages): the memo keeps
them and answers every later state with that key by rebuilding the successors around the
state's own other threads, which is what the program would return. If the step touched
another thread, the memo remembers that instead, and that step is computed afresh from the
real state each time it comes up. What is memoised is thus decided by what the code did,
not by a declaration someone could get wrong.

``VmState`` and ``Pages`` objects are shared between states (state.py interns them), so the
key holds their identities, and each entry keeps the objects alive so that an identity
cannot be reused by another object while the entry exists. Every program's step is
deterministic in its arguments (the kernel model's caches are value-for-value), which is
what makes a completed guarded run stand for every state with the same key.
"""

from __future__ import annotations

import sys
from typing import Any, NoReturn

from mypy_extensions import mypyc_attr

from specmodel import _compiled
from specmodel.kernel.config import Config
from specmodel.kernel.program import Program, Successor
from specmodel.kernel.state import Pages, State, VmState

__all__ = ["MEMO_BY_DEFAULT", "MEMO_ENTRIES", "MemoProgram", "memoised"]

#: Entries per thread program before the memo starts again (a cache: dropping it loses
#: speed, never an answer). About 400 bytes an entry at 2 vCPUs; past 2**16 entries the hit
#: rate gains little (measured on fast_zap and concurrent_zaps with 2 vCPUs).
MEMO_ENTRIES = 1 << 16

#: Whether searches memoise unless told (``explore(memo=None)``): in pure Python a hit costs
#: a fraction of a step; with the kernel model compiled by mypyc a step costs less than the
#: memo's bookkeeping (measured: fast_zap with 2 vCPUs and 16 pages 1.35x faster with the
#: memo in pure Python, 1.25x slower compiled), so the compiled build runs without it.
MEMO_BY_DEFAULT: bool = not _compiled()

#: A memo that has answered fewer than one call in three after this many calls is dropped
#: and the program called directly: a miss costs more than a plain step (the guarded run),
#: and a hit saves only part of one, so a low hit rate is a net loss.
PROBATION_CALLS = 8192
MIN_HIT_RATE = 1 / 3


@mypyc_attr(native_class=False)  # mypyc: a native class cannot subclass BaseException
class _Touched(BaseException):
    """A guarded step touched another thread's locals. A BaseException, so that no handler
    in a step (they catch the model's own errors) can swallow it."""


def _touched(*_: object) -> NoReturn:
    raise _Touched


@mypyc_attr(native_class=False)  # mypyc: its dunders are assigned, not defined
class _Hidden:
    """Stands for another thread's locals while a step runs for the memo."""

    __slots__ = ()

    __getitem__ = _touched
    __iter__ = _touched
    __len__ = _touched
    __bool__ = _touched
    __contains__ = _touched
    __eq__ = _touched
    __ne__ = _touched
    __lt__ = _touched
    __le__ = _touched
    __gt__ = _touched
    __ge__ = _touched
    __hash__ = _touched

    def __getattr__(self, name: str) -> Any:
        _touched()


#: (label, vm, pages, the thread's own new locals) per successor
_Delta = tuple[str, VmState, Pages, tuple[Any, ...]]
#: The memo's answer for a key: the deltas, or None where the step touched another thread.
_Entry = tuple[VmState, Pages, tuple[_Delta, ...] | None]


class MemoProgram:
    """``program`` with its successors memoised on (tid, own locals, vm, pages) wherever
    the step read and wrote nothing else (see the module docstring)."""

    __slots__ = ("_hidden", "calls", "hits", "memo", "name", "off", "program", "touched")

    def __init__(self, program: Program) -> None:
        self.program = program
        self.name: str = getattr(program, "__name__", repr(program))
        self.memo: dict[tuple[int, object, int, int], _Entry] = {}
        self._hidden = _Hidden()
        #: calls whose key the memo held (answered from it, or already known to touch
        #: another thread), and calls computed afresh because the step touches another
        #: thread (for tests and profiles)
        self.hits = 0
        self.touched = 0
        self.calls = 0
        #: True once the memo was dropped (hit rate below MIN_HIT_RATE on probation)
        self.off = False

    def __call__(self, state: State, tid: int, cfg: Config) -> list[Successor]:
        if self.off:
            return self.program(state, tid, cfg)
        self.calls += 1
        if self.calls == PROBATION_CALLS and self.hits < MIN_HIT_RATE * self.calls:
            self.off = True
            self.memo.clear()
            return self.program(state, tid, cfg)
        threads = state.threads
        vm = state.vm
        pages = state.pages
        key = (tid, threads[tid], id(vm), id(pages))
        hit = self.memo.get(key)
        if hit is None or hit[0] is not vm or hit[1] is not pages:
            hit = (vm, pages, self._compute(state, tid, cfg))
            if len(self.memo) >= MEMO_ENTRIES:
                self.memo.clear()
            self.memo[key] = hit
        else:
            self.hits += 1
        deltas = hit[2]
        if deltas is None:
            self.touched += 1
            return self.program(state, tid, cfg)
        before = threads[:tid]
        after = threads[tid + 1 :]
        return [
            Successor(label, State(nvm, npages, (*before, own, *after)))
            for label, nvm, npages, own in deltas
        ]

    def _compute(self, state: State, tid: int, cfg: Config) -> tuple[_Delta, ...] | None:
        hidden = self._hidden
        threads = state.threads
        # the guard stands where locals tuples go: the step sees it only if it looks
        guarded: tuple[Any, ...] = tuple(t if i == tid else hidden for i, t in enumerate(threads))
        try:
            successors = self.program(State(state.vm, state.pages, guarded), tid, cfg)
        except (_Touched, Exception):
            # Touched another thread, or failed otherwise: compiled code type-checks what it
            # takes out of the threads tuple, so a guard may show itself as a TypeError.
            # The step runs on the real state instead, where a genuine error shows itself.
            return None
        out: list[_Delta] = []
        for label, nxt in successors:
            after: tuple[Any, ...] = nxt.threads
            for i, t in enumerate(after):
                if i != tid and t is not hidden:
                    return None  # stored into another thread's locals
            # labels repeat across entries (the same step from another VM state)
            out.append((sys.intern(label), nxt.vm, nxt.pages, nxt.threads[tid]))
        return tuple(out)


def memoised(programs: tuple[Program, ...]) -> tuple[Program, ...]:
    """``programs``, each memoised (a fresh memo per exploration: a program's successors
    depend on the exploration's ``Config``). A lone thread is not: with no other thread to
    differ in, no state repeats another's key."""
    if len(programs) < 2:
        return programs
    return tuple(MemoProgram(p) for p in programs)
