"""Unit tests of the modelled kernel functions on hand-built states (FACTS C.2, C.3, C.6,
C.7, H.2-H.6 and the lock queue).

Each test builds ``State``/``VmState``/``Page`` tuples directly, applies one kernel function
to a ``Work`` copy and checks what it changed, so every rule is tested without the explorer.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from specmodel.errors import UseAfterFree
from specmodel.kernel.config import Config
from specmodel.kernel.locks import LockStep, mmu_lock, mmu_lock_step, mmu_unlock, slots_lock_step
from specmodel.kernel.mmu import (
    MODE_EXITING,
    MODE_IN_GUEST,
    MODE_OUTSIDE,
    REQ_FREE_OBSOLETE_ROOTS,
    V_MODE,
    V_REQ,
    is_obsolete,
    kvm_mmu_commit_zap_page,
    kvm_mmu_find_shadow_page,
    kvm_mmu_get_shadow_page,
    kvm_mmu_prepare_zap_page,
    kvm_mmu_zap_oldest_mmu_pages,
    make_mmu_pages_available,
    mmu_free_root_page,
)
from specmodel.kernel.mutants import Switches
from specmodel.kernel.reclaim import MAP, NO_EPTP, _encode_path, _fetch, nested_role
from specmodel.kernel.state import (
    HAZARD_FREED_PINNED,
    HAZARD_LOOKUP_OBSOLETE,
    HAZARD_USE_AFTER_FREE,
    LINK_ACTIVE,
    LINK_INVALID_LIST,
    LINK_NONE,
    NO_PAGE,
    ROLE_INVALID,
    Page,
    Pages,
    State,
    VmState,
    Work,
)
from specmodel.kernel.vcpu import child_role

WIDTH = 2
#: The L0-on-EPT configuration of page_reclaim, with the companion fix 7a2c70e777a0 off.
NESTED = Config(
    switches=Switches(preserve_nested_roots=False),
    tdp_enabled=True,
    spt_width=WIDTH,
    n_max_mmu_pages=4,
    min_free=1,
    refill=2,
)


def sp(
    gfn: int = 0,
    level: int = 2,
    *,
    guest_mode: bool = True,
    invalid: bool = False,
    gen: int = 0,
    root_count: int = 0,
    parents: tuple[tuple[int, int], ...] = (),
    spt: tuple[int, ...] = (NO_PAGE,) * WIDTH,
    link: int = LINK_ACTIVE,
    freed: bool = False,
    tdp: bool = False,
) -> Page:
    """A shadow page; nested-EPT role (``role.guest_mode``) unless told otherwise."""
    role = nested_role(level) if guest_mode else nested_role(level) & ~(1 << 17)
    if invalid:
        role |= ROLE_INVALID
    return Page(
        gfn=gfn,
        role=role,
        gen=gen,
        root_count=root_count,
        parents=parents,
        spt=spt,
        tdp=tdp,
        scheduled=False,
        link=link,
        freed=freed,
        epoch=0,
    )


def work(
    pages: list[Page],
    active: tuple[int, ...],
    *,
    gen: int = 0,
    threads: tuple[tuple[int, ...], ...] = (),
    writer: int = -1,
    n_used: int | None = None,
) -> Work:
    """A working copy of a state with these pages (``active`` newest first)."""
    used = n_used if n_used is not None else sum(1 for p in pages if not p.freed and not p.tdp)
    vm = VmState(
        mmu_valid_gen=gen,
        active=active,
        tdp_roots=(),
        slots_lock=-1,
        mmu_writer=writer,
        mmu_readers=0,
        mmu_queue=(),
        slots_queue=(),
        n_used_mmu_pages=used,
        epoch=0,
        hazard=0,
    )
    return Work(State(vm, Pages(pages), threads), 0)


def vcpu(mode: int, req: int = 0, root: int = 0) -> tuple[int, ...]:
    """Locals of a fast-zap vCPU thread: (pc, mode, requests, root, budget, wait, arg)."""
    return (0, mode, req, root, 1, 0, 0)


# -- FACTS C.2: is_obsolete_sp ------------------------------------------------------------


def test_an_invalid_page_is_obsolete_even_when_its_generation_is_current() -> None:
    """is_obsolete_sp checks role.invalid first: gen == kvm gen does not make it valid."""
    assert is_obsolete(sp(gen=1, invalid=True), 1)
    assert is_obsolete(sp(gen=0, invalid=True), 0)


def test_a_valid_shadow_page_is_obsolete_exactly_when_its_generation_differs() -> None:
    """Shadow pages without role.invalid are obsolete iff mmu_valid_gen differs."""
    assert not is_obsolete(sp(gen=1), 1)
    assert is_obsolete(sp(gen=0), 1)


def test_tdp_mmu_pages_ignore_the_generation() -> None:
    """A TDP MMU page is obsolete only through role.invalid (FACTS C.8)."""
    assert not is_obsolete(sp(gen=0, tdp=True), 1)
    assert is_obsolete(sp(gen=1, tdp=True, invalid=True), 1)


# -- FACTS C.3: lookup --------------------------------------------------------------------


def test_lookup_skips_an_obsolete_page_with_the_same_gfn_and_role() -> None:
    """kvm_mmu_find_shadow_page walks with for_each_valid_sp: an old-generation page is a miss."""
    w = work([sp(gfn=1, gen=0)], (0,), gen=1)
    assert kvm_mmu_find_shadow_page(w, NESTED, 1, nested_role(2)) == NO_PAGE
    assert w.vm.hazard == 0


def test_lookup_finds_a_current_page_with_the_same_gfn_and_role() -> None:
    """A valid page with equal gfn and role word is returned; another gfn or role is not."""
    w = work([sp(gfn=1, gen=1)], (0,), gen=1)
    assert kvm_mmu_find_shadow_page(w, NESTED, 1, nested_role(2)) == 0
    assert kvm_mmu_find_shadow_page(w, NESTED, 0, nested_role(2)) == NO_PAGE
    assert kvm_mmu_find_shadow_page(w, NESTED, 1, nested_role(3)) == NO_PAGE


def test_lookup_without_the_obsolete_skip_returns_it_and_records_the_hazard() -> None:
    """lookup_skips_obsolete=False returns the obsolete page and sets HAZARD_LOOKUP_OBSOLETE."""
    cfg = replace(NESTED, switches=Switches(lookup_skips_obsolete=False))
    w = work([sp(gfn=1, gen=0)], (0,), gen=1)
    assert kvm_mmu_find_shadow_page(w, cfg, 1, nested_role(2)) == 0
    assert w.vm.hazard & HAZARD_LOOKUP_OBSOLETE


def test_a_lookup_miss_allocates_at_the_head_with_the_current_generation() -> None:
    """kvm_mmu_get_shadow_page: a miss makes a new page, newest first, accounted, gen = kvm gen."""
    w = work([sp(gfn=1, gen=0)], (0,), gen=1)
    pid = kvm_mmu_get_shadow_page(w, NESTED, 1, nested_role(2))
    assert pid == 1
    assert w.pages[1].gen == 1
    assert w.pages[1].link == LINK_ACTIVE
    assert w.vm.active == (1, 0)
    assert w.vm.n_used_mmu_pages == 2


# -- FACTS H.2: kvm_mmu_zap_oldest_mmu_pages ----------------------------------------------


def test_reclaim_skips_a_pinned_page_and_zaps_the_next_oldest() -> None:
    """A page with root_count > 0 is passed over by kvm_mmu_zap_oldest_mmu_pages (H.2)."""
    pinned = sp(gfn=0, level=3, root_count=1)
    other = sp(gfn=1, level=2)
    w = work([pinned, other], (1, 0))  # sp#0 is the oldest (tail)
    assert kvm_mmu_zap_oldest_mmu_pages(w, NESTED, 1) == 1
    assert w.pages[0] == pinned  # untouched: still valid, pinned, on the list
    assert w.pages[1].freed
    assert w.vm.active == (0,)
    assert w.vm.n_used_mmu_pages == 1


def test_reclaim_with_only_pinned_pages_frees_nothing() -> None:
    """If every page is pinned, nothing is zapped and make_mmu_pages_available fails."""
    pages = [sp(gfn=0, level=3, root_count=1), sp(gfn=1, level=2, root_count=2)]
    w = work(pages, (1, 0), n_used=4)  # at the budget of NESTED (4 pages)
    assert kvm_mmu_zap_oldest_mmu_pages(w, NESTED, 2) == 0
    assert list(w.pages) == pages
    w = work(pages, (1, 0), n_used=4)
    assert make_mmu_pages_available(w, NESTED) is False


def test_reclaim_runs_only_below_the_minimum_of_free_pages() -> None:
    """make_mmu_pages_available does nothing while KVM_MIN_FREE_MMU_PAGES are free (H.1)."""
    pages = [sp(gfn=0), sp(gfn=1)]
    w = work(pages, (1, 0))  # 2 of 4 used: 2 free >= min_free 1
    assert make_mmu_pages_available(w, NESTED) is True
    assert list(w.pages) == pages
    # At the budget: reclaim the oldest until refill (2) - available (0) pages are gone.
    w = work([sp(gfn=0), sp(gfn=1), sp(gfn=0, level=3), sp(gfn=1, level=3)], (3, 2, 1, 0))
    assert make_mmu_pages_available(w, NESTED) is True
    assert [p.freed for p in w.pages] == [True, True, False, False]
    assert w.vm.active == (3, 2)


# -- FACTS H.3: the recursive zap of parentless nested pages -------------------------------


def _parent_and_child(**child: object) -> list[Page]:
    parent = sp(gfn=0, level=3, spt=(1, NO_PAGE))
    kid = sp(gfn=0, level=2, parents=((0, 0),))
    return [parent, kid._replace(**child)]


def test_a_parentless_nested_child_is_zapped_with_its_parent_on_tdp_hosts() -> None:
    """tdp_enabled and role.guest_mode: the child left without parent_ptes is zapped too (H.3)."""
    w = work(_parent_and_child(), (1, 0))
    invalid_list: list[int] = []
    assert kvm_mmu_prepare_zap_page(w, NESTED, 0, invalid_list) == (2, True)
    assert sorted(invalid_list) == [0, 1]
    assert all(p.invalid and p.link == LINK_INVALID_LIST for p in w.pages)
    assert w.vm.active == ()
    assert any("lost its last parent" in note for note in w.notes)


def test_the_parentless_child_survives_when_l0_does_not_use_tdp() -> None:
    """Without tdp_enabled the child is only unlinked: valid, parentless, still active."""
    cfg = replace(NESTED, tdp_enabled=False)
    w = work(_parent_and_child(), (1, 0))
    invalid_list: list[int] = []
    assert kvm_mmu_prepare_zap_page(w, cfg, 0, invalid_list) == (1, False)
    assert invalid_list == [0]
    assert not w.pages[1].invalid
    assert w.pages[1].parents == ()
    assert w.vm.active == (1,)


def test_a_child_that_is_not_nested_is_not_zapped_recursively() -> None:
    """The recursion is for role.guest_mode pages only."""
    w = work(_parent_and_child(role=nested_role(2) & ~(1 << 17)), (1, 0))
    invalid_list: list[int] = []
    kvm_mmu_prepare_zap_page(w, NESTED, 0, invalid_list)
    assert invalid_list == [0]
    assert not w.pages[1].invalid


def test_a_nested_child_with_another_parent_is_not_zapped() -> None:
    """Only a child with no parent SPTE left is zapped."""
    pages = _parent_and_child(parents=((0, 0), (2, 1)))
    pages.append(sp(gfn=1, level=3, spt=(NO_PAGE, 1)))
    w = work(pages, (2, 1, 0))
    invalid_list: list[int] = []
    kvm_mmu_prepare_zap_page(w, NESTED, 0, invalid_list)
    assert invalid_list == [0]
    assert w.pages[1].parents == ((2, 1),)
    assert not w.pages[1].invalid


def test_a_nested_child_in_use_as_a_root_is_zapped_without_the_companion_fix() -> None:
    """Before 7a2c70e777a0 the rule ignores root_count: the pinned child becomes invalid."""
    w = work(_parent_and_child(root_count=1), (1, 0))
    invalid_list: list[int] = []
    nr, _ = kvm_mmu_prepare_zap_page(w, NESTED, 0, invalid_list)
    assert nr == 1  # the pinned child is not counted
    assert invalid_list == [0]
    assert w.pages[1].invalid
    assert w.pages[1].link == LINK_NONE
    assert w.vm.active == ()


def test_reclaim_reports_walking_on_from_an_entry_the_recursive_zap_took_off_the_list() -> None:
    """Without 7a2c70e777a0 the walk's saved next entry can be list_del'd: a reported hazard."""
    # sp#0 (oldest) is zapped; its only child sp#1, a nested page pinned as a root, loses
    # its last parent and is zapped recursively: pinned, so list_del from active_mmu_pages,
    # and nr_zapped 0, so the list is not reported unstable. The kernel's
    # list_for_each_entry_safe_reverse then continues from sp#1 (its saved ``tmp``), whose
    # link pointers list_del has poisoned. The model must report that (UseAfterFree, the
    # hazard the explorer records), not crash with a Python error.
    pages = [
        sp(gfn=0, level=3, spt=(1, NO_PAGE)),
        sp(gfn=0, level=2, parents=((0, 0),), root_count=1),
        sp(gfn=1, level=2),
    ]
    w = work(pages, (2, 1, 0))
    with pytest.raises(UseAfterFree):
        kvm_mmu_zap_oldest_mmu_pages(w, NESTED, 2)


def test_a_nested_child_in_use_as_a_root_survives_with_the_companion_fix() -> None:
    """preserve_nested_roots (7a2c70e777a0) leaves a child with root_count > 0 alone."""
    cfg = replace(NESTED, switches=Switches(preserve_nested_roots=True))
    w = work(_parent_and_child(root_count=1), (1, 0))
    invalid_list: list[int] = []
    assert kvm_mmu_prepare_zap_page(w, cfg, 0, invalid_list) == (1, False)
    assert invalid_list == [0]
    assert not w.pages[1].invalid
    assert w.vm.active == (1,)


# -- FACTS H.5 / C.6: zapping pinned and already-invalid pages -------------------------------


def test_zapping_a_pinned_valid_root_invalidates_it_and_requests_new_roots() -> None:
    """root_count > 0: role.invalid, list_del, not freed, and every vCPU gets the request."""
    cfg = replace(NESTED, vcpu_tids=(0, 1))
    threads = (vcpu(MODE_IN_GUEST), vcpu(MODE_OUTSIDE))
    w = work([sp(gfn=0, level=3, root_count=2, gen=1)], (0,), gen=1, threads=threads)
    invalid_list: list[int] = []
    assert kvm_mmu_prepare_zap_page(w, cfg, 0, invalid_list) == (0, False)
    root = w.pages[0]
    assert root.invalid and not root.freed and root.root_count == 2
    assert root.link == LINK_NONE
    assert invalid_list == []
    assert w.vm.active == ()
    assert w.vm.n_used_mmu_pages == 1  # still accounted until the last reference goes
    assert all(t[V_REQ] & REQ_FREE_OBSOLETE_ROOTS for t in w.threads)
    assert w.threads[0][V_MODE] == MODE_EXITING  # kicked out of the guest
    assert w.threads[1][V_MODE] == MODE_OUTSIDE


def test_zapping_a_pinned_obsolete_root_makes_no_new_request() -> None:
    """An already-obsolete root (the fast-zap case) needs no request: the zap made one."""
    cfg = replace(NESTED, vcpu_tids=(0,))
    w = work([sp(gfn=0, level=3, root_count=1, gen=0)], (0,), gen=1, threads=(vcpu(1),))
    kvm_mmu_prepare_zap_page(w, cfg, 0, [])
    assert w.pages[0].invalid
    assert w.threads[0] == vcpu(MODE_IN_GUEST)


def test_an_already_invalid_page_is_added_to_the_invalid_list_without_list_del() -> None:
    """H.5: an invalid page gets a plain list_add: if it is on active_mmu_pages it stays there."""
    w = work([sp(gfn=0, level=1, invalid=True), sp(gfn=1, level=1)], (0, 1))
    invalid_list: list[int] = []
    assert kvm_mmu_prepare_zap_page(w, NESTED, 0, invalid_list) == (1, False)
    assert invalid_list == [0]
    assert w.pages[0].link == LINK_INVALID_LIST
    assert w.vm.active == (0, 1)  # not taken off
    assert any("already invalid: list_add to invalid_list" in n for n in w.notes)


def test_a_valid_page_is_moved_off_the_active_list_when_zapped() -> None:
    """The contrast: a valid page with root_count 0 is list_move'd to the invalid list."""
    w = work([sp(gfn=0, level=1), sp(gfn=1, level=1)], (0, 1))
    invalid_list: list[int] = []
    kvm_mmu_prepare_zap_page(w, NESTED, 0, invalid_list)
    assert invalid_list == [0]
    assert w.vm.active == (1,)
    assert w.pages[0].invalid


