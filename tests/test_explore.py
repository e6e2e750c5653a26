"""Tests for specmodel.explore: verdicts of the kernel model and its mutants, counterexample
traces (shortest, readable, replayable), determinism, state counting, and input errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import specmodel
from specmodel import (
    BadParameterError,
    BudgetExceededError,
    InvariantExpressionError,
    Kvm,
    KvmMmuPage,
    UnknownNameError,
    VcpuMode,
    explore,
    replay,
)
from specmodel.explorer.invariants import BUILTIN
from specmodel.kernel.mutants import MUTANTS
from specmodel.kernel.scenarios import instantiate, scenario_names

FAST_ZAP_SCENARIOS = ("fast_zap", "fast_zap_tdp", "concurrent_zaps")

#: F7 of FACTS F ("Invariants"), in its corrected three parts.
F7 = (
    "no_entry_with_request",
    "no_guest_on_obsolete_root_after_request",
    "guest_pages_not_zapped",
)


def _kernel_grid() -> Iterator[Any]:
    for scenario in FAST_ZAP_SCENARIOS:
        for pages in (1, 3, 6):
            for batch in (2, 10):
                yield pytest.param(
                    scenario,
                    {"vcpus": 1, "pages": pages, "batch": batch},
                    id=f"{scenario}-v1-p{pages}-b{batch}",
                )
    # Two vCPUs: concurrent_zaps with one guest entry each keeps a run under ~2 s.
    two = [
        ("fast_zap", {"pages": 2, "batch": 2}),
        ("fast_zap", {"pages": 4, "batch": 2}),
        ("fast_zap", {"pages": 4, "batch": 10}),
        ("fast_zap", {"pages": 4, "batch": 2, "preemptible": False, "entries": 1}),
        ("fast_zap_tdp", {"pages": 2, "batch": 2}),
        ("fast_zap_tdp", {"pages": 4, "batch": 10}),
        ("concurrent_zaps", {"pages": 2, "batch": 2, "entries": 1}),
        ("concurrent_zaps", {"pages": 4, "batch": 2, "entries": 1}),
        ("concurrent_zaps", {"pages": 4, "batch": 10, "entries": 1}),
    ]
    for scenario, params in two:
        ident = "-".join(f"{k[0]}{int(v)}" for k, v in params.items())
        yield pytest.param(scenario, {"vcpus": 2, **params}, id=f"{scenario}-v2-{ident}")
    yield pytest.param(
        "fast_zap", {"vcpus": 1, "pages": 6, "batch": 2, "preemptible": False}, id="fast_zap-np"
    )
    yield pytest.param(
        "concurrent_zaps", {"vcpus": 0, "pages": 8, "batch": 2}, id="concurrent_zaps-v0-p8-b2"
    )


@pytest.mark.parametrize(("scenario", "params"), list(_kernel_grid()))
def test_the_kernel_model_satisfies_every_builtin_invariant(
    scenario: str, params: dict[str, int]
) -> None:
    """Exhaustive search of the unmutated model finds no violated built-in invariant."""
    result = explore(scenario, **params)
    assert result.violation is None, result.violation.render()
    assert result.holds
    assert result.exhaustive
    assert result.states > 1
    assert set(result.invariants) == set(BUILTIN)


# -- each mutant is caught ------------------------------------------------------------------


def test_no_slots_lock_breaks_the_stale_generation_property_when_a_zap_yields_midway() -> None:
    """Two unserialised zaps toggle the generation back: a pre-switch page looks valid."""
    kernel = explore("concurrent_zaps", batch=2, pages=8)
    assert kernel.holds
    result = explore("concurrent_zaps", mutant="no_slots_lock", batch=2, pages=8)
    assert result.violation is not None
    assert result.violation.invariant == "stale_generation_unused"
    ops = [(s.thread, s.op) for s in result.violation.trace.steps]
    first = next(i for i, (t, op) in enumerate(ops) if "mmu_valid_gen 0 -> 1" in op)
    yielded = next(i for i, (t, op) in enumerate(ops) if "cond_resched_rwlock_write: yield" in op)
    second = next(i for i, (t, op) in enumerate(ops) if "mmu_valid_gen 1 -> 0" in op)
    assert first < yielded < second
    assert ops[first][0] != ops[second][0]  # two different deletions toggled


@pytest.mark.parametrize(
    ("batch", "pages"), [(10, 4), (10, 10), (2, 2), (2, 1)], ids=lambda v: str(v)
)
def test_no_slots_lock_is_not_caught_when_mmu_lock_serialises_the_zaps(
    batch: int, pages: int
) -> None:
    """With pages <= batch the first zap never yields mid-walk, so mmu_lock alone suffices."""
    assert explore("concurrent_zaps", mutant="no_slots_lock", batch=batch, pages=pages).holds


def test_no_slots_lock_is_caught_as_soon_as_the_unpinned_pages_exceed_the_batch() -> None:
    """One page more than the batch is enough for the second zap to get in."""
    assert not explore("concurrent_zaps", mutant="no_slots_lock", batch=2, pages=3).holds
    assert not explore("concurrent_zaps", mutant="no_slots_lock", batch=10, pages=11).holds


def test_no_reload_request_breaks_f7b_a_vcpu_runs_on_an_obsolete_root() -> None:
    """Without the request a vCPU is in guest mode on an obsolete root after the request step."""
    assert explore("fast_zap", vcpus=1, pages=4).holds
    result = explore("fast_zap", mutant="no_reload_request", vcpus=1, pages=4)
    assert result.violation is not None
    assert result.violation.invariant == "no_guest_on_obsolete_root_after_request"
    assert result.violation.invariant in F7
    assert "vcpu0 on sp#0" in result.violation.message


def test_reuse_obsolete_pages_makes_lookup_return_an_obsolete_page() -> None:
    """Without for_each_valid_sp's skip a fault links a page of the old generation."""
    result = explore("fast_zap", mutant="reuse_obsolete_pages", batch=1, pages=4)
    assert result.violation is not None
    assert result.violation.invariant == "lookup_returns_valid"
    last = result.violation.trace.steps[-1]
    assert last.thread == "vcpu0"
    assert last.op.startswith("kvm_mmu_page_fault: write_lock(&kvm->mmu_lock); map gfn 1 with sp#")


