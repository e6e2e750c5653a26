"""Symmetry reduction over vCPUs: states that differ only in which vCPU is which are one.

Every vCPU runs the same program from the same initial locals, and nothing in the model
depends on a vCPU's number except where it is named: the thread's locals, ``mmu_lock``'s
writer, readers and queue, and the zappers' masks of kicked vCPUs. ``canonical()`` renames
the vCPUs so their locals are sorted (ties broken by the whole renamed state), which is
sound for every invariant that treats vCPUs alike: all built-in ones do, so the explorer
uses it unless a caller gives its own invariants.
"""

from __future__ import annotations

from itertools import permutations

from specmodel.kernel.config import Config
from specmodel.kernel.state import State

#: Position of the kicked-vCPU mask in a zapper's locals (see zap.py).
_Z_KICKED = 3


def _remap_mask(mask: int, perm: dict[int, int]) -> int:
    out = mask
    for old in perm:
        if mask & (1 << old):
            out &= ~(1 << old)
    for old, new in perm.items():
        if mask & (1 << old):
            out |= 1 << new
    return out


def rename(state: State, perm: dict[int, int], cfg: Config) -> State:
    """``state`` with vCPU thread ``t`` renamed to ``perm[t]``."""
    vm = state.vm
    threads = list(state.threads)
    for old, new in perm.items():
        threads[new] = state.threads[old]
    for z in cfg.zapper_tids:
        loc = threads[z]
        if loc[_Z_KICKED]:
            threads[z] = (
                *loc[:_Z_KICKED],
                _remap_mask(loc[_Z_KICKED], perm),
                *loc[_Z_KICKED + 1 :],
            )
    changes: dict[str, object] = {}
    if vm.mmu_writer in perm:
        changes["mmu_writer"] = perm[vm.mmu_writer]
    if vm.mmu_readers:
        changes["mmu_readers"] = _remap_mask(vm.mmu_readers, perm)
    if vm.mmu_queue:
        changes["mmu_queue"] = tuple((perm.get(t, t), w) for t, w in vm.mmu_queue)
    if changes:
        vm = vm._replace(**changes)  # type: ignore[arg-type]
    return State(vm, state.pages, tuple(threads))


def canonical(state: State, cfg: Config) -> tuple[State, dict[int, int]]:
    """The representative of ``state``'s class and the renaming that maps ``state`` to it."""
    tids = cfg.vcpu_tids
    if len(tids) < 2:
        return state, {}
    threads = state.threads
    # fast path: already strictly sorted, so this state is its own representative
    if len(tids) == 2:
        if threads[tids[0]] < threads[tids[1]]:
            return state, {}
    elif all(threads[tids[i]] < threads[tids[i + 1]] for i in range(len(tids) - 1)):
        return state, {}
    locals_ = [threads[t] for t in tids]
    order = sorted(range(len(tids)), key=lambda i: locals_[i])
    if all(locals_[order[i]] != locals_[order[i + 1]] for i in range(len(order) - 1)):
        perm = {tids[order[k]]: tids[k] for k in range(len(tids))}
        if all(old == new for old, new in perm.items()):
            return state, {}
        return rename(state, perm, cfg), perm
    # equal locals: try every renaming that sorts them and keep the smallest state
    best: tuple[State, dict[int, int]] | None = None
    for candidate in permutations(range(len(tids))):
        if [locals_[i] for i in candidate] != sorted(locals_):
            continue
        perm = {tids[candidate[k]]: tids[k] for k in range(len(tids))}
        renamed = rename(state, perm, cfg)
        if best is None or renamed < best[0]:
            best = (renamed, perm)
    assert best is not None
    return best
