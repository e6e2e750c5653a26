"""Search modes past one process: sharded breadth-first search and swarm search.

The sharded search must give what the single-process search gives on every scenario,
mutant and refutable property (the registries as they are at run time): the same verdict;
on a pass the same distinct states, transitions, depth and metrics; on a violation a
counterexample of the same (shortest) length that replays to the same invariant. A swarm
is not exhaustive; its merged report must not depend on how many processes ran it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from differential import cases, small_params

from specmodel import explore, replay
from specmodel.errors import BadParameterError, SpecmodelError
from specmodel.explorer.swarm import SwarmJob, run_search
from specmodel.kernel.scenarios import scenario_names


@pytest.mark.parametrize(("scenario", "params", "mutant", "invariants"), cases((1,)))
def test_sharded_bfs_gives_the_single_process_figures_and_verdicts(
    scenario: str, params: dict[str, Any], mutant: str | None, invariants: tuple[str, ...]
) -> None:
    one = explore(scenario, mutant=mutant, invariants=invariants, **params)
    two = explore(scenario, mutant=mutant, invariants=invariants, workers=2, **params)
    assert two.workers == 2 and two.exhaustive
    assert one.holds == two.holds
    if one.violation is None or two.violation is None:
        assert one.violation is None and two.violation is None
        assert (one.states, one.transitions, one.depth) == (two.states, two.transitions, two.depth)
        assert one.metrics == two.metrics
        return
    assert len(two.violation.trace) == len(one.violation.trace)
    again = replay(
        scenario, two.violation.trace.schedule, mutant=mutant, invariants=invariants, **params
    )
    assert again.violation is not None
    assert again.violation.invariant == two.violation.invariant
    assert again.violation.trace == two.violation.trace


@pytest.mark.parametrize("scenario", scenario_names())
def test_sharded_bfs_with_two_vcpus_three_workers_and_without_symmetry_agrees_too(
    scenario: str,
) -> None:
    """Two vCPUs (symmetry reduction on and off) and three shards: the same figures."""
    params = small_params(scenario, 2)
    if scenario == "concurrent_zaps":
        params["pages"] = 2  # its 2-vCPU space is 15 times the others' at 3 pages
    for symmetry in (True, False):
        one = explore(scenario, symmetry=symmetry, **params)
        three = explore(scenario, symmetry=symmetry, workers=3, **params)
        assert (one.states, one.transitions, one.depth, dict(one.metrics)) == (
            three.states,
            three.transitions,
            three.depth,
            dict(three.metrics),
        )


def test_sharded_bfs_enforces_the_state_budget() -> None:
    from specmodel.errors import BudgetExceededError

    with pytest.raises(BudgetExceededError, match=r"fast_zap: explored more than 50 states"):
        explore("fast_zap", vcpus=2, pages=4, max_states=50, workers=2)


def test_a_sharded_search_rejects_what_it_cannot_do() -> None:
    with pytest.raises(BadParameterError, match=r"workers must be at least 1, found 0"):
        explore("fast_zap", workers=0)
    with pytest.raises(BadParameterError, match=r"neither witness nor exact=True"):
        explore("fast_zap", workers=2, exact=True)
    with pytest.raises(BadParameterError, match=r"ray_address runs a swarm"):
        explore("fast_zap", ray_address="local")


SWARM = {"vcpus": 2, "pages": 4, "batch": 2}


def test_a_swarm_report_does_not_depend_on_the_number_of_workers() -> None:
    """Search i's seed and bound come from (seed, i) alone: 1 or 2 processes, one report."""
    runs = [
        explore("fast_zap", strategy="swarm", workers=w, walks=6, max_steps=6000, **SWARM)
        for w in (1, 2)
    ]
    a, b = runs
    assert (a.states, a.steps_walked, a.walks, a.depth, dict(a.metrics)) == (
        b.states,
        b.steps_walked,
        b.walks,
        b.depth,
        dict(b.metrics),
    )
    assert a.strategy == "swarm" and not a.exhaustive and a.holds
    assert a.steps_walked == 6000
    # coverage: distinct states, never more than the full (unreduced) state space
    full = explore("fast_zap", symmetry=False, **SWARM)
    assert 1 < a.states <= full.states


def test_a_swarm_reports_the_shortest_counterexample_of_its_searches() -> None:
    """The merged violation is the shortest any search found, and it replays."""
    found = explore(
        "fast_zap", mutant="no_reload_request", strategy="swarm", walks=5, max_steps=5000, **SWARM
    )
    assert found.violation is not None
    job = SwarmJob("fast_zap", (), "no_reload_request", (), 0, 1000, None, None, True, dict(SWARM))
    lengths = [
        len(r.exploration.violation.trace)
        for r in (run_search(job, i) for i in range(5))
        if r.exploration.violation is not None
    ]
    assert len(found.violation.trace) == min(lengths)
    again = replay("fast_zap", found.violation.trace.schedule, mutant="no_reload_request", **SWARM)
    assert again.violation is not None
    assert again.violation.invariant == found.violation.invariant


def test_random_strategy_with_workers_runs_a_swarm() -> None:
    result = explore("fast_zap", strategy="random", workers=2, walks=2, max_steps=400, **SWARM)
    assert result.strategy == "swarm" and result.workers == 2 and result.walks >= 2


def test_a_swarm_on_ray_without_ray_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as where the extra is not installed
    with pytest.raises(SpecmodelError, match=r"pip install 'specmodel\[ray\]'"):
        explore("fast_zap", strategy="swarm", ray_address="local", walks=1, max_steps=10)


def test_a_swarm_on_a_local_ray_cluster_gives_the_local_report() -> None:
    """Ray tasks run the same searches: the merged report equals the process pool's."""
    import ray

    try:
        on_ray = explore(
            "fast_zap", strategy="swarm", ray_address="local", walks=4, max_steps=2000, **SWARM
        )
    finally:
        ray.shutdown()
    local = explore("fast_zap", strategy="swarm", walks=4, max_steps=2000, **SWARM)
    assert (on_ray.states, on_ray.steps_walked, on_ray.walks, dict(on_ray.metrics)) == (
        local.states,
        local.steps_walked,
        local.walks,
        dict(local.metrics),
    )


_FINGERPRINTS = """
import hashlib
from specmodel.explorer.visited import fingerprint
from specmodel.kernel.scenarios import instantiate, scenario_names
out = []
for name in scenario_names():
    _, _, cfg, state, programs, _ = instantiate(name, (), {})
    seen, frontier = {state}, [state]
    while frontier and len(seen) < 400:
        current = frontier.pop()
        for tid, program in enumerate(programs):
            for _, nxt in program(current, tid, cfg):
                if nxt not in seen:
                    seen.add(nxt)
                    frontier.append(nxt)
    out.append((name, sorted(fingerprint(s) for s in seen)))
print(hashlib.sha256(repr(out).encode()).hexdigest())
"""


def test_fingerprints_are_the_same_in_every_process() -> None:
    """Ray workers are separate processes: a state's fingerprint may not depend on the
    process (hash(None) is an address in CPython 3.11; string hashes follow the seed)."""
    digests = {
        subprocess.run(
            [sys.executable, "-c", _FINGERPRINTS],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(digests) == 1, digests