def test_freeing_an_invalid_page_left_on_the_list_makes_the_next_list_add_a_use_after_free() -> (
    None
):
    """Commit frees the page the list still points at; the next allocation touches it."""
    w = work([sp(gfn=0, level=1, invalid=True)], (0,))
    invalid_list: list[int] = []
    kvm_mmu_prepare_zap_page(w, NESTED, 0, invalid_list)
    kvm_mmu_commit_zap_page(w, invalid_list)
    assert w.pages[0].freed
    assert w.vm.active == (0,)
    with pytest.raises(UseAfterFree, match="list_add"):
        kvm_mmu_get_shadow_page(w, NESTED, 1, nested_role(1))
    assert w.vm.hazard & HAZARD_USE_AFTER_FREE


def test_dropping_the_last_reference_to_an_invalid_root_zaps_it() -> None:
    """mmu_free_root_page: root_count reaches 0 on an invalid page -> prepare-zap it (H.5)."""
    w = work([sp(gfn=0, level=3, invalid=True, root_count=1, link=LINK_NONE)], ())
    invalid_list: list[int] = []
    mmu_free_root_page(w, NESTED, 0, invalid_list)
    assert invalid_list == [0]
    assert w.pages[0].root_count == 0
    assert w.vm.n_used_mmu_pages == 0
    kvm_mmu_commit_zap_page(w, invalid_list)
    assert w.pages[0].freed
    assert w.vm.hazard == 0