def test_counter_generation_leaves_zero_and_one() -> None:
    """An incremented generation reaches 2 at the second deletion."""
    result = explore("concurrent_zaps", mutant="counter_generation")
    assert result.violation is not None
    assert result.violation.invariant == "generation_0_or_1"
    assert "found 2" in result.violation.message
    assert "mmu_valid_gen 1 -> 2" in result.violation.trace.steps[-1].op


def test_no_yield_keeps_every_invariant_but_the_longest_wait_grows_with_the_pages() -> None:
    """Without the yield a vCPU waits for the whole zap; with it, for about one batch."""
    batch, sizes = 2, (4, 6, 8)
    mutant = [explore("fast_zap", mutant="no_yield", vcpus=1, batch=batch, pages=p) for p in sizes]
    kernel = [explore("fast_zap", vcpus=1, batch=batch, pages=p) for p in sizes]
    assert all(r.holds for r in mutant + kernel)
    waits = [r.metrics["max_vcpu_mmu_lock_wait"] for r in mutant]
    assert waits[0] < waits[1] < waits[2], waits
    assert all(r.metrics["max_vcpu_mmu_lock_wait"] <= batch + 1 for r in kernel)


# -- fidelity: the corrected F7 ------------------------------------------------------------


def test_a_vcpu_can_enter_the_guest_on_an_obsolete_root_between_toggle_and_request() -> None:
    """FACTS C.9: "never enters on an obsolete root" is refuted; the entry falls in the window."""
    result = explore("fast_zap", invariants=["never_enters_on_obsolete_root"])
    violation = result.violation
    assert violation is not None
    assert violation.invariant == "never_enters_on_obsolete_root"
    steps = violation.trace.steps
    assert len(steps) <= 8
    toggle = next(s.index for s in steps if s.thread == "zapper" and "toggle" in s.op)
    entry = next(
        s.index for s in steps if s.thread.startswith("vcpu") and "enter guest on root" in s.op
    )
    # the vCPU's request check: the step of the entry itself (the reduced model runs the
    # check and the entry as one step) or, without the reduction, the step before it
    check = max(
        s.index
        for s in steps
        if s.thread == steps[entry - 1].thread and "vcpu_enter_guest: no request" in s.op
    )
    requests = [s.index for s in steps if "kvm_make_all_cpus_request" in s.op]
    assert toggle < check <= entry  # the last request check, too, came after the toggle
    assert all(r > entry for r in requests)  # ... and the request had not been made yet
    assert "(obsolete)" in steps[entry - 1].op
    # The zapper's next step is the request, whose IPI kicks that vCPU out of the guest.
    after = replay(
        "fast_zap",
        violation.trace.schedule + ",0",
        invariants=["kvm.vcpus[0].mode != EXITING_GUEST_MODE"],
    )
    assert after.violation is not None
    assert len(after.violation.trace) == len(steps) + 1
    assert after.violation.trace.steps[-1].op.endswith("kick vcpu0")


def test_every_builtin_invariant_holds_on_fast_zap_including_f7() -> None:
    """The same model satisfies all of F7 (a), (b) and (c) and every other built-in."""
    for vcpus in (1, 2):
        result = explore("fast_zap", vcpus=vcpus, pages=4)
        assert result.holds
        assert set(F7) <= set(result.invariants)


# -- counterexamples: short, replayable, shortest ---------------------------------------------

