"""Unsync shadow pages: letting the guest write a leaf page table without a fault, and
syncing the shadow page when the guest flushes (arch/x86/kvm/mmu/mmu.c, ~v6.9:
``mmu_try_to_unsync_pages``, ``kvm_unsync_page``, ``kvm_mmu_mark_parents_unsync``,
``mark_unsync``, ``clear_unsync_child_bit``, ``kvm_unlink_unsync_page``, ``kvm_sync_page``,
``mmu_sync_children``, ``kvm_mmu_sync_roots``, ``__kvm_mmu_invalidate_addr``;
paging_tmpl.h ``FNAME(sync_spte)``).

A shadow page is write-protected while it is in sync: a guest write to its gfn faults.
``mmu_try_to_unsync_pages()`` then either marks every leaf page for the gfn unsync (the
write goes through; the page's SPTEs lag the guest's gptes like a TLB does) or refuses
(-EPERM: the gfn is write-tracked because an upper-level page shadows it, and the write is
emulated). An unsync page is reported up the tree: each parent SPTE's bit is set in its
page's ``unsync_child_bitmap``, and ``unsync_children`` counts the bits; a page whose count
goes 0 -> 1 reports to its own parents. A guest TLB flush or CR3 load
(``kvm_mmu_sync_roots``) follows the bits from the root and syncs each unsync page; INVLPG
syncs the one SPTE of the address. All of this runs with ``mmu_lock`` held for write (the
``mmu_unsync_pages_lock`` spinlock of the TDP MMU's read-locked faults is not needed then).
Simplifications: syncs never fail (a failed sync zaps the page) and never yield.
"""

from __future__ import annotations

from specmodel.kernel.config import Config
from specmodel.kernel.guest_memory import gpte_frame, read_gpte
from specmodel.kernel.mmu import is_obsolete
from specmodel.kernel.rmap import pte_list_sptes, spte_at
from specmodel.kernel.spte import spte_frame
from specmodel.kernel.state import NO_PAGE, ROLE_DIRECT, Page, Work

#: mmu_try_to_unsync_pages() refuses: the SPTE must stay write-protected (emulate the write).
EPERM = -1


def sp_has_gptes(sp: Page) -> bool:
    """``sp_has_gptes()``: indirect and not passthrough (the model has no passthrough)."""
    return not sp.role & ROLE_DIRECT


def for_each_gfn_valid_sp_with_gptes(w: Work, gfn: int) -> list[int]:
    """``for_each_gfn_valid_sp_with_gptes()``: live, non-obsolete pages with gptes for
    ``gfn``, in hash-list order (the model searches in allocation order)."""
    gen = w.vm.mmu_valid_gen
    return [
        pid
        for pid, sp in enumerate(w.pages)
        if not sp.freed
        and not sp.tdp
        and sp.gfn == gfn
        and sp_has_gptes(sp)
        and not is_obsolete(sp, gen)
    ]


def kvm_gfn_is_write_tracked(w: Work, gfn: int) -> bool:
    """``kvm_gfn_is_write_tracked()``: ``account_shadowed()`` write-tracks the gfn of every
    upper-level page with gptes until the page is zapped."""
    return any(
        not sp.freed and not sp.invalid and sp.level > 1 and sp.gfn == gfn and sp_has_gptes(sp)
        for sp in w.pages
    )


def gfn_write_protected(w: Work, gfn: int) -> bool:
    """Whether a guest write to ``gfn`` faults: some page shadowing it is in sync (an
    unsync page's gfn is mapped writable)."""
    return any(not w.pages[pid].unsync for pid in for_each_gfn_valid_sp_with_gptes(w, gfn))


# -- marking ------------------------------------------------------------------------------


def kvm_mmu_mark_parents_unsync(w: Work, pid: int) -> None:
    """``kvm_mmu_mark_parents_unsync()``: ``mark_unsync()`` every parent SPTE."""
    sp = w.page(pid, "kvm_mmu_mark_parents_unsync")
    sptes = pte_list_sptes(sp.parent_ptes) if sp.parent_ptes is not None else ()
    for address in sptes:
        parent, index = spte_at(address)
        mark_unsync(w, parent, index)


def mark_unsync(w: Work, parent: int, index: int) -> None:
    """``mark_unsync()``: set the SPTE's bit; count it only if it was clear; report to the
    parents only when the count goes 0 -> 1."""
    sp = w.page(parent, "mark_unsync")
    bit = 1 << index
    if sp.unsync_child_bitmap & bit:
        return
    was = sp.unsync_children
    w.set_page(
        parent,
        sp._replace(unsync_child_bitmap=sp.unsync_child_bitmap | bit, unsync_children=was + 1),
    )
    if was:
        return
    kvm_mmu_mark_parents_unsync(w, parent)


def clear_unsync_child_bit(w: Work, pid: int, index: int) -> None:
    """``clear_unsync_child_bit()``."""
    sp = w.page(pid, "clear_unsync_child_bit")
    w.set_page(
        pid,
        sp._replace(
            unsync_children=sp.unsync_children - 1,
            unsync_child_bitmap=sp.unsync_child_bitmap & ~(1 << index),
        ),
    )


