"""Shadow-MMU page management shared by every scenario (arch/x86/kvm/mmu/mmu.c, ~v6.9).

Each function names the kernel function it models and runs inside one explorer step with
``mmu_lock`` held by the calling thread, as in the kernel. Simplifications: one address
space, ``Config.spt_width`` SPTEs per page instead of 512, the hash table is searched in
allocation order, and the remote TLB flush of vCPU-side commits is not modelled.
"""

from __future__ import annotations

from specmodel.kernel.config import Config
from specmodel.kernel.state import (
    HAZARD_CREATED_OLD_GEN,
    HAZARD_FREED_PINNED,
    HAZARD_LOOKUP_OBSOLETE,
    HAZARD_LOOKUP_STALE,
    LINK_ACTIVE,
    LINK_INVALID_LIST,
    LINK_NONE,
    NO_PAGE,
    ROLE_GUEST_MODE,
    ROLE_INVALID,
    Page,
    Pages,
    Work,
    intern_pages,
)

# Per-vCPU locals every vCPU program (vcpu.py, reclaim.py) keeps at these positions, so the
# zapper, the invariants and the metrics can read any vCPU; positions 6+ are its own.
# V_WAIT counts the pages the fast zap zapped (nr_zapped) and V_PREPARED the pages it
# prepared (every __kvm_mmu_prepare_zap_page() call, pinned roots included) since the vCPU
# started its current wait for mmu_lock; both go back to 0 when it takes the lock.
V_PC, V_MODE, V_REQ, V_ROOT, V_PREPARED, V_WAIT = 0, 1, 2, 3, 4, 5
MODE_OUTSIDE, MODE_IN_GUEST, MODE_EXITING = 0, 1, 2
REQ_FREE_OBSOLETE_ROOTS = 1  # KVM_REQ_MMU_FREE_OBSOLETE_ROOTS
REQ_TLB_FLUSH = 2  # KVM_REQ_TLB_FLUSH


def is_obsolete(sp: Page, mmu_valid_gen: int) -> bool:
    """``is_obsolete_sp()``: ``role.invalid`` first, then the generation (shadow pages only)."""
    return bool(sp.role & ROLE_INVALID) or (not sp.tdp and sp.gen != mmu_valid_gen)


def kvm_make_all_cpus_request(w: Work, cfg: Config, req: int) -> int:
    """``kvm_make_all_cpus_request()``: set ``req`` on every vCPU and kick those in the guest.

    Returns the mask of kicked vCPUs, which a KVM_REQUEST_WAIT caller waits for.
    """
    kicked = 0
    for tid in cfg.vcpu_tids:
        v = w.threads[tid]
        mode = v[V_MODE]
        if mode == MODE_IN_GUEST:
            mode = MODE_EXITING
        if mode != MODE_OUTSIDE:
            kicked |= 1 << tid
        w.threads[tid] = (*v[:V_MODE], mode, v[V_REQ] | req, *v[V_REQ + 1 :])
    return kicked


def kvm_mmu_find_shadow_page(w: Work, cfg: Config, gfn: int, role: int) -> int:
    """``kvm_mmu_find_shadow_page()``: a page with equal gfn and role word, via
    ``for_each_valid_sp`` (which skips obsolete pages)."""
    gen = w.vm.mmu_valid_gen
    for pid, sp in enumerate(w.pages):
        if sp.freed or sp.tdp:
            continue  # not in mmu_page_hash
        obsolete = is_obsolete(sp, gen)
        if obsolete and cfg.switches.lookup_skips_obsolete:
            continue
        if sp.gfn == gfn and sp.role == role:
            if obsolete:
                w.hazard(HAZARD_LOOKUP_OBSOLETE)
            if sp.epoch < w.vm.epoch:
                w.hazard(HAZARD_LOOKUP_STALE)
            return pid
    return NO_PAGE


def kvm_mmu_alloc_shadow_page(w: Work, cfg: Config, gfn: int, role: int) -> int:
    """``kvm_mmu_alloc_shadow_page()``: take the VM's generation, then link the new page
    at the head of ``active_mmu_pages`` and account it."""
    vm = w.vm
    sp = Page(
        gfn=gfn,
        role=role,
        gen=vm.mmu_valid_gen,
        root_count=0,
        parents=(),
        spt=(NO_PAGE,) * cfg.spt_width,
        tdp=False,
        scheduled=False,
        link=LINK_ACTIVE,
        freed=False,
        epoch=vm.epoch,
    )
    if sp.gen != vm.mmu_valid_gen:
        w.hazard(HAZARD_CREATED_OLD_GEN)
    pid = len(w.pages)
    if cfg.switches.insert_at_head:
        w.list_add_head(pid)
    else:
        w.list_add_tail(pid)
    w.new_page(sp)
    w.vm = w.vm._replace(n_used_mmu_pages=w.vm.n_used_mmu_pages + 1)
    return pid


def kvm_mmu_get_shadow_page(w: Work, cfg: Config, gfn: int, role: int) -> int:
    """``kvm_mmu_get_shadow_page()``: find, else allocate."""
    pid = kvm_mmu_find_shadow_page(w, cfg, gfn, role)
    if pid == NO_PAGE:
        pid = kvm_mmu_alloc_shadow_page(w, cfg, gfn, role)
    return pid