MUTANT_CASES = [
    ("concurrent_zaps", "no_slots_lock", {"batch": 2, "pages": 8}, "stale_generation_unused", 15),
    ("fast_zap", "no_reload_request", {}, "no_guest_on_obsolete_root_after_request", 6),
    ("fast_zap", "no_reload_request", {"vcpus": 2}, "no_guest_on_obsolete_root_after_request", 6),
    ("fast_zap", "reuse_obsolete_pages", {"batch": 1, "pages": 4}, "lookup_returns_valid", 20),
    (
        "fast_zap",
        "reuse_obsolete_pages",
        {"vcpus": 2, "batch": 1, "pages": 4},
        "lookup_returns_valid",
        20,
    ),
    ("concurrent_zaps", "counter_generation", {}, "generation_0_or_1", 15),
    # Marking each page role.invalid leaves invalid pages on the list: F2 is checked first.
    ("fast_zap", "mark_pages_on_switch", {}, "no_invalid_on_active", 5),
    ("fast_zap", "early_return", {"batch": 2}, "no_obsolete_outside_zap", 12),
    ("fast_zap", "insert_at_tail", {"batch": 1}, "fifo_partition", 16),
    ("fast_zap", "free_pinned_pages", {"pages": 3}, "pinned_never_freed", 10),
    ("fast_zap_tdp", "no_tdp_root_invalidation", {"pages": 3}, "zap_done_on_return", 14),
]


@pytest.mark.parametrize(
    ("scenario", "mutant", "params", "invariant", "bound"),
    MUTANT_CASES,
    ids=[f"{c[1]}-{'-'.join(f'{k}{v}' for k, v in c[2].items())}" for c in MUTANT_CASES],
)
def test_a_mutant_counterexample_is_short_and_replays_to_the_same_violation(
    scenario: str, mutant: str, params: dict[str, int], invariant: str, bound: int
) -> None:
    """The trace is at most ``bound`` numbered steps and replay() reaches the same violation."""
    result = explore(scenario, mutant=mutant, **params)
    violation = result.violation
    assert violation is not None
    assert violation.invariant == invariant
    steps = violation.trace.steps
    assert 0 < len(steps) <= bound
    assert [s.index for s in steps] == list(range(1, len(steps) + 1))
    assert all(s.thread in violation.trace.threads and s.op for s in steps)
    again = replay(scenario, violation.trace.schedule, mutant=mutant, **params)
    assert again.violation is not None
    assert again.violation.invariant == violation.invariant
    assert again.violation.message == violation.message
    assert again.violation.trace.steps == steps
    # The violation appears exactly at the last step: the prefix still holds.
    prefix = ",".join(violation.trace.schedule.split(",")[:-1])
    assert replay(scenario, prefix, mutant=mutant, **params).holds


def test_the_rendered_trace_numbers_each_step_and_names_thread_and_operation() -> None:
    """Violation.render() starts with the invariant and lists '  N. thread  op  [locks]'."""
    result = explore("fast_zap", mutant="no_reload_request")
    text = result.violation.render()  # type: ignore[union-attr]
    lines = text.splitlines()
    assert lines[0].startswith("invariant no_guest_on_obsolete_root_after_request violated: ")
    assert lines[1].split() == [
        "1.",
        "zapper",
        "mutex_lock(&kvm->slots_lock)",
        "[holds",
        "slots_lock]",
    ]
    assert "kvm_mmu_zap_all_fast: toggle: mmu_valid_gen 0 -> 1" in lines[3]
    assert "vcpu0" in lines[-1] and "IN_GUEST_MODE" in lines[-1]


def _independent_violation_depth(
    scenario: str, mutant: str, limit: int, **params: int
) -> int | None:
    """Depth of the shallowest built-in violation, by plain depth-first enumeration of every
    schedule up to ``limit`` steps with the scenario's own step functions (no deduplication,
    no explorer code), or None."""
    _, _, cfg, initial, programs, _ = instantiate(scenario, (mutant,), params)
    best: int | None = None

    def violated(state: Any) -> bool:
        return any(inv.check(cfg, state) is not None for inv in BUILTIN.values())

    def walk(state: Any, depth: int) -> None:
        nonlocal best
        if violated(state):
            best = depth if best is None else min(best, depth)
            return
        if depth == limit:
            return
        for tid, program in enumerate(programs):
            for succ in program(state, tid, cfg):
                walk(succ.state, depth + 1)

    walk(initial, 0)
    return best


