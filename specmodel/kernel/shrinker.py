"""The MMU shrinker as a thread: ``mmu_shrink_scan()`` (arch/x86/kvm/mmu/mmu.c ~v6.9).

Memory pressure can run the shrinker at any time. For the VM it picks, it takes
``mmu_lock`` for write and, if ``kvm->arch.zapped_obsolete_pages`` is not empty (a fast zap
is collecting pages there, possibly while it has yielded), commits that list, freeing the
pages; otherwise it reclaims with ``kvm_mmu_zap_oldest_mmu_pages(kvm, sc->nr_to_scan)``.
Each run is one step (its critical section runs in the step that takes the lock, see
``Config.atomic_sections``). Simplifications: ``kvm_lock``, SRCU and the choice among VMs
are left out, ``sc->nr_to_scan`` is ``NR_TO_SCAN``, and the remote TLB flush of its commit
is not modelled (as for the vCPUs' own commits). Later kernels removed the shrinker's use of
the zapped list (~v6.13).
"""

from __future__ import annotations

from specmodel.kernel.config import Config
from specmodel.kernel.locks import mmu_unlock
from specmodel.kernel.mmu import kvm_mmu_commit_zap_page, kvm_mmu_zap_oldest_mmu_pages
from specmodel.kernel.program import Successor, lock_mmu, run
from specmodel.kernel.state import State, Work

#: Shrinker locals: (pc, runs left)
S_PC, S_RUNS = 0, 1
SCAN, SCAN_HELD, DONE = 0, 1, 2
#: sc->nr_to_scan, scaled down (the kernel's batch is SHRINK_BATCH = 128).
NR_TO_SCAN = 1


def shrinker_initial(runs: int) -> tuple[int, int]:
    return (SCAN if runs else DONE, runs)


def _scan(w: Work, tid: int, cfg: Config) -> str:
    zapped = w.vm.zapped
    if zapped:
        text = "commit kvm->arch.zapped_obsolete_pages"
        kvm_mmu_commit_zap_page(w, list(zapped))
        w.vm = w.vm._replace(zapped=())
    elif w.vm.n_used_mmu_pages:
        freed = kvm_mmu_zap_oldest_mmu_pages(w, cfg, NR_TO_SCAN)
        text = f"reclaimed {freed} page(s)"
    else:
        text = "no page to shrink"
    mmu_unlock(w, tid, True)
    runs = w.threads[tid][S_RUNS] - 1
    w.threads[tid] = (SCAN if runs else DONE, runs)
    return text


def shrinker_step(state: State, tid: int, cfg: Config) -> list[Successor]:
    """Successors of the shrinker thread: one run of ``mmu_shrink_scan()`` per step."""
    pc = state.threads[tid][S_PC]
    if pc == SCAN:
        if not cfg.atomic_sections:
            return lock_mmu(
                state,
                tid,
                True,
                lambda w: _held(w, tid),
                "mmu_shrink_scan",
            )
        return lock_mmu(
            state, tid, True, lambda w: _scan(w, tid, cfg), "mmu_shrink_scan", section=True
        )
    if pc == SCAN_HELD:
        return [run(state, tid, "mmu_shrink_scan", lambda w: _scan(w, tid, cfg))]
    return []


def _held(w: Work, tid: int) -> None:
    w.threads[tid] = (SCAN_HELD, w.threads[tid][S_RUNS])
