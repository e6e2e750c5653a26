"""What one exploration runs: the kernel switches plus the scenario's bounds."""

from __future__ import annotations

from dataclasses import dataclass, field

from specmodel.kernel import BATCH_ZAP_PAGES
from specmodel.kernel.mutants import Switches


@dataclass(frozen=True)
class Config:
    """Everything a step function may read; fixed for the whole exploration."""

    switches: Switches = field(default_factory=Switches)
    #: BATCH_ZAP_PAGES of kvm_zap_obsolete_pages().
    batch: int = BATCH_ZAP_PAGES
    #: CONFIG_PREEMPTION: cond_resched_rwlock_write() must yield when someone waits for the
    #: lock. Without a waiter, or on a non-preemptible kernel, whether it yields
    #: (should_resched(): a tick or another task) is a free choice of the explorer.
    preemptible: bool = True
    #: L0 uses EPT/NPT (tdp_enabled) - turns on the recursive zap of nested pages (FACTS H.3).
    tdp_enabled: bool = False
    #: vCPUs use the TDP MMU for their roots (fast_zap_tdp).
    tdp_mmu: bool = False
    #: Thread ids of the vCPUs (they come after the zappers).
    vcpu_tids: tuple[int, ...] = ()
    #: Thread ids of the fast-zap threads.
    zapper_tids: tuple[int, ...] = ()
    #: Page budget (FACTS H.1), scaled down: n_max_mmu_pages, KVM_MIN_FREE_MMU_PAGES,
    #: KVM_REFILL_PAGES.
    n_max_mmu_pages: int = 1 << 30
    min_free: int = 0
    refill: int = 0
    #: Guest frames a vCPU may fault on (gfn 1..fault_gfns).
    fault_gfns: int = 1
    #: Guest entries per vCPU.
    entries: int = 2
    #: Nested root levels the L1 guest may load (page_reclaim).
    root_levels: tuple[int, ...] = ()
    #: Lipton reduction: a critical section under mmu_lock that one step performs runs in
    #: the step that takes the lock, and the zap's final releases in the step before them.
    #: False gives each acquire and release a step of its own, to check that the reduction
    #: changes no verdict.
    atomic_sections: bool = True
    #: Cached previous roots per vCPU (prev_roots[]; the kernel has KVM_MMU_NUM_PREV_ROOTS).
    prev_roots: int = 0
    #: Thread ids of MMU shrinker runs (mmu_shrink_scan); with any, the fast zap collects
    #: its pages on the per-VM kvm->arch.zapped_obsolete_pages (VmState.zapped).
    shrinker_tids: tuple[int, ...] = ()
    #: SPTEs modelled per page (the kernel has 512).
    spt_width: int = 4