def link_shadow_page(w: Work, parent: int, index: int, child: int) -> None:
    """``link_shadow_page()``: point SPTE ``index`` of ``parent`` at ``child`` and record the
    SPTE in the child's ``parent_ptes``."""
    p = w.page(parent, "link_shadow_page")
    c = w.page(child, "mmu_page_add_parent_pte")
    spt = list(p.spt)
    spt[index] = child
    w.set_page(parent, p._replace(spt=tuple(spt)))
    w.set_page(child, c._replace(parents=tuple(sorted((*c.parents, (parent, index))))))


def drop_parent_pte(w: Work, child: int, parent: int, index: int) -> Page:
    """``drop_parent_pte()``: remove one entry from the child's ``parent_ptes``."""
    c = w.page(child, "drop_parent_pte")
    parents = list(c.parents)
    parents.remove((parent, index))
    c = c._replace(parents=tuple(parents))
    w.set_page(child, c)
    return c


def kvm_mmu_prepare_zap_page(
    w: Work, cfg: Config, pid: int, invalid_list: list[int]
) -> tuple[int, bool]:
    """``__kvm_mmu_prepare_zap_page()``: unlink children and parents, then either move the
    page to ``invalid_list`` (``root_count == 0``) or take it off ``active_mmu_pages`` and
    leave it to its last root reference; mark it ``role.invalid``.

    Returns ``(nr_zapped, list_unstable)``.
    """
    sp = w.page(pid, "__kvm_mmu_prepare_zap_page")
    w.prepared += 1
    was_obsolete = is_obsolete(sp, w.vm.mmu_valid_gen)
    nr_zapped = 0
    # kvm_mmu_page_unlink_children -> mmu_page_zap_pte
    for index, child in enumerate(sp.spt):
        if child < 0:
            continue
        c = drop_parent_pte(w, child, pid, index)
        # FACTS H.3: a nested-TDP child left without parents is zapped too.
        if (
            cfg.tdp_enabled
            and c.role & ROLE_GUEST_MODE
            and not c.parents
            and not (cfg.switches.preserve_nested_roots and c.root_count > 0)
        ):
            w.notes.append(f"sp#{child} lost its last parent: zap it too (nested)")
            nr_zapped += kvm_mmu_prepare_zap_page(w, cfg, child, invalid_list)[0]
    sp = w.page(pid, "kvm_mmu_page_unlink_children")
    sp = sp._replace(spt=(NO_PAGE,) * len(sp.spt))  # children unlinked, leaves dropped
    # kvm_mmu_unlink_parents
    for parent, index in sp.parents:
        p = w.page(parent, "kvm_mmu_unlink_parents")
        spt = list(p.spt)
        spt[index] = NO_PAGE
        w.set_page(parent, p._replace(spt=tuple(spt)))
    sp = sp._replace(parents=())
    list_unstable = nr_zapped > 0
    zapped_valid_root = False
    if sp.root_count == 0 or not cfg.switches.keep_pinned_pages:
        nr_zapped += 1
        if not sp.invalid and sp.link == LINK_ACTIVE:
            w.set_page(pid, sp)
            w.list_del(pid)  # list_move: off active_mmu_pages ...
        # ... onto invalid_list. An already-invalid page gets a plain list_add: the kernel
        # assumes it is on no list. If it still is (FACTS H.6), active_mmu_pages keeps a
        # pointer to it, which is what CVE-2026-64561 turns into a use-after-free.
        elif sp.link == LINK_ACTIVE:
            w.notes.append(
                f"sp#{pid} already invalid: list_add to invalid_list "
                f"while still on active_mmu_pages"
            )
        sp = sp._replace(link=LINK_INVALID_LIST)
        invalid_list.append(pid)
        w.vm = w.vm._replace(n_used_mmu_pages=w.vm.n_used_mmu_pages - 1)
    else:
        # The kernel list_dels a pinned page unconditionally. An entry already off the list
        # (a pinned page zapped a second time) has poisoned pointers: Work.list_del records
        # that as a general protection fault instead of skipping it.
        w.set_page(pid, sp)
        w.list_del(pid)
        sp = sp._replace(link=LINK_NONE)
        zapped_valid_root = not was_obsolete
        w.notes.append(
            f"sp#{pid} pinned (root_count {sp.root_count}): invalid, off active_mmu_pages"
            + ("; KVM_REQ_MMU_FREE_OBSOLETE_ROOTS to all vCPUs" if zapped_valid_root else "")
        )
    w.set_page(pid, sp._replace(role=sp.role | ROLE_INVALID))
    if zapped_valid_root:
        kvm_make_all_cpus_request(w, cfg, REQ_FREE_OBSOLETE_ROOTS)
    return nr_zapped, list_unstable


