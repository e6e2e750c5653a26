"""Memoised successors of the threads that read no locals but their own.

A vCPU's step is a function of its thread id, its own locals, the VM and the pages: the
other threads' locals never enter it (``specmodel.kernel.program.own_locals_only``). Many
states share those four while differing elsewhere (another vCPU's progress, the zapper's
position in its batch), so the breadth-first search asks the same question again and again:
in ``fast_zap`` with 2 vCPUs and 16 pages, 89% of vCPU steps repeat an earlier one. The memo
answers a repeat with the successors it stored, each rebuilt around the current state's other
threads, which is what the program itself would return.

The declaration is checked, not trusted: on every miss the program runs on a copy of the
state whose other threads' locals are ``_Hidden`` objects, and any use of one (indexing,
iterating, comparing, hashing, truthiness) raises ``UndeclaredReadError``; so does a step
that stores into another thread's locals. A memoised result is therefore one that was
computed without looking at anything outside its key.

``VmState`` and ``Pages`` objects are shared between states (state.py interns them), so the
key holds their identities, and each entry keeps the objects alive so that an identity cannot
be reused by another object while the entry exists.
"""

from __future__ import annotations

import sys
from typing import Any, NoReturn

from specmodel.errors import UndeclaredReadError
from specmodel.kernel.config import Config
from specmodel.kernel.program import OWN_LOCALS_ONLY, Program, Successor
from specmodel.kernel.state import Pages, State, VmState

#: Entries per memoised thread program before the memo starts again (a cache: dropping it
#: loses speed, never an answer). About 400 bytes an entry at 2 vCPUs; past 2**16 entries
#: the hit rate gains little (measured on fast_zap and concurrent_zaps with 2 vCPUs).
MEMO_ENTRIES = 1 << 16


__all__ = ["MEMO_ENTRIES", "MemoProgram", "UndeclaredReadError", "memoised"]


class _Hidden:
    """Stands for another thread's locals while a declared program runs on a miss."""

    __slots__ = ("owner", "program", "tid")

    def __init__(self, owner: int, tid: int, program: str) -> None:
        self.owner = owner
        self.tid = tid
        self.program = program

    def _fail(self, *_: object) -> NoReturn:
        raise UndeclaredReadError(
            f"{self.program} is declared own_locals_only (it may read only thread "
            f"{self.tid}'s locals, the VM and the pages), but thread {self.tid}'s step read "
            f"thread {self.owner}'s locals"
        )

    __getitem__ = __iter__ = __len__ = __bool__ = __contains__ = _fail
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __hash__ = _fail

    def __getattr__(self, name: str) -> Any:
        self._fail()


#: (label, vm, pages, the thread's own new locals) per successor
_Delta = tuple[str, VmState, Pages, tuple[Any, ...]]


class MemoProgram:
    """``program`` with its successors memoised on (tid, own locals, vm, pages)."""

    __slots__ = ("__name__", "_guards", "memo", "program")

    def __init__(self, program: Program) -> None:
        self.program = program
        self.__name__ = getattr(program, "__name__", repr(program))
        self.memo: dict[tuple[int, object, int, int], tuple[VmState, Pages, list[_Delta]]] = {}
        #: per thread id, the guards that stand for the other threads' locals
        self._guards: dict[int, tuple[Any, ...]] = {}

    def __call__(self, state: State, tid: int, cfg: Config) -> list[Successor]:
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
        before = threads[:tid]
        after = threads[tid + 1 :]
        return [
            Successor(label, State(nvm, npages, (*before, own, *after)))
            for label, nvm, npages, own in hit[2]
        ]

    def _compute(self, state: State, tid: int, cfg: Config) -> list[_Delta]:
        # the guards stand where locals tuples go: the step sees them only if it misbehaves
        threads = state.threads
        guards = self._guards.get(tid)
        if guards is None or len(guards) != len(threads):
            guards = tuple(_Hidden(i, tid, self.__name__) for i in range(len(threads)))
            self._guards[tid] = guards
        hidden = (*guards[:tid], threads[tid], *guards[tid + 1 :])
        out: list[_Delta] = []
        for label, nxt in self.program(State(state.vm, state.pages, hidden), tid, cfg):
            for i, t in enumerate(nxt.threads):
                if i != tid and t is not hidden[i]:
                    raise UndeclaredReadError(
                        f"{self.__name__} is declared own_locals_only, but thread {tid}'s "
                        f"step ({label}) stored into thread {i}'s locals"
                    )
            # labels repeat across entries (the same step from another VM state)
            out.append((sys.intern(label), nxt.vm, nxt.pages, nxt.threads[tid]))
        return out


def memoised(programs: tuple[Program, ...]) -> tuple[Program, ...]:
    """``programs`` with each declared one memoised (a fresh memo per exploration: a
    program's successors depend on the exploration's ``Config``)."""
    return tuple(MemoProgram(p) if p in OWN_LOCALS_ONLY else p for p in programs)