def test_bfs_gives_the_shortest_trace_for_no_reload_request() -> None:
    """The no_reload_request counterexample is the 5-step minimum argued by hand."""
    # F7b needs the zapper's request step done (its straight-line mutex_lock, write_lock,
    # toggle, request: 4 steps) and a vCPU in guest mode (it starts outside with its root
    # loaded: the request check and the entry, one step in the reduced model). Before the
    # request step nothing is checked by F7b and no other invariant can fail, so nothing
    # shorter exists.
    result = explore("fast_zap", mutant="no_reload_request", vcpus=1, pages=4)
    steps = result.violation.trace.steps  # type: ignore[union-attr]
    assert len(steps) == 5
    zapper = [s.op for s in steps if s.thread == "zapper"]
    vcpu = [s.op for s in steps if s.thread == "vcpu0"]
    assert zapper == [
        "mutex_lock(&kvm->slots_lock)",
        "kvm_mmu_zap_all_fast: write_lock(&kvm->mmu_lock)",
        "kvm_mmu_zap_all_fast: toggle: mmu_valid_gen 0 -> 1",
        "kvm_make_all_cpus_request(KVM_REQ_MMU_FREE_OBSOLETE_ROOTS): skipped (mutant)",
    ]
    assert vcpu == [
        "vcpu_enter_guest: no request; vcpu->mode = IN_GUEST_MODE: "
        "enter guest on root sp#0 (obsolete)",
    ]
    # Cross-check without the explorer: no schedule of 4 steps or fewer violates anything.
    assert _independent_violation_depth("fast_zap", "no_reload_request", 5, vcpus=1, pages=4) == 5
    # Without the reduction the check and the entry are two steps: one more.
    split = explore("fast_zap", mutant="no_reload_request", vcpus=1, pages=4, atomic_sections=False)
    assert split.violation is not None
    assert [s.op for s in split.violation.trace.steps if s.thread == "vcpu0"] == [
        "vcpu_enter_guest: no request",
        "vcpu_enter_guest: vcpu->mode = IN_GUEST_MODE: enter guest on root sp#0 (obsolete)",
    ]


# -- determinism and state counting ---------------------------------------------------------


@pytest.mark.parametrize(
    ("scenario", "kwargs"),
    [
        ("fast_zap", {"vcpus": 2, "pages": 4, "batch": 2}),
        ("fast_zap", {"mutant": "reuse_obsolete_pages", "vcpus": 2, "batch": 1, "pages": 4}),
        ("concurrent_zaps", {"mutant": "no_slots_lock", "batch": 2, "pages": 8}),
        ("fast_zap", {"invariants": [lambda kvm: kvm.arch.mmu_valid_gen in (0, 1)], "vcpus": 2}),
    ],
    ids=["kernel", "reuse", "no_slots_lock", "callable"],
)
def test_two_runs_give_identical_counts_and_traces(scenario: str, kwargs: dict[str, Any]) -> None:
    """Same input, same states, transitions, depth, metrics and counterexample."""
    first, second = explore(scenario, **kwargs), explore(scenario, **kwargs)
    assert (first.states, first.transitions, first.depth) == (
        second.states,
        second.transitions,
        second.depth,
    )
    assert first.metrics == second.metrics
    if first.violation is None:
        assert second.violation is None
    else:
        assert second.violation is not None
        assert first.violation.trace == second.violation.trace
        assert first.violation.message == second.violation.message


def test_fast_zap_without_vcpus_visits_exactly_the_zappers_straight_line() -> None:
    """fast_zap vcpus=0 pages=1 has exactly 9 states and 8 transitions (derived by hand)."""
    # One thread and no choice: one state after each step of the zapper's program.
    # initial; 1 mutex_lock(slots_lock); 2 write_lock(mmu_lock); 3 toggle; 4
    # kvm_make_all_cpus_request (nobody to kick); 5 IPIs acknowledged; 6
    # kvm_zap_obsolete_pages (zaps sp#0 and reaches the head in one step, mmu_lock being
    # held throughout); 7 kvm_flush_remote_tlbs; 8 free, then write_unlock, return and
    # mutex_unlock(slots_lock) in the same step. 1 + 8 = 9 states, 8 transitions, depth 8.
    result = explore("fast_zap", vcpus=0, pages=1)
    assert (result.states, result.transitions, result.depth) == (9, 8, 8)
    assert result.holds
    # Without the reduction the releases are a 9th step of their own: one state more.
    split = explore("fast_zap", vcpus=0, pages=1, atomic_sections=False)
    assert (split.states, split.transitions, split.depth) == (10, 9, 9)


