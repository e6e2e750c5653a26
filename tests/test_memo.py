"""Memoised successors (``specmodel.explorer.memo``) change no answer, and the declaration
they rest on is enforced.

The differential test explores every scenario, mutant and refutable property (the registries
as they are at collection time, ``differential.cases``) with the memo and without it: the
verdict, every count, the depth, the metrics and the counterexample must be the same, to the
character.
"""

from __future__ import annotations

from typing import Any

import pytest
from differential import cases

from specmodel import explore
from specmodel.errors import SpecmodelError
from specmodel.explorer.memo import MemoProgram, UndeclaredReadError, memoised
from specmodel.explorer.search import _Model
from specmodel.kernel.config import Config
from specmodel.kernel.program import OWN_LOCALS_ONLY, Successor, own_locals_only, run
from specmodel.kernel.reclaim import reclaim_vcpu_step
from specmodel.kernel.state import State, Work
from specmodel.kernel.vcpu import vcpu_step
from specmodel.kernel.zap import zapper_step

#: Beyond every scenario at small bounds: the MMU shrinker thread (declared too) and a
#: previous root per vCPU.
EXTRA: tuple[tuple[str, dict[str, Any]], ...] = (
    ("fast_zap", {"vcpus": 2, "pages": 3, "batch": 1, "shrinker": 1}),
    ("fast_zap", {"vcpus": 2, "pages": 4, "batch": 2, "prev_roots": 1}),
)


def _cases() -> list[Any]:
    out = cases()
    for scenario, params in EXTRA:
        tag = f"{scenario}-" + "-".join(f"{k}{v}" for k, v in params.items())
        out.append(pytest.param(scenario, params, None, (), id=tag))
    return out


def _same(a: Any, b: Any) -> None:
    counts = ("holds", "states", "transitions", "depth")
    assert [getattr(a, n) for n in counts] == [getattr(b, n) for n in counts]
    assert a.metrics == b.metrics
    assert a.witnesses == b.witnesses
    if a.violation is None or b.violation is None:
        assert a.violation is None and b.violation is None
        return
    assert a.violation.invariant == b.violation.invariant
    assert a.violation.message == b.violation.message
    assert str(a.violation.trace) == str(b.violation.trace)
    assert a.violation.trace.schedule == b.violation.trace.schedule


@pytest.mark.parametrize(("scenario", "params", "mutant", "invariants"), _cases())
def test_the_memo_keeps_every_verdict_count_and_trace(
    scenario: str, params: dict[str, Any], mutant: str | None, invariants: tuple[str, ...]
) -> None:
    on = explore(scenario, mutant=mutant, invariants=invariants, **params)
    off = explore(scenario, mutant=mutant, invariants=invariants, memo=False, **params)
    _same(on, off)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_walks_walk_the_same_with_and_without_the_memo(seed: int) -> None:
    kwargs: dict[str, Any] = {"strategy": "random", "seed": seed, "max_steps": 3000}
    for scenario, params in (
        ("fast_zap", {"vcpus": 2, "pages": 4}),
        ("page_reclaim", {"vcpus": 2, "steps": 2}),
    ):
        on = explore(scenario, **kwargs, **params)
        off = explore(scenario, memo=False, **kwargs, **params)
        _same(on, off)
        assert (on.steps_walked, on.walks) == (off.steps_walked, off.walks)


def test_the_sharded_search_memoises_and_agrees() -> None:
    one = explore("fast_zap", vcpus=2, pages=4, memo=False)
    two = explore("fast_zap", vcpus=2, pages=4, workers=2)
    assert (one.states, one.transitions, one.depth, one.metrics) == (
        two.states,
        two.transitions,
        two.depth,
        two.metrics,
    )


def test_the_memo_is_used_where_declared_and_hits() -> None:
    """The vCPUs are memoised, the zapper (it writes the vCPUs' requests) is not; a search
    that repeats vCPU steps answers most of them from the memo."""
    assert vcpu_step in OWN_LOCALS_ONLY and reclaim_vcpu_step in OWN_LOCALS_ONLY
    assert zapper_step not in OWN_LOCALS_ONLY
    model = _Model("fast_zap", (), {"vcpus": 2, "pages": 6})
    kinds = [type(p).__name__ for p in model.search_programs]
    assert kinds == ["function", "MemoProgram", "MemoProgram"]
    assert _Model("fast_zap", (), {"vcpus": 2}, memo=False).search_programs == model.programs
    states = [model.initial]
    calls = 0
    for _ in range(6):  # a few BFS levels by hand
        nxt = []
        for state in states:
            for tid, program in enumerate(model.search_programs):
                calls += tid > 0
                nxt.extend(s.state for s in program(state, tid, model.cfg))
        states = nxt
    memo = model.search_programs[1]
    assert isinstance(memo, MemoProgram)
    # every call of vcpu0 either hit or added one entry
    assert 0 < len(memo.memo) < calls / 4


def _peek_other(state: State, tid: int, cfg: Config) -> list[Successor]:
    other = state.threads[1 - tid]
    return [run(state, tid, f"peeks at {other[0]}", lambda w: None)]


def _compare_other(state: State, tid: int, cfg: Config) -> list[Successor]:
    if state.threads[0] == state.threads[1]:
        return []
    return [run(state, tid, "compared", lambda w: None)]


def _poke_other(state: State, tid: int, cfg: Config) -> list[Successor]:
    def body(w: Work) -> None:
        w.threads[1 - tid] = (7,)

    return [run(state, tid, "kick", body)]


def _initial() -> State:
    model = _Model("fast_zap", (), {"vcpus": 1})
    return State(model.initial.vm, model.initial.pages, ((0,), (1,)))


@pytest.mark.parametrize(
    ("program", "expected"),
    [
        (
            _peek_other,
            "_peek_other is declared own_locals_only (it may read only thread 0's locals, "
            "the VM and the pages), but thread 0's step read thread 1's locals",
        ),
        (
            _compare_other,
            "_compare_other is declared own_locals_only (it may read only thread 1's "
            "locals, the VM and the pages), but thread 1's step read thread 0's locals",
        ),
        (
            _poke_other,
            "_poke_other is declared own_locals_only, but thread 0's step (kick) stored into "
            "thread 1's locals",
        ),
    ],
)
def test_a_wrong_declaration_fails_the_step(program: Any, expected: str) -> None:
    memo = memoised((own_locals_only(program),))[0]
    try:
        tid = 1 if program is _compare_other else 0
        with pytest.raises(UndeclaredReadError) as info:
            memo(_initial(), tid, Config())
    finally:
        OWN_LOCALS_ONLY.discard(program)
    assert str(info.value) == expected
    assert isinstance(info.value, SpecmodelError)


def test_an_undeclared_program_is_left_alone() -> None:
    assert memoised((_peek_other,)) == (_peek_other,)
    [succ] = _peek_other(_initial(), 0, Config())
    assert succ.label == "peeks at 1"
