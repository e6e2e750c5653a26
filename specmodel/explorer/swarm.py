"""Swarm search: many independent seeded random searches with different bounds, merged.

As in swarm verification (Holzmann, Joshi and Groce), each search walks the same model with
its own seed and its own walk-length bound, so together they cover more than one long
search would; none of them is exhaustive. Search ``i`` derives its seed and bound from the
swarm's ``seed`` and ``i`` alone, so the merged report does not depend on how many
processes ran the searches, or on whether they ran on a Ray cluster.

The merged ``Exploration``: a violation if any search found one (the shortest trace; ties go
to the lowest search number), distinct states as the union of every search's fingerprints
(``states``), the steps walked and walks of all searches, metrics as maxima.
"""

from __future__ import annotations

import multiprocessing
import random
import time
from array import array
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from specmodel.errors import BadParameterError, SpecmodelError
from specmodel.explorer.visited import Fingerprints

#: Walk-length bounds the searches cycle through (None: walk until no thread can step).
#: Short bounds sample the states near the initial one densely, long ones reach deep.
BOUNDS: tuple[int | None, ...] = (None, 8, 16, 32, 64, None, 12, 24, 48, 96)


@dataclass(frozen=True)
class SwarmJob:
    """What every search of one swarm shares (inherited by forked workers)."""

    scenario: str
    invariants: tuple[object, ...]
    mutant: object
    exclude: tuple[str, ...]
    seed: int
    steps_per_search: int
    max_states: int | None
    time_limit: float | None
    atomic_sections: bool
    params: Mapping[str, int | bool]
    memo: bool | None = None

    def plan(self, index: int) -> tuple[int, int | None]:
        """Seed and walk bound of search ``index``."""
        seed = random.Random(f"{self.seed}/{index}").getrandbits(63)
        return seed, BOUNDS[index % len(BOUNDS)]


@dataclass(frozen=True)
class SearchResult:
    """One search's report, small enough to send between processes."""

    index: int
    exploration: Any  # an Exploration; its fingerprints travel separately
    fingerprints: bytes


def run_search(job: SwarmJob, index: int) -> SearchResult:
    """Run search ``index`` of ``job`` (in whatever process calls it)."""
    from specmodel.explorer.search import _Model, _random, _select_invariants

    seed, bound = job.plan(index)
    model = _Model(job.scenario, _mutants(job.mutant), job.params, job.atomic_sections, job.memo)
    invs = _select_invariants(model, job.invariants, job.exclude)  # type: ignore[arg-type]
    seen = Fingerprints()
    result = _random(
        model,
        invs,
        seed,
        job.steps_per_search,
        job.max_states,
        job.time_limit,
        {},
        max_depth_bound=bound,
        seen=seen,
    )
    return SearchResult(index, result, array("Q", seen).tobytes())


def _mutants(mutant: object) -> tuple[str, ...]:
    from specmodel.explorer.search import _normalise_mutant

    return _normalise_mutant(mutant)  # type: ignore[arg-type]


_JOB: SwarmJob | None = None


def _run_inherited(index: int) -> SearchResult:
    assert _JOB is not None, "the swarm's job is set before the pool forks"
    return run_search(_JOB, index)


