"""Shadow-page lookup, creation, linking and zapping for the scenario that tracks every field
of ``struct kvm_mmu_page`` (arch/x86/kvm/mmu/mmu.c, ~v6.9: ``kvm_mmu_find_shadow_page``,
``kvm_mmu_alloc_shadow_page``, ``kvm_mmu_get_shadow_page``, ``__link_shadow_page``,
``mmu_page_zap_pte``, ``mmu_zap_unsync_children``, ``__kvm_mmu_prepare_zap_page``).

These wrap the shared functions of ``mmu.py`` and add what that module leaves out: the
kernel's ``parent_ptes`` encoding (rmap.py), ``unsync`` and the unsync bitmaps (unsync.py),
``write_flooding_count`` (flooding.py) and ``shadowed_translation`` (direct.py).
"""

from __future__ import annotations

from specmodel.kernel import mmu
from specmodel.kernel.config import Config
from specmodel.kernel.direct import shadowed_translation_for
from specmodel.kernel.rmap import (
    MODEL_PTE_LIST_EXT,
    RmapCorruption,
    drop_parent_pte,
    mmu_page_add_parent_pte,
    pte_list_remove,
    spte_address,
)
from specmodel.kernel.spte import spte_frame
from specmodel.kernel.state import NO_PAGE, ROLE_DIRECT, ROLE_LEVEL_MASK, Work
from specmodel.kernel.unsync import kvm_sync_page, mark_unsync


def kvm_mmu_find_shadow_page(
    w: Work, cfg: Config, gfn: int, role: int, invalid_list: list[int]
) -> int:
    """``kvm_mmu_find_shadow_page()``: skip obsolete pages; for the gfn, zap unsync pages of
    another role when the wanted page is upper-level; on a hit, sync an unsync page (without
    write-protecting it) and clear its ``write_flooding_count`` (it is in use)."""
    gen = w.vm.mmu_valid_gen
    for pid, sp in enumerate(w.pages):
        if sp.freed or sp.tdp or sp.gfn != gfn or mmu.is_obsolete(sp, gen):
            continue
        if sp.role != role:
            if role & ROLE_LEVEL_MASK > 1 and sp.unsync:
                w.notes.append(f"zap unsync sp#{pid} (an upper-level page takes its gfn)")
                kvm_mmu_prepare_zap_page(w, cfg, pid, invalid_list)
            continue
        if sp.role & ROLE_DIRECT:
            return pid
        if sp.unsync:
            kvm_sync_page(w, cfg, pid)
        clear_sp_write_flooding_count(w, cfg, pid)
        return pid
    return NO_PAGE


def kvm_mmu_alloc_shadow_page(w: Work, cfg: Config, gfn: int, role: int) -> int:
    """``kvm_mmu_alloc_shadow_page()``: the shared allocation, plus an empty rmap head and
    ``shadowed_translation`` for indirect pages only."""
    pid = mmu.kvm_mmu_alloc_shadow_page(w, cfg, gfn, role)
    sp = w.pages[pid]
    w.set_page(
        pid, sp._replace(parent_ptes=(), shadowed_translation=shadowed_translation_for(role, cfg))
    )
    return pid


def kvm_mmu_get_shadow_page(w: Work, cfg: Config, gfn: int, role: int) -> int:
    """``kvm_mmu_get_shadow_page()``: find (committing what the lookup zapped), else
    allocate."""
    invalid_list: list[int] = []
    pid = kvm_mmu_find_shadow_page(w, cfg, gfn, role, invalid_list)
    mmu.kvm_mmu_commit_zap_page(w, invalid_list)
    if pid == NO_PAGE:
        pid = kvm_mmu_alloc_shadow_page(w, cfg, gfn, role)
    return pid


def clear_sp_write_flooding_count(w: Work, cfg: Config, pid: int) -> None:
    """``__clear_sp_write_flooding_count()``: the page was used."""
    sp = w.page(pid, "clear_sp_write_flooding_count")
    if sp.write_flooding_count and cfg.switches.flood_reset_on_use:
        w.set_page(pid, sp._replace(write_flooding_count=0))