def test_concurrent_zaps_without_vcpus_merges_the_states_where_the_second_zapper_waited() -> None:
    """concurrent_zaps vcpus=0 pages=1 has exactly 47 states and 60 transitions (by hand)."""
    # Whichever zapper A takes slots_lock first runs the 8-step program of the test above
    # (A holds slots_lock after its steps 1..7). The other, B, is either still at its first
    # step or already queued on slots_lock (one ENQUEUE step, possible in any of A's 7
    # holding states); mmu_lock is never contended. States with A after step k:
    #   k = 1..7:        B not queued / B queued                      -> 14 states
    #   k = 8 (A done):  B not queued / B queued                      ->  2 states
    # B then takes slots_lock. From "not queued" (free lock, empty queue) and from "queued"
    # (head of the queue) the result is the SAME state: the two paths merge here.
    #   B's 7 steps (mutex_lock, write_lock, toggle 1 -> 0, request, ack, zap (nothing
    #   left), commit (nothing to free) with unlock+return)           ->  7 states
    # 23 states per order; 2 orders (their final states differ: who toggled second); plus
    # the initial state: 2 * 23 + 1 = 47. Transitions: 2 from the initial state; per order
    # A's steps 2..8 from both B variants (14), B's enqueue from k = 1..7 (7), B's acquire
    # from both k = 8 states (2), B's 6 later steps (6): 29; 2 * 29 + 2 = 60. Without the
    # merge there would be 2 * (14 + 2 + 2 * 7) + 1 = 61 states. Depth 8 + 7 = 15.
    # With atomic_sections=False each zapper has one step more (9): by the same count
    # 2 * (16 + 2 + 8) + 1 = 53 states, 2 * (16 + 8 + 2 + 7) + 2 = 68 transitions, depth 17.
    for exact in (False, True):
        result = explore("concurrent_zaps", vcpus=0, pages=1, exact=exact)
        assert (result.states, result.transitions, result.depth) == (47, 60, 15)
        assert result.holds
    split = explore("concurrent_zaps", vcpus=0, pages=1, atomic_sections=False)
    assert (split.states, split.transitions, split.depth) == (53, 68, 17)


@pytest.mark.parametrize(
    ("scenario", "params"),
    [
        ("fast_zap", {"vcpus": 2, "pages": 4, "batch": 1, "entries": 1}),
        ("fast_zap", {"vcpus": 1, "pages": 6, "batch": 1, "preemptible": False}),
        ("concurrent_zaps", {"vcpus": 1, "pages": 6, "batch": 2}),
        ("concurrent_zaps", {"vcpus": 1, "pages": 4, "mutant": "no_slots_lock", "batch": 1}),
    ],
    ids=["fast_zap-v2", "fast_zap-np", "concurrent", "no_slots_lock"],
)
def test_fingerprints_deduplicate_exactly_like_the_states_themselves(
    scenario: str, params: dict[str, Any]
) -> None:
    """exact=False (64-bit fingerprints) visits the same states as exact=True."""
    hashed, exact = explore(scenario, **params), explore(scenario, exact=True, **params)
    assert (hashed.states, hashed.transitions) == (exact.states, exact.transitions)
    assert hashed.violation == exact.violation


def test_symmetry_reduction_keeps_verdicts_metrics_and_shortest_trace_lengths() -> None:
    """Identifying states that differ only in vCPU numbering changes counts, not answers."""
    params = {"vcpus": 2, "pages": 4, "batch": 2, "entries": 1}
    reduced, full = explore("fast_zap", **params), explore("fast_zap", symmetry=False, **params)
    assert reduced.holds and full.holds
    assert reduced.states < full.states
    assert reduced.metrics == full.metrics
    for mutant in ("reuse_obsolete_pages", "no_reload_request"):
        a = explore("fast_zap", mutant=mutant, **params).violation
        b = explore("fast_zap", mutant=mutant, symmetry=False, **params).violation
        assert a is not None and b is not None
        assert (a.invariant, len(a.trace)) == (b.invariant, len(b.trace))


def test_random_strategy_with_a_seed_is_deterministic_and_finds_no_reload_request() -> None:
    """Seeded random walks: same seed, same trace; the violation replays."""
    runs = [
        explore("fast_zap", mutant="no_reload_request", strategy="random", seed=7) for _ in range(2)
    ]
    first, second = runs
    assert not first.exhaustive
    assert first.strategy == "random"
    assert first.violation is not None and second.violation is not None
    assert first.violation.invariant == "no_guest_on_obsolete_root_after_request"
    assert first.violation.trace == second.violation.trace
    assert (first.states, first.transitions) == (second.states, second.transitions)
    again = replay("fast_zap", first.violation.trace.schedule, mutant="no_reload_request")
    assert again.violation is not None
    assert again.violation.invariant == first.violation.invariant


def test_random_strategy_on_the_kernel_holds_but_is_not_exhaustive() -> None:
    """A random pass proves nothing about unexplored states, and says so."""
    result = explore("fast_zap", strategy="random", seed=3, max_steps=3000)
    assert result.holds
    assert not result.exhaustive
    assert result.transitions == result.steps_walked == 3000
    assert result.walks > 1
    assert 1 < result.states < 3000  # distinct states seen, not steps walked
    text = result.describe()
    assert f"{result.states} distinct states seen, 3000 steps walked in {result.walks} walks" in (
        text
    )
    assert "not exhaustive" in text


# -- errors --------------------------------------------------------------------------------