def test_dropping_a_reference_to_a_valid_root_keeps_it() -> None:
    """A valid page whose root_count reaches 0 stays on the list for reuse."""
    w = work([sp(gfn=0, level=3, root_count=1)], (0,))
    invalid_list: list[int] = []
    mmu_free_root_page(w, NESTED, 0, invalid_list)
    assert invalid_list == []
    assert w.pages[0].root_count == 0
    assert not w.pages[0].invalid
    assert w.vm.active == (0,)


# -- FACTS H.6: inherited invalidity ----------------------------------------------------


def test_the_child_role_copies_role_invalid() -> None:
    """kvm_mmu_child_role: the parent's role one level down, invalid bit included."""
    assert child_role(nested_role(3) | ROLE_INVALID) == nested_role(2) | ROLE_INVALID
    assert child_role(nested_role(3)) == nested_role(2)


def test_a_child_created_under_an_invalid_root_is_invalid_from_birth() -> None:
    """FNAME(fetch) under an invalid root builds a new, invalid child at the list head (H.6)."""
    root = sp(gfn=0, level=2, invalid=True, root_count=1, link=LINK_NONE)
    same_gfn_valid = sp(gfn=1, level=1)  # a valid page for the gfn: the role word differs
    cfg = replace(NESTED, vcpu_tids=(0,))
    thread = (MAP, MODE_OUTSIDE, 0, 0, 0, 0, 3, NO_EPTP, _encode_path((1,)), ())
    w = work([root, same_gfn_valid], (1,), threads=(thread,), writer=0)
    text = _fetch(w, 0, cfg)
    assert "INVALID" in text
    child = w.pages[2]
    assert child.invalid
    assert child.level == 1
    assert child.parents == ((0, 1),)
    assert child.link == LINK_ACTIVE
    assert w.pages[0].spt[1] == 2
    assert w.vm.active == (2, 1)  # an invalid page on active_mmu_pages: F2 broken
    assert w.vm.mmu_writer == -1  # fetch drops mmu_lock