def link_shadow_page(w: Work, cfg: Config, parent: int, index: int, child: int) -> None:
    """``__link_shadow_page()``: install the non-leaf SPTE, add it to the child's
    ``parent_ptes``, and if the child is unsync (or has unsync children) mark the SPTE."""
    p = w.page(parent, "__link_shadow_page")
    spt = list(p.spt)
    spt[index] = child
    w.set_page(parent, p._replace(spt=tuple(spt)))
    mmu_page_add_parent_pte(w, cfg, child, parent, index)
    c = w.pages[child]
    if c.unsync_children or c.unsync:
        mark_unsync(w, parent, index)


def mmu_page_zap_pte(w: Work, pid: int, index: int) -> bool:
    """``mmu_page_zap_pte()`` without an invalid list: drop a leaf SPTE, or unlink a child.
    Returns whether the SPTE was present."""
    sp = w.page(pid, "mmu_page_zap_pte")
    spte = sp.spt[index]
    if spte >= 0:
        drop_parent_pte(w, spte, pid, index)
        return True
    if spte_frame(spte) is not None:
        spt = list(sp.spt)
        spt[index] = NO_PAGE
        changes: dict[str, object] = {"spt": tuple(spt)}
        if sp.shadowed_translation is not None:
            translation = list(sp.shadowed_translation)
            translation[index] = 0
            changes["shadowed_translation"] = tuple(translation)
        w.set_page(pid, sp._replace(**changes))  # type: ignore[arg-type]
        return True
    return False


def _zap_unsync_children(w: Work, cfg: Config, pid: int, invalid_list: list[int]) -> int:
    """``mmu_zap_unsync_children()``: zap every unsync page the bitmap leads to."""
    zapped = 0
    sp = w.page(pid, "mmu_zap_unsync_children")
    for index in range(len(sp.spt)):
        if not w.pages[pid].unsync_child_bitmap & (1 << index):
            continue
        child = w.pages[pid].spt[index]
        if child >= 0:
            c = w.page(child, "mmu_unsync_walk")
            if c.unsync_children:
                zapped += _zap_unsync_children(w, cfg, child, invalid_list)
            elif c.unsync:
                w.notes.append(f"zap unsync child sp#{child}")
                zapped += 1
                kvm_mmu_prepare_zap_page(w, cfg, child, invalid_list)
        sp = w.pages[pid]
        if sp.unsync_child_bitmap & (1 << index):
            w.set_page(
                pid,
                sp._replace(
                    unsync_children=sp.unsync_children - 1,
                    unsync_child_bitmap=sp.unsync_child_bitmap & ~(1 << index),
                ),
            )
    return zapped


def kvm_mmu_prepare_zap_page(w: Work, cfg: Config, pid: int, invalid_list: list[int]) -> int:
    """``__kvm_mmu_prepare_zap_page()``: zap unsync children (upper-level pages), then the
    shared zap (unlink children and parents, invalid, off the list or onto
    ``invalid_list``); keep each child's ``parent_ptes`` encoding in step and clear
    ``unsync``. Returns ``nr_zapped``."""
    sp = w.page(pid, "__kvm_mmu_prepare_zap_page")
    zapped = 0
    if sp.level > 1:
        zapped += _zap_unsync_children(w, cfg, pid, invalid_list)
    sp = w.pages[pid]
    children = [(index, child) for index, child in enumerate(sp.spt) if child >= 0]
    nr, _ = mmu.kvm_mmu_prepare_zap_page(w, cfg, pid, invalid_list)
    # mmu.py unlinked them in the same order (kvm_mmu_page_unlink_children, then
    # kvm_mmu_unlink_parents); replay the removals on the encodings
    for index, child in children:
        c = w.pages[child]
        if c.parent_ptes is not None and not c.freed:
            try:
                encoded = pte_list_remove(
                    c.parent_ptes, spte_address(pid, index), MODEL_PTE_LIST_EXT
                )
            except RmapCorruption as exc:
                w.notes.append(f"KVM_BUG_ON_DATA_CORRUPTION ({exc})")
                encoded = c.parent_ptes
            w.set_page(child, c._replace(parent_ptes=encoded))
    sp = w.pages[pid]
    w.set_page(
        pid,
        sp._replace(
            unsync=False,
            parent_ptes=() if sp.parent_ptes is not None else None,
        ),
    )
    return zapped + nr