def test_a_state_budget_overrun_raises_naming_the_scenario() -> None:
    """max_states=10 cannot finish fast_zap: BudgetExceededError, not a pass."""
    with pytest.raises(BudgetExceededError, match=r"fast_zap: explored more than 10 states"):
        explore("fast_zap", max_states=10)


def test_an_unknown_parameter_raises_naming_it_and_the_valid_ones() -> None:
    """BadParameterError names the parameter and lists the scenario's parameters."""
    with pytest.raises(BadParameterError, match="bogus") as info:
        explore("fast_zap", bogus=1)
    for name in ("batch", "entries", "faults", "pages", "preemptible", "vcpus"):
        assert name in str(info.value)


@pytest.mark.parametrize(
    ("params", "name", "allowed"),
    [
        ({"vcpus": 9}, "vcpus", "0..3"),
        ({"vcpus": -1}, "vcpus", "0..3"),
        ({"pages": 0}, "pages", "1..32"),
        ({"batch": 65}, "batch", "1..64"),
        ({"vcpus": "x"}, "vcpus", "0..3"),
        ({"vcpus": True}, "vcpus", "0..3"),
        ({"pages": None}, "pages", "1..32"),
    ],
    ids=["too-many", "negative", "zero-pages", "batch", "string", "bool", "none"],
)
def test_a_bad_parameter_value_raises_naming_the_parameter_and_its_range(
    params: dict[str, Any], name: str, allowed: str
) -> None:
    """Out-of-range or wrongly typed values raise BadParameterError with the allowed range."""
    with pytest.raises(BadParameterError) as info:
        explore("fast_zap", **params)
    assert name in str(info.value)
    assert allowed in str(info.value)


def test_a_float_parameter_is_rejected_not_truncated() -> None:
    """vcpus=1.5 is a wrong type: it must raise, not silently run with vcpus=1."""
    with pytest.raises(BadParameterError, match=r"vcpus.*0\.\.3"):
        explore("fast_zap", vcpus=1.5, pages=1)


def test_a_boolean_parameter_rejects_other_numbers() -> None:
    """preemptible is true or false; 5 is neither."""
    with pytest.raises(BadParameterError, match="preemptible"):
        explore("fast_zap", preemptible=5)


@pytest.mark.parametrize("word", ["maybe", "2", "flase"])
def test_a_boolean_parameter_rejects_words_that_are_not_true_or_false(word: str) -> None:
    """preemptible="maybe" must raise, not silently explore a non-preemptible kernel."""
    with pytest.raises(BadParameterError, match="preemptible must be true or false"):
        explore("fast_zap", preemptible=word, vcpus=0, pages=1)


def test_an_unknown_scenario_raises_listing_the_valid_names() -> None:
    """UnknownNameError lists every scenario."""
    with pytest.raises(UnknownNameError) as info:
        explore("fast_zapp")
    assert "fast_zapp" in str(info.value)
    assert set(info.value.valid) == set(scenario_names())
    for name in scenario_names():
        assert name in str(info.value)


def test_an_unknown_mutant_raises_listing_the_valid_names() -> None:
    """UnknownNameError lists every mutant."""
    with pytest.raises(UnknownNameError) as info:
        explore("fast_zap", mutant="no_such_mutant")
    assert set(info.value.valid) == set(MUTANTS)
    assert "no_reload_request" in str(info.value)


def test_excluding_an_unknown_invariant_raises_listing_the_builtin_ones() -> None:
    """exclude= must name built-in invariants."""
    with pytest.raises(UnknownNameError) as info:
        explore("fast_zap", exclude=("no_such_invariant",))
    assert set(info.value.valid) == set(BUILTIN)


def test_excluding_a_builtin_invariant_leaves_it_unchecked() -> None:
    """An excluded invariant is not in Exploration.invariants and cannot be violated."""
    result = explore(
        "fast_zap", mutant="no_reload_request", exclude=("no_guest_on_obsolete_root_after_request",)
    )
    assert "no_guest_on_obsolete_root_after_request" not in result.invariants
    assert result.violation is None or (
        result.violation.invariant != "no_guest_on_obsolete_root_after_request"
    )


# -- invariant expressions and callables ------------------------------------------------------


def test_a_true_invariant_expression_holds_and_is_checked() -> None:
    """A Python expression over kvm that is always true holds and is listed."""
    expr = "kvm.arch.mmu_valid_gen in (0, 1)"
    result = explore("fast_zap", invariants=[expr], vcpus=1, pages=2)
    assert result.holds
    assert expr in result.invariants