# -- FACTS C.7: commit -------------------------------------------------------------------


def test_committing_a_pinned_page_frees_it_and_records_the_hazard() -> None:
    """kvm_mmu_commit_zap_page WARNs and frees a page with root_count > 0: HAZARD_FREED_PINNED."""
    w = work([sp(root_count=1, invalid=True, link=LINK_INVALID_LIST)], ())
    invalid_list = [0]
    kvm_mmu_commit_zap_page(w, invalid_list)
    assert w.pages[0].freed
    assert w.vm.hazard & HAZARD_FREED_PINNED
    assert invalid_list == []


def test_committing_unpinned_pages_records_no_hazard() -> None:
    """The ordinary case frees the pages and leaves the hazard bits alone."""
    w = work([sp(invalid=True, link=LINK_INVALID_LIST)], ())
    kvm_mmu_commit_zap_page(w, [0])
    assert w.pages[0].freed
    assert w.pages[0].link == LINK_NONE
    assert w.vm.hazard == 0


def test_touching_a_freed_page_raises_use_after_free() -> None:
    """Work.page on a freed page raises UseAfterFree naming the operation and the page."""
    w = work([sp(freed=True)], ())
    with pytest.raises(UseAfterFree, match=r"drop_parent_pte touched freed sp#0"):
        w.page(0, "drop_parent_pte")
    assert w.vm.hazard & HAZARD_USE_AFTER_FREE


