"""The model as the kernel runs it (issue 15): each interleaving added is reachable.

Yields without a waiter, previous roots, the fast zap over nested roots, hazards named as the
kernel fails (poisoned list pointers, a second list_del, a TDP root freed alone), the
pre-v6.0 child role, the second wait metric, and page_reclaim's refused common parameters.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import pytest

from specmodel import explore, replay
from specmodel.claims import Claim, ClaimContext, ClaimFailed, all_claims
from specmodel.errors import BadParameterError
from specmodel.kernel.config import Config
from specmodel.kernel.locks import mmu_lock
from specmodel.kernel.mmu import kvm_mmu_prepare_zap_page, tdp_mmu_free_root
from specmodel.kernel.mutants import MUTANTS, Switches
from specmodel.kernel.reclaim import CHECK, NO_EPTP, _eptp, _new_pgd, nested_role
from specmodel.kernel.scenarios import instantiate
from specmodel.kernel.shrinker import shrinker_initial, shrinker_step
from specmodel.kernel.state import (
    HAZARD_POISONED_POINTER,
    LINK_ACTIVE,
    LINK_NONE,
    LINK_TDP_ROOTS,
    NO_PAGE,
    Page,
    Pages,
    PoisonedPointer,
    State,
    VmState,
    Work,
)
from specmodel.kernel.zap import zapper_step

#: Found by breadth-first search of fast_zap_nested at steps=5 on pre_2abd5287f083
#: (812,328 states): one vCPU, a cached previous root, the zap's walk meets the recursive
#: zap of the parentless nested child that is the vCPU's cached root (docs/reclaim.rst).
NESTED_SCHEDULE = (
    "0,1,1,1/2,1,1,1,1,1,1,1/5,1,1,1,1,1,1,1,1,1,1,1,1,1,1/1,1,1,1,1,1,1,1/5,1,1,1,1,0,0,0,0,0"
)


def _page(gfn: int, level: int, **kw: object) -> Page:
    fields: dict[str, object] = {
        "gfn": gfn,
        "role": nested_role(level),
        "gen": 0,
        "root_count": 0,
        "parents": (),
        "spt": (NO_PAGE, NO_PAGE),
        "tdp": False,
        "scheduled": False,
        "link": LINK_ACTIVE,
        "freed": False,
        "epoch": 0,
    }
    fields.update(kw)
    return Page(**fields)  # type: ignore[arg-type]


def _work(pages: list[Page], active: tuple[int, ...], threads: tuple[object, ...] = ()) -> Work:
    vm = VmState(0, active, (), -1, -1, 0, (), (), len(active), 0, 0)
    return Work(State(vm, Pages(pages), threads), 0)  # type: ignore[arg-type]


# -- 1. cond_resched_rwlock_write() ------------------------------------------------------


def test_a_preemptible_kernel_may_yield_with_nobody_queued() -> None:
    """should_resched() can be true with no waiter: the zapper drops mmu_lock mid-walk even
    with no vCPU at all, which the model before issue 15 never did on a preemptible kernel."""
    yielded = (
        "not (kvm.slots_lock_owner == 'zapper' and kvm.mmu_lock_writer is None "
        "and kvm.arch.mmu_valid_gen == 1 and len(kvm.arch.active_mmu_pages) > 0)"
    )
    found = explore("fast_zap", vcpus=0, pages=4, batch=1, invariants=[yielded])
    assert found.violation is not None
    assert "cond_resched_rwlock_write: yield (need_resched)" in "\n".join(
        s.op for s in found.violation.trace.steps
    )
    held = explore("fast_zap", vcpus=0, pages=4, batch=1, mutant="no_yield", invariants=[yielded])
    assert held.holds


@pytest.mark.parametrize(
    ("preemptible", "queued", "labels"),
    [
        (True, True, ["cond_resched_rwlock_write: yield (mmu_lock contended)"]),
        (
            True,
            False,
            ["cond_resched_rwlock_write: yield (need_resched)", "kvm_zap_obsolete_pages"],
        ),
        (
            False,
            True,
            ["cond_resched_rwlock_write: yield (need_resched)", "kvm_zap_obsolete_pages"],
        ),
        (
            False,
            False,
            ["cond_resched_rwlock_write: yield (need_resched)", "kvm_zap_obsolete_pages"],
        ),
    ],
)
def test_the_yield_rule_at_a_full_batch(preemptible: bool, queued: bool, labels: list[str]) -> None:
    """Forced only on a preemptible kernel with a waiter; a free choice in every other case."""
    _, _, cfg, state, _programs, _ = instantiate(
        "fast_zap", (), {"vcpus": 1, "pages": 4, "batch": 1, "preemptible": preemptible}
    )
    cfg = replace(cfg, preemptible=preemptible)
    # run the zapper alone up to its first batch boundary
    while True:
        (succ,) = zapper_step(state, 0, cfg)
        state = succ.state
        if state.threads[0][1] >= cfg.batch:
            break
    if queued:
        w = Work(state, 1)
        assert not mmu_lock(w, 1, True)  # vcpu0 joins the queue
        state = w.freeze()
    got = [
        s.label.split(":")[0] + (":" + s.label.split(":")[1] if "yield" in s.label else "")
        for s in zapper_step(state, 0, cfg)
    ]
    assert got == labels


# -- 5. hazards as the kernel fails ------------------------------------------------------


def test_a_second_list_del_is_a_general_protection_fault_not_skipped() -> None:
    """A pinned page already taken off the list and zapped again: list_del writes through
    LIST_POISON. Recorded as HAZARD_POISONED_POINTER."""
    pinned = _page(0, 2, root_count=1, link=LINK_NONE, role=nested_role(2) | (1 << 11))
    w = _work([pinned], ())
    with pytest.raises(PoisonedPointer, match=r"list_del.*a second time"):
        kvm_mmu_prepare_zap_page(w, Config(), 0, [])
    assert w.vm.hazard & HAZARD_POISONED_POINTER


def test_a_tdp_root_is_freed_alone() -> None:
    """kvm_tdp_mmu_put_root() frees the root page; children were zapped before, and one that
    was not is left for parent_ptes_live to report rather than freed silently."""
    root = _page(0, 4, tdp=True, link=LINK_TDP_ROOTS, spt=(1, NO_PAGE), root_count=0)
    child = _page(1, 3, tdp=True, link=LINK_NONE, parents=((0, 0),))
    vm = VmState(0, (), (0,), -1, -1, 0, (), (), 0, 0, 0)
    w = Work(State(vm, Pages([root, child]), ()), 0)
    tdp_mmu_free_root(w, 0)
    assert w.pages[0].freed and w.vm.tdp_roots == ()
    assert not w.pages[1].freed


# -- 2. previous roots -------------------------------------------------------------------


def _vcpu(root: int, prev: tuple[int, ...], eptp: int) -> tuple[object, ...]:
    return (CHECK, 0, 0, root, 0, 0, 3, NO_EPTP, eptp, prev)


def test_a_pgd_switch_keeps_the_old_root_cached_and_pinned() -> None:
    """cached_root_find_and_keep_current(): the current root rotates into prev_roots
    (root_count unchanged); a miss frees only what falls off the end."""
    a, b = _page(0, 3, root_count=1), _page(1, 2, root_count=1)
    w = _work([a, b], (1, 0), threads=(_vcpu(0, (1,), _eptp(2, 0)),))
    # a miss (level 2, gfn 0 is neither root): sp#0 goes to the cache, sp#1 falls off
    text = _new_pgd(w, 0, Config(prev_roots=1), _eptp(2, 0))
    assert w.threads[0][3] == NO_PAGE and w.threads[0][9] == (0,)
    assert w.pages[0].root_count == 1 and w.pages[1].root_count == 0
    assert "mmu_free_root_page(sp#1)" in text
    # a hit in the cache without a current root: cached_root_find_without_current()
    text = _new_pgd(w, 0, Config(prev_roots=1), _eptp(3, 0))
    assert w.threads[0][3] == 0 and w.threads[0][9] == (NO_PAGE,)
    assert "becomes current" in text


def test_one_vcpu_with_a_cached_root_reaches_what_needed_two() -> None:
    """The nested fast-zap schedule walks a poisoned pointer with one cached root, and the
    same guest actions are harmless when a PGD switch frees the old root (prev_roots=0)."""
    hit = replay("fast_zap_nested", NESTED_SCHEDULE, steps=5, mutant="pre_2abd5287f083")
    assert hit.violation is not None
    assert hit.violation.invariant == "no_poisoned_list_walk"
    assert "GENERAL PROTECTION FAULT" in hit.violation.trace.steps[-1].op
    assert {s.thread for s in hit.violation.trace.steps} == {"zapper", "vcpu0"}
    assert replay("fast_zap_nested", NESTED_SCHEDULE, steps=5, prev_roots=0).holds


# -- 4. the fast zap over nested roots ---------------------------------------------------


@pytest.mark.parametrize(
    ("mutant", "fix", "violated"),
    [
        ("pre_2abd5287f083", 0, True),
        (None, 0, True),  # 2abd5287f083 alone
        ("pre_2abd5287f083", 1, False),  # 7a2c70e777a0 alone
        (None, 1, False),  # both
        ("pre_v6_0_child_role", 0, True),
    ],
    ids=["neither", "2abd5287f083-only", "7a2c70e777a0-only", "both", "pre-v6.0"],
)
def test_the_nested_fast_zap_schedule_on_each_kernel(
    mutant: str | None, fix: int, violated: bool
) -> None:
    result = replay(
        "fast_zap_nested", NESTED_SCHEDULE, steps=5, mutant=mutant, fix_7a2c70e777a0=fix
    )
    assert (result.violation is not None) == violated
    if result.violation is not None:
        assert result.violation.invariant == "no_poisoned_list_walk"
        assert len(result.violation.trace) == 41


def test_fast_zap_nested_is_small_by_default() -> None:
    result = explore("fast_zap_nested")
    assert result.holds and result.exhaustive
    assert result.states < 50_000


# -- 6. versions -------------------------------------------------------------------------


def test_before_v6_0_no_child_is_born_invalid_and_the_cve_chain_is_gone() -> None:
    assert "child_inherits_invalid" in MUTANTS["pre_v6_0_child_role"].flips
    assert explore("page_reclaim", mutant="pre_v6_0_child_role").holds
    assert not explore("page_reclaim", mutant="pre_2abd5287f083").holds
    assert "~v6.0" in MUTANTS["pre_2abd5287f083"].summary
    assert "v5.9" not in MUTANTS["pre_2abd5287f083"].summary
    assert "~v6.9" in (Switches.__doc__ or "")


# -- 7. the second wait metric -----------------------------------------------------------


def test_pages_prepared_while_waiting_count_the_pinned_root() -> None:
    m = explore("fast_zap", vcpus=1, pages=4, batch=2).metrics
    assert m["max_vcpu_mmu_lock_wait"] == 2
    assert m["max_vcpu_mmu_lock_wait_prepared"] == 3  # the shared root, pinned: prepared only


# -- 9. page_reclaim's common parameters -------------------------------------------------


@pytest.mark.parametrize(
    ("name", "instead"), [("pages", "max_pages"), ("batch", "fast_zap_nested")]
)
def test_page_reclaim_names_the_parameter_to_use_instead(name: str, instead: str) -> None:
    with pytest.raises(BadParameterError) as err:
        explore("page_reclaim", **{name: 3})
    assert f"scenario 'page_reclaim' has no parameter {name!r}" in str(err.value)
    assert instead in str(err.value)
    assert "expected one of" not in str(err.value)


def test_the_cli_refuses_pages_on_page_reclaim_with_exit_2() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "specmodel", "explore", "page_reclaim", "--pages", "3"],
        capture_output=True,
        text=True,
        env={"NO_COLOR": "1", "PATH": ""},
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "has no parameter 'pages'" in proc.stderr
    assert "max_pages" in proc.stderr
    assert "Traceback" not in proc.stderr


# -- 3. the shrinker and kvm->arch.zapped_obsolete_pages ---------------------------------


def test_the_shrinker_takes_mmu_lock_while_the_zapper_has_yielded() -> None:
    """mmu_shrink_scan() can run in the zapper's yield (the zap still holding slots_lock),
    at which point kvm->arch.zapped_obsolete_pages holds what the walk zapped so far."""
    in_yield = (
        "not (kvm.slots_lock_owner == 'zapper' and kvm.arch.mmu_valid_gen == 1 "
        "and kvm.mmu_lock_writer == 'shrinker')"
    )
    found = explore(
        "fast_zap",
        vcpus=0,
        pages=4,
        batch=1,
        shrinker=1,
        atomic_sections=False,
        invariants=[in_yield],
    )
    assert found.violation is not None
    steps = found.violation.trace.steps
    assert steps[-1].thread == "shrinker"
    assert "cond_resched_rwlock_write: write_unlock" in [s.op for s in steps]
    assert not explore("fast_zap", vcpus=0, pages=4, batch=1, shrinker=1).violation


def test_the_shrinker_run_frees_the_zapped_list() -> None:
    pages = [_page(0, 2, link=2, role=nested_role(2) | (1 << 11))]
    vm = VmState(1, (), (), 0, -1, 0, (), (), 0, 1, 0, (0,))
    state = State(vm, Pages(pages), (shrinker_initial(1),))
    (succ,) = shrinker_step(state, 0, Config(shrinker_tids=(0,)))
    assert succ.state.pages[0].freed
    assert succ.state.vm.zapped == ()
    assert "commit kvm->arch.zapped_obsolete_pages" in succ.label
    assert shrinker_step(succ.state, 0, Config(shrinker_tids=(0,))) == []


def _fast_zap_claims() -> list[Claim]:
    return [
        c
        for c in all_claims()
        if not c.kernel_refutes and set(c.scenarios) & {"fast_zap", "fast_zap_tdp"}
    ]


@pytest.mark.parametrize("extra", ["shrinker", "prev_roots"])
@pytest.mark.parametrize("claim", _fast_zap_claims(), ids=lambda c: c.id)
def test_with_the_shrinker_or_a_cached_root_the_fast_zap_claims_still_hold(
    claim: Claim, extra: str
) -> None:
    """docs/fast_zap.rst: every claim holds with shrinker=1 (or prev_roots=1) and each
    mutant still refutes it."""
    for mutant in (None, *claim.mutants):
        ctx = ClaimContext(claim, mutant, {**claim.params, extra: 1}, 2_000_000, 120)
        try:
            claim.check(ctx)
            held = True
        except ClaimFailed:
            held = False
        assert held == (mutant is None), (claim.id, mutant)
        assert any(e.states > 0 for e in ctx.explorations)


def test_one_vcpu_with_a_cached_root_walks_the_poisoned_pointer_in_page_reclaim() -> None:
    """The page_reclaim walk that needed two vCPUs without cached roots (test_reclaim.py)
    needs one with prev_roots=1 (found by seeded random walks, seed 10)."""
    schedule = (
        "0,0,0/2,0,0,0,0,0,0,0/6,0,0,0,0,0,0,0/8,0,0,0,0,0,0,0/1,0,0,0,0,0,0,0/"
        "3,0,0,0,0,0,0,0/6,0,0,0,0,0,0,0/5,0,0"
    )
    one = {"vcpus": 1, "steps": 7, "prev_roots": 1}
    alone = replay("page_reclaim", schedule, fix_7a2c70e777a0=0, **one)
    assert alone.violation is not None
    assert alone.violation.invariant == "no_poisoned_list_walk"
    assert len(alone.violation.trace) == 47
    assert replay("page_reclaim", schedule, fix_7a2c70e777a0=1, **one).holds


def test_fast_zap_with_a_cached_root_drops_it_in_kvm_mmu_free_obsolete_roots() -> None:
    """prev_roots=1 in fast_zap: the zap only takes the cached root off the list (pinned,
    prepared but not freed), and the vCPU frees it among its previous roots."""
    found = explore(
        "fast_zap", vcpus=1, pages=4, batch=2, prev_roots=1, invariants=["4 in kvm.pages"]
    )
    assert found.violation is not None
    ops = [s.op for s in found.violation.trace.steps]
    assert "sp#4 pinned (root_count 1): invalid, off active_mmu_pages" in "\n".join(ops)
    assert "dropped obsolete root sp#4 (previous)" in ops[-1]
    m = explore("fast_zap", vcpus=1, pages=4, batch=2, prev_roots=1).metrics
    assert m["max_vcpu_mmu_lock_wait_prepared"] == m["max_vcpu_mmu_lock_wait"] + 2