def test_an_expression_can_use_generators_and_specmodel_names() -> None:
    """Generator expressions see kvm; is_obsolete_sp and IN_GUEST_MODE are in scope."""
    expr = (
        "all(v.mode != IN_GUEST_MODE or v.root is not None for v in kvm.vcpus) and "
        "all(sp.mmu_valid_gen in (0, 1) for sp in kvm.arch.active_mmu_pages)"
    )
    assert explore("fast_zap", invariants=[expr], vcpus=1, pages=2).holds
    refuted = "kvm.vcpus[0].mode != IN_GUEST_MODE or not is_obsolete_sp(kvm, kvm.vcpus[0].root)"
    result = explore("fast_zap", invariants=[refuted], vcpus=1, pages=2)
    assert result.violation is not None
    assert result.violation.invariant == refuted


def test_a_false_invariant_expression_is_violated_under_its_own_text() -> None:
    """The violation's invariant is the expression text, with a short trace."""
    expr = "kvm.arch.mmu_valid_gen == 0"
    result = explore("fast_zap", invariants=[expr], vcpus=1, pages=2)
    assert result.violation is not None
    assert result.violation.invariant == expr
    assert expr in result.violation.message
    assert "toggle" in result.violation.trace.steps[-1].op


@pytest.mark.parametrize("expr", ["kvm.arch.mmu_valid_gen ==", "import os", "kvm.("])
def test_an_invariant_expression_with_a_syntax_error_raises_naming_it(expr: str) -> None:
    """InvariantExpressionError, raised before exploring, quotes the expression."""
    with pytest.raises(InvariantExpressionError) as info:
        explore("fast_zap", invariants=[expr])
    assert repr(expr) in str(info.value)


@pytest.mark.parametrize(
    ("expr", "error"),
    [("kvm.no_such_field", "AttributeError"), ("1 / 0", "ZeroDivisionError")],
)
def test_an_invariant_expression_that_raises_is_reported_naming_it(expr: str, error: str) -> None:
    """An exception inside the expression becomes InvariantExpressionError naming both."""
    with pytest.raises(InvariantExpressionError) as info:
        explore("fast_zap", invariants=[expr], vcpus=1, pages=1)
    assert repr(expr) in str(info.value)
    assert error in str(info.value)


def test_a_callable_invariant_sees_the_kvm_view_with_kernel_types() -> None:
    """kvm.arch.mmu_valid_gen, KvmMmuPage pages, VcpuMode modes and .root are what they say."""
    seen: dict[str, set[Any]] = {"gen": set(), "mode": set(), "root": set(), "obsolete": set()}

    def check(kvm: Kvm) -> bool:
        assert isinstance(kvm, Kvm)
        seen["gen"].add(kvm.arch.mmu_valid_gen)
        assert all(isinstance(sp, KvmMmuPage) for sp in kvm.arch.active_mmu_pages)
        for v in kvm.vcpus:
            assert isinstance(v.mode, VcpuMode)
            seen["mode"].add(v.mode)
            seen["root"].add(type(v.root))
            if v.root is not None:
                assert isinstance(v.root, KvmMmuPage)
                seen["obsolete"].add(specmodel.is_obsolete_sp(kvm, v.root))
        return True

    result = explore("fast_zap", invariants=[check], vcpus=1, pages=3)
    assert result.holds
    assert "check" in result.invariants
    assert seen["gen"] == {0, 1}
    assert seen["mode"] == set(VcpuMode)
    assert seen["root"] == {KvmMmuPage, type(None)}
    assert seen["obsolete"] == {True, False}


def test_a_false_callable_invariant_is_violated_under_its_name() -> None:
    """A callable returning False gives a violation named after the function."""

    def no_vcpu_in_guest(kvm: Kvm) -> bool:
        return all(v.mode != VcpuMode.IN_GUEST_MODE for v in kvm.vcpus)

    result = explore("fast_zap", invariants=[no_vcpu_in_guest], vcpus=1, pages=2)
    assert result.violation is not None
    assert result.violation.invariant == "no_vcpu_in_guest"
    assert len(result.violation.trace) == 1  # the request check and the entry: one step


def test_metrics_report_the_longest_wait_and_the_largest_zap_per_hold() -> None:
    """Exploration.metrics has max_vcpu_mmu_lock_wait and max_pages_zapped_per_mmu_lock_hold."""
    result = explore("fast_zap", vcpus=1, pages=6, batch=2)
    assert set(result.metrics) >= {"max_vcpu_mmu_lock_wait", "max_pages_zapped_per_mmu_lock_hold"}
    assert result.metrics["max_vcpu_mmu_lock_wait"] == 2
    assert result.metrics["max_pages_zapped_per_mmu_lock_hold"] == 5


def test_a_time_limit_shorter_than_a_second_is_enforced() -> None:
    """time_limit is checked as states are expanded, not only at the once-a-second report."""
    with pytest.raises(BudgetExceededError, match=r"fast_zap: exploration exceeded its time limit"):
        explore("fast_zap", vcpus=2, pages=16, time_limit=0.05)