def test_list_del_next_to_a_freed_page_is_a_use_after_free() -> None:
    """list_del writes both neighbours, so a freed neighbour is touched."""
    w = work([sp(gfn=0), sp(gfn=1, freed=True)], (0, 1))
    with pytest.raises(UseAfterFree):
        w.list_del(0)


# -- locks.py: the FIFO queue of mmu_lock and slots_lock ------------------------------------


def _vm(**kw: object) -> VmState:
    return work([], ()).vm._replace(**kw)


def test_a_waiter_at_the_head_of_the_queue_gets_mmu_lock_before_a_newcomer() -> None:
    """The queue is FIFO: a newcomer queues behind the waiter even though the lock is free."""
    vm = _vm(mmu_queue=((1, True),))
    assert mmu_lock_step(vm, 2, True) is LockStep.ENQUEUE
    assert mmu_lock_step(vm, 2, False) is LockStep.ENQUEUE
    assert mmu_lock_step(vm, 1, True) is LockStep.ACQUIRE
    w = Work(State(vm, Pages(), ((), (), ())), 1)
    assert mmu_lock(w, 1, True)
    assert w.vm.mmu_writer == 1 and w.vm.mmu_queue == ()


def test_a_queued_thread_cannot_step_until_it_is_at_the_head() -> None:
    """Behind another waiter a queued thread is BLOCKED (it has no step)."""
    vm = _vm(mmu_writer=0, mmu_queue=((1, True), (2, False)))
    assert mmu_lock_step(vm, 1, True) is LockStep.BLOCKED  # head, but the lock is held
    assert mmu_lock_step(vm, 2, False) is LockStep.BLOCKED  # not at the head


