"""Memoised successors (``specmodel.explorer.memo``) change no answer, and a step that
touches another thread's locals is never answered from the memo.

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
from specmodel.explorer import memo as memo_module
from specmodel.explorer.memo import MemoProgram, memoised
from specmodel.explorer.search import _Model
from specmodel.kernel.config import Config
from specmodel.kernel.program import Successor, run
from specmodel.kernel.scenarios import scenario_names
from specmodel.kernel.state import State, Work

#: Beyond every scenario at small bounds: the MMU shrinker thread and a previous root per
#: vCPU.
EXTRA: tuple[tuple[str, dict[str, Any]], ...] = (
    ("fast_zap", {"vcpus": 2, "pages": 3, "batch": 1, "shrinker": 1}),
    ("fast_zap", {"vcpus": 2, "pages": 4, "batch": 2, "prev_roots": 1}),
)


def _memoised(scenario: str, params: dict[str, Any]) -> bool:
    """Whether a search of this configuration runs a memo at all (a lone thread does not:
    both sides of the comparison would run the same code)."""
    model = _Model(scenario, (), params, memo=True)
    return model.search_programs != model.programs


def _cases() -> list[Any]:
    out = [case for case in cases() if _memoised(*case.values[:2])]
    for scenario, params in EXTRA:
        tag = f"{scenario}-" + "-".join(f"{k}{v}" for k, v in params.items())
        out.append(pytest.param(scenario, params, None, (), id=tag))
    # every scenario is covered with some memoised configuration
    assert {case.values[0] for case in out} == set(scenario_names())
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
    on = explore(scenario, mutant=mutant, invariants=invariants, memo=True, **params)
    off = explore(scenario, mutant=mutant, invariants=invariants, memo=False, **params)
    _same(on, off)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_walks_walk_the_same_with_and_without_the_memo(seed: int) -> None:
    kwargs: dict[str, Any] = {"strategy": "random", "seed": seed, "max_steps": 3000}
    for scenario, params in (
        ("fast_zap", {"vcpus": 2, "pages": 4}),
        ("page_reclaim", {"vcpus": 2, "steps": 2}),
    ):
        on = explore(scenario, memo=True, **kwargs, **params)
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


def test_the_memo_hits_and_recomputes_steps_that_touch_another_thread() -> None:
    """Every thread is memoised; a search that repeats vCPU steps answers most of them from
    the memo, and the zapper's request (it writes the vCPUs' locals) is recomputed."""
    model = _Model("fast_zap", (), {"vcpus": 2, "pages": 6}, memo=True)
    assert all(isinstance(p, MemoProgram) for p in model.search_programs)
    assert _Model("fast_zap", (), {"vcpus": 2}, memo=False).search_programs == model.programs
    states = [model.initial]
    for _ in range(8):  # a few BFS levels by hand
        nxt = []
        for state in states:
            for tid, program in enumerate(model.search_programs):
                nxt.extend(s.state for s in program(state, tid, model.cfg))
        states = nxt
    zapper, vcpu0, _ = model.search_programs
    assert isinstance(zapper, MemoProgram) and isinstance(vcpu0, MemoProgram)
    assert vcpu0.hits > 3 * len(vcpu0.memo) > 0
    assert zapper.touched > 0 and None in [entry[2] for entry in zapper.memo.values()]
    assert vcpu0.touched == 0


def _peek_other(state: State, tid: int, cfg: Config) -> list[Successor]:
    other = state.threads[1 - tid]
    return [run(state, tid, f"peeks at {other[0]}", lambda w: None)]


def _compare_other(state: State, tid: int, cfg: Config) -> list[Successor]:
    if state.threads[0] == state.threads[1]:
        return []
    return [run(state, tid, "compared", lambda w: None)]


def _poke_other(state: State, tid: int, cfg: Config) -> list[Successor]:
    def body(w: Work) -> None:
        w.threads[1 - tid] = (7, w.vm.mmu_valid_gen)

    return [run(state, tid, "kick", body)]


def _catch_all(state: State, tid: int, cfg: Config) -> list[Successor]:
    try:
        seen = state.threads[1 - tid][0]
    except Exception:  # a step's handler must not hide the guard
        seen = -1
    return [run(state, tid, f"saw {seen}", lambda w: None)]


_INITIAL = _Model("fast_zap", (), {"vcpus": 1}).initial


def _state(other: tuple[int, ...]) -> State:
    """Thread 0's locals, the VM and the pages always the same objects: one memo key."""
    return State(_INITIAL.vm, _INITIAL.pages, ((0,), other))