def swarm(
    scenario: str,
    *,
    invariants: Sequence[object] = (),
    mutant: object = None,
    exclude: Sequence[str] = (),
    seed: int = 0,
    walks: int | None = None,
    max_states: int | None = None,
    max_steps: int | None = None,
    time_limit: float | None = None,
    progress: Callable[[Any], None] | None = None,
    atomic_sections: bool = True,
    workers: int = 1,
    ray_address: str | None = None,
    memo: bool | None = None,
    **params: int | bool,
) -> Any:
    """Run ``walks`` random searches (default 4 per worker) of ``max_steps / walks`` steps
    each in ``workers`` local processes, or as tasks on the Ray cluster at
    ``ray_address``, and merge them (see the module docstring)."""
    from specmodel.explorer.search import (
        DEFAULT_RANDOM_STEPS,
        ProgressInfo,
        _Model,
        _select_invariants,
    )

    global _JOB
    if workers < 1:
        raise BadParameterError(f"workers must be at least 1, found {workers}")
    searches = walks if walks is not None else 4 * workers
    if searches < 1:
        raise BadParameterError(f"a swarm needs at least 1 search, found walks={searches}")
    total_steps = max_steps or DEFAULT_RANDOM_STEPS
    # Fail fast, in this process, on a bad scenario, parameter or invariant.
    model = _Model(scenario, _mutants(mutant), params, atomic_sections, memo)
    invs = _select_invariants(model, invariants, exclude)  # type: ignore[arg-type]
    job = SwarmJob(
        scenario,
        tuple(invariants),
        mutant,
        tuple(exclude),
        seed,
        max(1, total_steps // searches),
        max_states,
        time_limit,
        atomic_sections,
        dict(params),
        memo,
    )
    start = time.perf_counter()
    coverage = Fingerprints()
    done: list[SearchResult] = []

    def collect(result: SearchResult) -> None:
        done.append(result)
        for fp in array("Q", result.fingerprints):
            coverage.add(fp)
        if progress is not None:
            steps = sum(r.exploration.steps_walked for r in done)
            walked = sum(r.exploration.walks for r in done)
            depth = max(r.exploration.depth for r in done)
            progress(
                ProgressInfo(
                    len(coverage),
                    steps,
                    depth,
                    time.perf_counter() - start,
                    "swarm",
                    steps,
                    walked,
                    workers,
                )
            )

    if ray_address:
        for result in _run_on_ray(job, searches, ray_address):
            collect(result)
    elif workers == 1:
        for index in range(searches):
            collect(run_search(job, index))
    else:
        _JOB = job
        try:
            ctx = multiprocessing.get_context("fork")
            with ctx.Pool(workers) as pool:
                for result in pool.imap(_run_inherited, range(searches)):
                    collect(result)
        finally:
            _JOB = None
    return _merge(model, invs, done, coverage, start, workers)


def _merge(
    model: Any,
    invs: list[Any],
    done: list[SearchResult],
    coverage: Fingerprints,
    start: float,
    workers: int,
) -> Any:
    from specmodel.explorer.search import _result

    done.sort(key=lambda r: r.index)
    found = [r for r in done if r.exploration.violation is not None]
    best = min(found, key=lambda r: (len(r.exploration.violation.trace), r.index), default=None)
    metrics: dict[str, int] = {}
    for r in done:
        for name, value in r.exploration.metrics.items():
            metrics[name] = max(metrics.get(name, value), value)
    steps = sum(r.exploration.steps_walked for r in done)
    return _result(
        model,
        invs,
        best.exploration.violation if best is not None else None,
        len(coverage),
        steps,
        start,
        metrics,
        "swarm",
        max((r.exploration.depth for r in done), default=0),
        {},
        steps_walked=steps,
        walks=sum(r.exploration.walks for r in done),
        workers=workers,
    )


def _run_on_ray(job: SwarmJob, searches: int, address: str) -> list[SearchResult]:
    """The searches as Ray tasks; ``address`` "local" starts a cluster in this process."""
    try:
        import ray
    except ImportError:
        raise SpecmodelError(
            "--ray needs Ray, which is not installed: pip install 'specmodel[ray]'"
        ) from None
    if not ray.is_initialized():
        try:
            if address == "local":
                ray.init(include_dashboard=False, log_to_driver=False)
            else:
                ray.init(address=address, log_to_driver=False)
        except Exception as exc:  # Ray's own connection errors, reported as ours
            raise SpecmodelError(
                f"cannot connect to the Ray cluster at {address!r}: {type(exc).__name__}: {exc}"
            ) from None
    remote = ray.remote(run_search)
    refs = [remote.remote(job, index) for index in range(searches)]
    return list(ray.get(refs))