def test_no_state_holds_minus_two_which_cpython_hashes_like_minus_one() -> None:
    """States are fingerprinted by hash(); -1 and -2 hash alike, so -2 must never appear."""
    from specmodel.explorer.search import _Model

    def ints(value: object) -> list[int]:
        if isinstance(value, bool):
            return []
        if isinstance(value, int):
            return [value]
        if isinstance(value, tuple | list) or hasattr(value, "__iter__"):
            return [i for item in value for i in ints(item)]  # type: ignore[attr-defined]
        return []

    for scenario, params in (
        ("fast_zap", {"vcpus": 1, "pages": 3, "batch": 1}),
        ("page_reclaim", {"steps": 3}),
    ):
        model = _Model(scenario, (), params)
        frontier, seen = [model.initial], {model.initial}
        while frontier:
            state = frontier.pop()
            assert -2 not in ints(state), state
            for _, _, (_, nxt) in model.successors(state):
                if nxt not in seen:
                    seen.add(nxt)
                    frontier.append(nxt)


# -- non-bool invariants, bare strings, str(trace) (issue 14) -----------------------------------


@pytest.mark.parametrize(
    ("expr", "found"),
    [("kvm.arch.mmu_valid_gen + 1", "found int 1"), ("None", "found NoneType None")],
)
def test_a_non_bool_invariant_expression_is_an_error_naming_the_type(expr: str, found: str) -> None:
    """Not counted as held or violated: InvariantExpressionError naming the value's type."""
    with pytest.raises(InvariantExpressionError) as info:
        explore("fast_zap", invariants=[expr], vcpus=1, pages=1)
    message = str(info.value)
    assert message.startswith(f"invariant {expr!r} must evaluate to a bool (True or False)")
    assert message.endswith(found)


def test_a_callable_invariant_that_returns_none_is_an_error_not_a_violation() -> None:
    """A callable that forgot its return gives an error naming NoneType."""

    def forgot_return(kvm: Kvm) -> bool:
        _ = kvm.arch.mmu_valid_gen == 0

    with pytest.raises(InvariantExpressionError, match=r"'forgot_return' must evaluate to a bool"):
        explore("fast_zap", invariants=[forgot_return], vcpus=1, pages=1)
    with pytest.raises(InvariantExpressionError, match=r"found int 0$"):
        explore("fast_zap", invariants=[lambda kvm: kvm.arch.mmu_valid_gen], vcpus=1, pages=1)


def test_a_bare_string_invariant_is_one_expression_not_its_characters() -> None:
    """invariants="expr" is the expression; a bare callable and exclude="name" are one too."""
    expr = "kvm.arch.mmu_valid_gen == 0"
    result = explore("fast_zap", invariants=expr, vcpus=1, pages=2)
    assert result.violation is not None
    assert result.violation.invariant == expr
    assert result.invariants[-1] == expr
    assert len(result.invariants) == len(BUILTIN) + 1
    held = explore("fast_zap", invariants="kvm.arch.mmu_valid_gen in (0, 1)", vcpus=1, pages=2)
    assert held.holds
    one = explore("fast_zap", invariants=lambda kvm: True, vcpus=1, pages=2)
    assert one.invariants[-1] == "<lambda>"
    left = explore("fast_zap", exclude="fifo_partition", vcpus=1, pages=2)
    assert "fifo_partition" not in left.invariants
    assert len(left.invariants) == len(BUILTIN) - 1


def test_str_of_a_trace_is_the_numbered_trace() -> None:
    """str(violation.trace) is what render() gives, not a dataclass repr."""
    result = explore("fast_zap", mutant="no_reload_request")
    assert result.violation is not None
    trace = result.violation.trace
    text = str(trace)
    assert text == trace.render()
    assert not text.startswith("Trace(")
    assert text.splitlines()[0].startswith("   1. zapper ")
    assert str(trace.steps[0]).split() == text.splitlines()[0].split()  # own column width
    assert str(result.violation) == result.violation.render()
    assert str(result.violation).endswith(text)


def test_str_of_an_empty_trace_says_it_is_the_initial_state() -> None:
    """A violation in the initial state has no steps: str() says so instead of nothing."""
    result = explore("fast_zap", invariants=["kvm.arch.mmu_valid_gen == 1"], vcpus=1, pages=1)
    assert result.violation is not None
    assert len(result.violation.trace) == 0
    assert str(result.violation.trace) == "   (the initial state: no steps)"


def test_an_invariant_that_changes_its_view_changes_no_later_view() -> None:
    """Views share their page part between states with the same pages (vm.py): a callable
    that empties ``kvm.pages`` must not empty it for the next state it is shown."""

    def empties_its_view(kvm: Any) -> bool:
        complete = all(p in kvm.pages.values() for p in kvm.arch.active_mmu_pages)
        kvm.pages.clear()
        return complete

    found = explore("fast_zap", invariants=[empties_its_view], vcpus=1, pages=3)
    assert found.holds and found.states > 50