@pytest.mark.parametrize("program", [_peek_other, _compare_other, _poke_other, _catch_all])
def test_a_step_that_touches_another_thread_is_computed_afresh(program: Any) -> None:
    """The same key (thread 0's locals, vm, pages) with a different other thread: the memo
    must not answer the second state with the first one's successors."""
    memo = MemoProgram(program)
    for other in [(1,), (0,), (2,), (1,)]:
        state = _state(other)
        got = [(s.label, s.state) for s in memo(state, 0, Config())]
        assert got == [(s.label, s.state) for s in program(state, 0, Config())]
    assert memo.touched == 4 and memo.hits == 3


def test_a_step_that_touches_nothing_else_is_answered_from_the_memo() -> None:
    def own(state: State, tid: int, cfg: Config) -> list[Successor]:
        return [run(state, tid, "own", lambda w: w.threads.__setitem__(tid, (5,)))]

    memo = MemoProgram(own)
    first = memo(_state((1,)), 0, Config())
    second = memo(_state((2,)), 0, Config())
    assert (memo.hits, memo.touched) == (1, 0)
    assert first[0].state.threads == ((5,), (1,))
    assert second[0].state.threads == ((5,), (2,))


def test_a_genuine_error_in_a_step_still_surfaces() -> None:
    """A step that fails on the guarded copy runs on the real state, where it fails the same
    way: the memo hides no error."""

    def broken(state: State, tid: int, cfg: Config) -> list[Successor]:
        raise ZeroDivisionError("the model divided by zero")

    memo = MemoProgram(broken)
    with pytest.raises(ZeroDivisionError, match="the model divided by zero"):
        memo(_state((1,)), 0, Config())


def test_a_lone_thread_is_not_memoised() -> None:
    """With one thread every state is a new key: a memo would only cost."""
    model = _Model("page_reclaim", (), {"vcpus": 1}, memo=True)
    assert model.search_programs == model.programs
    assert memoised(model.programs) == model.programs


def test_a_memo_that_rarely_hits_is_dropped_after_its_probation() -> None:
    """Each call a new key (the own locals count up): after PROBATION_CALLS calls the memo
    is dropped and the program called directly, with the same answers."""

    def counter(state: State, tid: int, cfg: Config) -> list[Successor]:
        n = state.threads[tid][0]
        return [run(state, tid, f"step {n}", lambda w: w.threads.__setitem__(tid, (n + 1,)))]

    memo = MemoProgram(counter)
    for n in range(memo_module.PROBATION_CALLS + 5):
        state = State(_INITIAL.vm, _INITIAL.pages, ((n,), (0,)))
        [succ] = memo(state, 0, Config())
        assert succ.label == f"step {n}" and succ.state.threads == ((n + 1,), (0,))
    assert memo.off and not memo.memo
    assert memo.calls == memo_module.PROBATION_CALLS and memo.hits == 0


def test_the_memo_is_on_by_default_where_the_model_is_pure_python() -> None:
    """The tests run the source tree: pure Python, so a search memoises unless told not to;
    a compiled build (.ci/run compares it with this one) runs without the memo."""
    import specmodel.kernel.program as program

    assert program.__file__ is not None and program.__file__.endswith(".py")
    assert memo_module.MEMO_BY_DEFAULT is True
    model = _Model("fast_zap", (), {"vcpus": 2})
    assert all(isinstance(p, MemoProgram) for p in model.search_programs)