def kvm_mmu_commit_zap_page(w: Work, invalid_list: list[int]) -> None:
    """``kvm_mmu_commit_zap_page()``: free every page on ``invalid_list`` (the remote TLB
    flush before it is a separate step of the caller where it matters)."""
    if not invalid_list:
        return
    w.notes.append("kvm_mmu_commit_zap_page: free " + ", ".join(f"sp#{p}" for p in invalid_list))
    # The same commit runs from many states that share their pages (they differ in what
    # the vCPUs do meanwhile): reuse the freed pages, hashed once, when nothing else in
    # this step has written a page yet.
    before = w.pages
    key = (before, tuple(invalid_list)) if isinstance(before, Pages) else None
    hit = None if key is None else _COMMITTED.get(key)
    if hit is not None:
        w.adopt_pages(hit[0])
        if hit[1]:
            w.hazard(hit[1])
        invalid_list.clear()
        return
    hazard = 0
    for pid in invalid_list:
        sp = w.page(pid, "kvm_mmu_commit_zap_page")
        if sp.root_count > 0:
            hazard = HAZARD_FREED_PINNED  # the kernel WARNs and frees it anyway
        # kvm_mmu_free_shadow_page: hash unlink, list_del(&sp->link) from invalid_list, free.
        w.set_page(pid, sp._replace(link=LINK_NONE, freed=True))
    if hazard:
        w.hazard(hazard)
    if key is not None:
        if len(_COMMITTED) >= 4096:
            _COMMITTED.clear()  # a cache; bounded
        _COMMITTED[key] = (w.adopt_pages(intern_pages(Pages(w.pages))), hazard)
    invalid_list.clear()


#: (pages before, invalid_list) -> (pages after, hazard bits) of kvm_mmu_commit_zap_page().
_COMMITTED: dict[tuple[Pages, tuple[int, ...]], tuple[Pages, int]] = {}


def tdp_mmu_free_root(w: Work, pid: int) -> None:
    """``kvm_tdp_mmu_put_root()`` dropping the last reference (tdp_mmu.c ~v6.9): unlink the
    root from ``tdp_mmu_roots`` and free the root page alone, after an RCU grace period.
    Its children were zapped before (``kvm_tdp_mmu_zap_invalidated_roots()``); the kernel
    only reaches the last put on an invalid root (``KVM_BUG_ON`` otherwise). A child still
    linked here is left as it is, so ``parent_ptes_live`` reports the freed parent."""
    sp = w.page(pid, "kvm_tdp_mmu_put_root")
    roots = w.vm.tdp_roots
    w.vm = w.vm._replace(tdp_roots=tuple(r for r in roots if r != pid))
    w.set_page(pid, sp._replace(freed=True, link=LINK_NONE))


def mmu_free_root_page(w: Work, cfg: Config, pid: int, invalid_list: list[int]) -> None:
    """``mmu_free_root_page()``: drop one root reference; a shadow page that reaches
    ``root_count == 0`` while invalid is zapped now (FACTS H.5)."""
    sp = w.page(pid, "mmu_free_root_page")
    sp = sp._replace(root_count=sp.root_count - 1)
    w.set_page(pid, sp)
    if sp.tdp:
        if sp.root_count == 0:
            tdp_mmu_free_root(w, pid)
    elif sp.root_count == 0 and sp.invalid:
        kvm_mmu_prepare_zap_page(w, cfg, pid, invalid_list)


def kvm_mmu_zap_oldest_mmu_pages(w: Work, cfg: Config, nr_to_zap: int) -> int:
    """``kvm_mmu_zap_oldest_mmu_pages()`` (FACTS H.2): from the tail, skip pinned pages,
    zap until ``nr_to_zap`` are gone, restart when the list went unstable, then commit."""
    invalid_list: list[int] = []
    total = 0
    restart = True
    w.notes.append(f"kvm_mmu_zap_oldest_mmu_pages({nr_to_zap})")
    while restart:
        restart = False
        i = len(w.vm.active) - 1
        while i >= 0:
            pid = w.vm.active[i]
            prev = w.vm.active[i - 1] if i > 0 else NO_PAGE  # list_for_each_entry_safe_reverse
            sp = w.page(pid, "kvm_mmu_zap_oldest_mmu_pages")
            if sp.root_count == 0:
                w.notes.append(f"zap sp#{pid}")
                nr, unstable = kvm_mmu_prepare_zap_page(w, cfg, pid, invalid_list)
                total += nr
                if total >= nr_to_zap:
                    break
                if unstable:
                    restart = True
                    break
            if prev == NO_PAGE:
                break
            w.page(prev, "kvm_mmu_zap_oldest_mmu_pages")
            i = w.list_position(prev, "kvm_mmu_zap_oldest_mmu_pages")
    kvm_mmu_commit_zap_page(w, invalid_list)
    return total


def make_mmu_pages_available(w: Work, cfg: Config) -> bool:
    """``make_mmu_pages_available()`` (FACTS H.1); False means -ENOSPC."""

    def available() -> int:
        return max(0, cfg.n_max_mmu_pages - w.vm.n_used_mmu_pages)

    avail = available()
    if avail >= cfg.min_free:
        return True
    kvm_mmu_zap_oldest_mmu_pages(w, cfg, cfg.refill - avail)
    return available() > 0
