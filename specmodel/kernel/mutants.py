"""Kernel variants: the deliberately broken kernels (mutants) and the switches they flip.

Each mutant is a small, named departure from the kernel. ``Switches`` holds one boolean
per behaviour the model can vary; the kernel is ``Switches()``, and a mutant names the
switches it flips. The docs' mutants page and ``specmodel claims`` read ``MUTANTS``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

from specmodel.errors import UnknownNameError


@dataclass(frozen=True)
class Switches:
    """Behaviours of the modelled kernel. The defaults are mmu.c as read at ~v6.9
    (torvalds/linux 56ea38e436ea) with the July 2026 fixes applied; the mutants
    pre_2abd5287f083 and pre_v6_0_child_role stand for older kernels."""

    #: kvm_mmu_zap_all_fast() callers hold kvm->slots_lock (memslot updates do).
    slots_lock: bool = True
    #: The fast zap makes KVM_REQ_MMU_FREE_OBSOLETE_ROOTS to every vCPU.
    reload_request: bool = True
    #: kvm_zap_obsolete_pages() may yield mmu_lock once a batch is done.
    zap_yields: bool = True
    #: for_each_valid_sp() skips obsolete pages during lookup.
    lookup_skips_obsolete: bool = True
    #: The generation is toggled (0 <-> 1); False increments it (ca333add6933 reverted).
    toggle_generation: bool = True
    #: The generation switch writes no page; False marks each page while holding the lock.
    switch_touches_no_page: bool = True
    #: kvm_mmu_zap_all_fast() returns only after every obsolete page is zapped.
    zap_until_done: bool = True
    #: New pages go to the head of active_mmu_pages (FIFO); False puts them at the tail.
    insert_at_head: bool = True
    #: The fast zap invalidates every TDP MMU root (kvm_tdp_mmu_invalidate_all_roots).
    invalidate_tdp_roots: bool = True
    #: __kvm_mmu_prepare_zap_page() keeps pages with root_count > 0 until the last put.
    keep_pinned_pages: bool = True
    #: Fault paths reclaim pages before the staleness check (fix 2abd5287f083).
    reclaim_before_stale_check: bool = True
    #: The recursive zap of parentless nested pages spares roots in use (7a2c70e777a0).
    preserve_nested_roots: bool = True
    #: kvm_mmu_child_role() derives a child's role from its parent page, role.invalid
    #: included (~v6.0 on); False is the older kvm_mmu_get_page(), which built it from the
    #: vCPU's MMU role and the level, so no child was born invalid.
    child_inherits_invalid: bool = True
    # -- shadow pages in full (guest_pt_writes; kernel/roots.py, rmap.py, unsync.py, ...) --
    #: mmu_alloc_root() takes a root_count reference on the page it makes a root.
    root_count_ref: bool = True
    #: mmu_free_root_page() zaps an invalid root when its last reference goes.
    free_invalid_root_at_zero: bool = True
    #: pte_list_add() turns a single parent pointer into a pte_list_desc list.
    pte_list_desc: bool = True
    #: mmu_try_to_unsync_pages() may mark leaf pages unsync (else every write is emulated).
    allow_unsync: bool = True
    #: mmu_try_to_unsync_pages() refuses write-tracked gfns (upper-level shadow pages).
    unsync_respects_write_tracking: bool = True
    #: kvm_unsync_page() marks the parents (kvm_mmu_mark_parents_unsync()).
    mark_parents_unsync: bool = True
    #: A guest TLB flush or CR3 load syncs the roots (kvm_mmu_sync_roots()).
    sync_on_guest_flush: bool = True
    #: INVLPG syncs the address's SPTE in an unsync page (__kvm_mmu_invalidate_addr()).
    sync_on_invlpg: bool = True
    #: kvm_mmu_track_write() zaps a page detect_write_flooding() reports.
    write_flooding_zap: bool = True
    #: detect_write_flooding() skips level-1 pages.
    flood_skips_leaf_pages: bool = True
    #: Lookup and faults that walk a page reset its write_flooding_count.
    flood_reset_on_use: bool = True
    #: kvm_mmu_page_get_gfn() of a direct page adds index << (level - 1) * 9 to sp->gfn.
    direct_gfn_from_index: bool = True
    #: kvm_mmu_alloc_shadow_page() allocates shadowed_translation only for indirect pages.
    translation_only_indirect: bool = True


@dataclass(frozen=True)
class Mutant:
    name: str
    summary: str  # one sentence: what it breaks
    flips: tuple[str, ...]  # Switches fields set to False


MUTANTS: dict[str, Mutant] = {
    m.name: m
    for m in (
        Mutant(
            "no_slots_lock",
            "Memslot deletion calls the fast zap without holding slots_lock, so two zaps "
            "can overlap and toggle the generation twice.",
            ("slots_lock",),
        ),
        Mutant(
            "no_reload_request",
            "The fast zap never makes KVM_REQ_MMU_FREE_OBSOLETE_ROOTS, so vCPUs keep "
            "running on obsolete roots while their pages are zapped.",
            ("reload_request",),
        ),
        Mutant(
            "no_yield",
            "kvm_zap_obsolete_pages() never drops mmu_lock, so vCPUs wait for the whole zap.",
            ("zap_yields",),
        ),
        Mutant(
            "reuse_obsolete_pages",
            "Lookup does not skip obsolete pages, so an obsolete page can be linked again.",
            ("lookup_skips_obsolete",),
        ),
        Mutant(
            "counter_generation",
            "The generation is incremented instead of toggled, so it leaves {0, 1}.",
            ("toggle_generation",),
        ),
        Mutant(
            "mark_pages_on_switch",
            "The generation switch walks active_mmu_pages and marks every page invalid "
            "while holding mmu_lock, instead of touching no page.",
            ("switch_touches_no_page",),
        ),
        Mutant(
            "early_return",
            "kvm_zap_obsolete_pages() returns after the first batch instead of yielding "
            "and going on, so obsolete pages outlive the fast zap.",
            ("zap_until_done",),
        ),
        Mutant(
            "insert_at_tail",
            "New pages are added at the tail of active_mmu_pages, breaking the FIFO order "
            "that lets the zap stop at the first valid page.",
            ("insert_at_head",),
        ),
        Mutant(
            "no_tdp_root_invalidation",
            "The fast zap skips kvm_tdp_mmu_invalidate_all_roots(), so TDP MMU pages "
            "survive it (they have no generation to go stale).",
            ("invalidate_tdp_roots",),
        ),
        Mutant(
            "free_pinned_pages",
            "__kvm_mmu_prepare_zap_page() puts pages with root_count > 0 on the invalid "
            "list, so kvm_mmu_commit_zap_page() frees roots that vCPUs still hold.",
            ("keep_pinned_pages",),
        ),
        Mutant(
            "pre_2abd5287f083",
            "The kernel from ~v6.0 (children inherit role.invalid since "
            "kvm_mmu_child_role()) until July 2026: the fault path checks its root for "
            "staleness before reclaiming pages under the page budget (CVE-2026-64561). "
            "The companion fix 7a2c70e777a0 is absent too unless fix_7a2c70e777a0=1.",
            ("reclaim_before_stale_check", "preserve_nested_roots"),
        ),
        Mutant(
            "pre_v6_0_child_role",
            "The kernel before ~v6.0 (and after v5.9): the same fault path as "
            "pre_2abd5287f083, but kvm_mmu_get_page() builds a child's role from the "
            "vCPU's MMU role, so no child is born invalid.",
            ("reclaim_before_stale_check", "preserve_nested_roots", "child_inherits_invalid"),
        ),
        # -- shadow pages in full (guest_pt_writes) --
        Mutant(
            "no_root_count_ref",
            "mmu_alloc_root() makes a page a vCPU's root without incrementing root_count.",
            ("root_count_ref",),
        ),
        Mutant(
            "leak_invalid_roots",
            "mmu_free_root_page() drops the last reference to an invalid root without "
            "zapping it, so the page is never destroyed.",
            ("free_invalid_root_at_zero",),
        ),
        Mutant(
            "parent_ptes_overwrite",
            "pte_list_add() overwrites a single parent pointer instead of moving both "
            "parents into a pte_list_desc, so the first parent SPTE is forgotten.",
            ("pte_list_desc",),
        ),
        Mutant(
            "no_unsync",
            "mmu_try_to_unsync_pages() always refuses, so every guest write to a shadowed "
            "page table is emulated.",
            ("allow_unsync",),
        ),
        Mutant(
            "unsync_write_tracked",
            "mmu_try_to_unsync_pages() ignores write tracking, so upper-level pages go unsync.",
            ("unsync_respects_write_tracking",),
        ),
        Mutant(
            "no_mark_parents_unsync",
            "kvm_unsync_page() does not mark the parents, so the sync walk cannot find the page.",
            ("mark_parents_unsync",),
        ),
        Mutant(
            "no_sync_on_flush",
            "A guest TLB flush or CR3 load does not call kvm_mmu_sync_roots().",
            ("sync_on_guest_flush",),
        ),
        Mutant(
            "no_sync_on_invlpg",
            "INVLPG does not sync the SPTE of an unsync page.",
            ("sync_on_invlpg",),
        ),
        Mutant(
            "no_write_flooding_zap",
            "kvm_mmu_track_write() never zaps a flooded page.",
            ("write_flooding_zap",),
        ),
        Mutant(
            "flood_count_leaf_pages",
            "detect_write_flooding() counts (and zaps) level-1 pages too.",
            ("flood_skips_leaf_pages",),
        ),
        Mutant(
            "no_flood_reset",
            "Using a page (a lookup hit, a fault walking through it) does not reset its "
            "write_flooding_count, so pages in use are zapped after three emulated writes.",
            ("flood_reset_on_use",),
        ),
        Mutant(
            "direct_gfn_ignores_index",
            "kvm_mmu_page_get_gfn() returns sp->gfn for every entry of a direct page.",
            ("direct_gfn_from_index",),
        ),
        Mutant(
            "direct_shadowed_translation",
            "kvm_mmu_alloc_shadow_page() allocates shadowed_translation for direct pages too.",
            ("translation_only_indirect",),
        ),
    )
}


def switches_for(mutants: Iterable[str]) -> Switches:
    """The switches of the kernel with ``mutants`` applied; unknown names raise."""
    flips: dict[str, bool] = {}
    for name in mutants:
        mutant = MUTANTS.get(name)
        if mutant is None:
            raise UnknownNameError("mutant", name, MUTANTS)
        flips.update(dict.fromkeys(mutant.flips, False))
    return dataclasses.replace(Switches(), **flips)