def kvm_unsync_page(w: Work, cfg: Config, pid: int) -> None:
    """``kvm_unsync_page()``: ``sp->unsync = 1``, then mark the parents."""
    sp = w.page(pid, "kvm_unsync_page")
    w.set_page(pid, sp._replace(unsync=True))
    if cfg.switches.mark_parents_unsync:
        kvm_mmu_mark_parents_unsync(w, pid)


def kvm_unlink_unsync_page(w: Work, pid: int) -> None:
    """``kvm_unlink_unsync_page()``: ``sp->unsync = 0`` (the page is in sync again)."""
    sp = w.page(pid, "kvm_unlink_unsync_page")
    w.set_page(pid, sp._replace(unsync=False))


def mmu_try_to_unsync_pages(w: Work, cfg: Config, gfn: int) -> int:
    """``mmu_try_to_unsync_pages()``: 0 if every page for ``gfn`` is (now) unsync, or
    ``EPERM`` if the SPTE must stay write-protected."""
    if cfg.switches.unsync_respects_write_tracking and kvm_gfn_is_write_tracked(w, gfn):
        return EPERM
    for pid in for_each_gfn_valid_sp_with_gptes(w, gfn):
        if not cfg.switches.allow_unsync:
            return EPERM  # mutant no_unsync (the kernel's can_unsync=false path)
        if w.pages[pid].unsync:
            continue
        # the kernel WARNs unless role.level == PG_LEVEL_4K, and goes on
        kvm_unsync_page(w, cfg, pid)
    return 0


# -- syncing ------------------------------------------------------------------------------


def kvm_sync_spte(w: Work, cfg: Config, pid: int, index: int) -> int:
    """``FNAME(sync_spte)``: re-read the gpte; if it no longer maps the gfn recorded in
    ``shadowed_translation``, drop the SPTE (the next access faults it in again). Returns 1
    if the SPTE changed (a flush is needed), else 0."""
    sp = w.page(pid, "kvm_sync_spte")
    frame = spte_frame(sp.spt[index])
    if frame is None:
        return 0
    gpte = read_gpte(w.vm.guest_memory, sp.gfn, index, cfg.spt_width)
    assert sp.shadowed_translation is not None
    if gpte_frame(gpte) == sp.shadowed_translation[index]:
        return 0
    spt = list(sp.spt)
    spt[index] = NO_PAGE
    translation = list(sp.shadowed_translation)
    translation[index] = 0
    w.set_page(pid, sp._replace(spt=tuple(spt), shadowed_translation=tuple(translation)))
    return 1


def kvm_sync_page(w: Work, cfg: Config, pid: int) -> int:
    """``kvm_sync_page()``: sync every SPTE; returns whether a flush is needed."""
    flush = 0
    for index in range(cfg.spt_width):
        flush |= kvm_sync_spte(w, cfg, pid, index)
    return flush


def mmu_sync_children(w: Work, cfg: Config, pid: int) -> list[int]:
    """``mmu_sync_children()`` (with ``mmu_unsync_walk()`` and ``mmu_pages_clear_parents()``):
    follow the set bits of ``unsync_child_bitmap`` down from ``pid``; write-protect and sync
    each unsync page found (``kvm_unlink_unsync_page`` + ``kvm_sync_page``) and clear the
    bits that lead to nothing unsync any more. Returns the pages synced."""
    synced: list[int] = []
    sp = w.page(pid, "mmu_unsync_walk")
    for index in range(cfg.spt_width):
        if not sp.unsync_child_bitmap & (1 << index):
            continue
        child = sp.spt[index]
        if child < 0:  # not present, or a leaf: a stale bit
            clear_unsync_child_bit(w, pid, index)
            continue
        c = w.page(child, "mmu_unsync_walk")
        if c.unsync_children:
            synced += mmu_sync_children(w, cfg, child)
            if not w.pages[child].unsync_children:
                clear_unsync_child_bit(w, pid, index)
        elif c.unsync:
            kvm_unlink_unsync_page(w, child)  # after kvm_vcpu_write_protect_gfn()
            kvm_sync_page(w, cfg, child)
            synced.append(child)
            clear_unsync_child_bit(w, pid, index)
        else:
            clear_unsync_child_bit(w, pid, index)
        sp = w.pages[pid]
    return synced


def is_unsync_root(sp: Page) -> bool:
    """``is_unsync_root()``: read without ``mmu_lock``."""
    return sp.unsync or sp.unsync_children > 0


def kvm_mmu_invalidate_addr(w: Work, cfg: Config, root: int, j: int, i: int) -> str:
    """``__kvm_mmu_invalidate_addr()`` for address (j, i) (INVLPG): walk the shadow tables
    from ``root``; at each level an unsync page gets the SPTE of the address synced; stop
    where a page has no unsync children."""
    path: tuple[tuple[int, int], ...] = ((root, j),)
    top = w.page(root, "for_each_shadow_entry_using_root")
    if top.spt[j] >= 0:
        path += ((top.spt[j], i),)
    done = []
    for pid, index in path:
        sp = w.page(pid, "for_each_shadow_entry_using_root")
        if sp.unsync and kvm_sync_spte(w, cfg, pid, index):
            done.append(f"kvm_sync_spte(sp#{pid}, {index}) dropped it")
        if not w.pages[pid].unsync_children:
            break
    return "; ".join(done) if done else "nothing to sync"