def test_readers_share_mmu_lock() -> None:
    """A reader takes mmu_lock while another reader holds it."""
    vm = _vm(mmu_readers=1 << 0)
    assert mmu_lock_step(vm, 1, False) is LockStep.ACQUIRE
    w = Work(State(vm, Pages(), ((), ())), 1)
    assert mmu_lock(w, 1, False)
    assert w.vm.mmu_readers == 0b11
    mmu_unlock(w, 0, False)
    assert w.vm.mmu_readers == 0b10


def test_a_writer_excludes_readers_and_writers() -> None:
    """While a writer holds mmu_lock everyone else queues; a writer waits for readers."""
    held = _vm(mmu_writer=0)
    assert mmu_lock_step(held, 1, False) is LockStep.ENQUEUE
    assert mmu_lock_step(held, 1, True) is LockStep.ENQUEUE
    read = _vm(mmu_readers=1 << 0)
    assert mmu_lock_step(read, 1, True) is LockStep.ENQUEUE
    w = Work(State(read, Pages(), ((), ())), 1)
    assert not mmu_lock(w, 1, True)
    assert w.vm.mmu_queue == ((1, True),)


def test_a_reader_does_not_overtake_a_queued_writer() -> None:
    """Fair rwlock: with a writer queued, a new reader queues too (no writer starvation)."""
    vm = _vm(mmu_readers=1 << 0, mmu_queue=((1, True),))
    assert mmu_lock_step(vm, 2, False) is LockStep.ENQUEUE


def test_slots_lock_is_handed_over_in_queue_order() -> None:
    """slots_lock: the head waiter takes it once free; a newcomer queues behind."""
    vm = _vm(slots_queue=(1,))
    assert slots_lock_step(vm, 1) is LockStep.ACQUIRE
    assert slots_lock_step(vm, 2) is LockStep.ENQUEUE
    assert slots_lock_step(vm._replace(slots_lock=0), 1) is LockStep.BLOCKED
