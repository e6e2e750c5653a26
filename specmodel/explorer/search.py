"""The explorer: every interleaving of a scenario, invariants checked in every state.

Breadth-first search over the model's states with exact deduplication, so the first
violation found has a shortest trace (fewest steps from the initial state). States are
tuples of ints, so the search is deterministic: the same input gives the same trace.
``strategy="random"`` runs seeded random walks for configurations too large to exhaust.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from specmodel.errors import (
    BadParameterError,
    BudgetExceededError,
    InvariantExpressionError,
    UnknownNameError,
)
from specmodel.explorer.exprs import compile_invariant
from specmodel.explorer.invariants import BUILTIN, REFUTABLE, Invariant
from specmodel.explorer.memo import MEMO_BY_DEFAULT, memoised
from specmodel.explorer.symmetry import canonical
from specmodel.explorer.trace import Step, Trace, decode_schedule, encode_schedule
from specmodel.explorer.visited import _MASK64, Fingerprints, Parents, fingerprint
from specmodel.kernel.config import Config
from specmodel.kernel.locks import holds, waits
from specmodel.kernel.mmu import V_MODE, V_PREPARED, V_WAIT
from specmodel.kernel.program import Program, Successor
from specmodel.kernel.scenarios import instantiate
from specmodel.kernel.state import State
from specmodel.kernel.vcpu import MODE_NAMES
from specmodel.kernel.zap import Z_HOLD

InvariantSpec = Invariant | str | Callable[..., bool]


@dataclass(frozen=True)
class ProgressInfo:
    """How far a search has got, reported about once a second.

    ``states`` is always distinct states; ``steps`` the steps walked by random walks (0 for
    breadth-first search, whose work is ``transitions``)."""

    states: int
    transitions: int
    depth: int
    seconds: float
    strategy: str = "bfs"
    steps: int = 0
    #: Random walks (or swarm searches) finished so far.
    walks: int = 0
    workers: int = 1

    @property
    def states_per_second(self) -> float:
        return self.states / self.seconds if self.seconds else 0.0

    def describe(self) -> str:
        rate = f"{self.states_per_second:,.0f} distinct states/s"
        if self.strategy == "bfs":
            tail = f"{self.transitions} transitions, depth {self.depth}"
        else:
            tail = f"{self.steps} steps walked in {self.walks} walks, longest {self.depth}"
        workers = f", {self.workers} workers" if self.workers > 1 else ""
        return f"{self.states} distinct states, {rate}, {tail}{workers}, {self.seconds:.0f} s"


@dataclass(frozen=True)
class Violation:
    """A broken invariant: its name, what was expected and found, and how to get there."""

    invariant: str
    message: str
    trace: Trace

    def render(self) -> str:
        return f"invariant {self.invariant} violated: {self.message}\n{self.trace}"

    def __str__(self) -> str:
        return self.render()


@dataclass(frozen=True)
class Exploration:
    """What ``explore()`` found."""

    scenario: str
    params: Mapping[str, int | bool]
    mutant: tuple[str, ...]
    holds: bool
    states: int
    transitions: int
    seconds: float
    violation: Violation | None
    metrics: Mapping[str, int]
    #: Names of the invariants checked in every state.
    invariants: tuple[str, ...] = ()
    #: False for random walks: a pass then proves nothing about unexplored states.
    exhaustive: bool = True
    strategy: str = "bfs"
    depth: int = 0
    #: Extra properties a caller asked to record (see ``witness``).
    witnesses: Mapping[str, bool] = field(default_factory=dict)
    #: Random walks and swarms: steps walked in all (``states`` counts distinct states
    #: only, the same meaning as for breadth-first search); 0 for breadth-first search.
    steps_walked: int = 0
    #: Random walks and swarms: walks started; 0 for breadth-first search.
    walks: int = 0
    #: Processes (or Ray tasks) the search ran in.
    workers: int = 1

    def describe(self) -> str:
        params = ", ".join(f"{k}={int(v)}" for k, v in self.params.items())
        mutant = f" [mutant {'+'.join(self.mutant)}]" if self.mutant else ""
        verdict = "holds" if self.holds else f"VIOLATED ({self.violation.invariant})"  # type: ignore[union-attr]
        workers = f", {self.workers} workers" if self.workers > 1 else ""
        if self.exhaustive:
            return (
                f"{self.scenario}({params}){mutant}: {verdict}; {self.states} states, "
                f"{self.transitions} transitions, depth {self.depth}, "
                f"{self.seconds:.2f} s{workers}"
            )
        kind = "swarm of random walks" if self.strategy == "swarm" else "random walks"
        return (
            f"{self.scenario}({params}){mutant}: {verdict}; {self.states} distinct states "
            f"seen, {self.steps_walked} steps walked in {self.walks} walks (longest "
            f"{self.depth}), {self.seconds:.2f} s{workers} ({kind}, not exhaustive)"
        )


class _Model:
    """One instantiated scenario: config, initial state, programs, thread names."""

    def __init__(
        self,
        scenario: str,
        mutant: tuple[str, ...],
        params: Mapping[str, object],
        atomic_sections: bool = True,
        memo: bool | None = None,
    ):
        _, self.params, cfg, self.initial, self.programs, self.names = instantiate(
            scenario, mutant, params
        )
        self.cfg = cfg if atomic_sections else dataclasses.replace(cfg, atomic_sections=False)
        #: what the searches step with: the programs, memoised unless ``memo`` is False
        #: (memo.py); a replay runs the programs themselves
        if memo is None:
            memo = MEMO_BY_DEFAULT
        self.search_programs = memoised(self.programs) if memo else self.programs
        self.scenario = scenario
        self.mutant = mutant

    def successors(self, state: State) -> list[tuple[int, int, Successor]]:
        out = []
        cfg = self.cfg
        for tid, program in enumerate(self.search_programs):
            for j, succ in enumerate(program(state, tid, cfg)):
                out.append((tid, j, succ))
        return out

    def trace(self, choices: list[tuple[int, int]], symmetric: bool = False) -> Trace:
        return self.replay(choices, symmetric)[0]

    def replay(
        self, choices: list[tuple[int, int]], symmetric: bool = False
    ) -> tuple[Trace, State]:
        """Replay ``choices`` from the initial state. With ``symmetric``, each choice names
        a thread of the canonical representative of the current state (as the search
        stored it) and is mapped back to the thread it is in this concrete run."""
        state = self.initial
        steps = []
        actual: list[tuple[int, int]] = []
        to_canonical: dict[int, int] = {}
        for n, (canon_tid, j) in enumerate(choices, 1):
            tid = {c: a for a, c in to_canonical.items()}.get(canon_tid, canon_tid)
            actual.append((tid, j))
            succs = self.programs[tid](state, tid, self.cfg)
            if j >= len(succs):
                raise ValueError(
                    f"schedule step {n}: thread {self.names[tid]} has {len(succs)} "
                    f"choice(s) here, the schedule asks for choice {j}"
                )
            label, state = succs[j]
            mode = MODE_NAMES[state.threads[tid][V_MODE]] if tid in self.cfg.vcpu_tids else None
            steps.append(
                Step(n, self.names[tid], label, holds(state.vm, tid), waits(state.vm, tid), mode)
            )
            if symmetric:
                to_canonical = canonical(state, self.cfg)[1]
        return Trace(tuple(steps), encode_schedule(actual), self.names), state


def _normalise_mutant(mutant: str | Sequence[str] | None) -> tuple[str, ...]:
    if mutant is None:
        return ()
    if isinstance(mutant, str):
        return tuple(m for m in mutant.replace("+", ",").split(",") if m.strip())
    return tuple(mutant)


def _select_invariants(
    model: _Model, invariants: Sequence[InvariantSpec], exclude: Sequence[str]
) -> list[Invariant]:
    for name in exclude:
        if name not in BUILTIN:
            raise UnknownNameError("built-in invariant", name, BUILTIN)
    chosen = [inv for name, inv in BUILTIN.items() if name not in exclude]
    for spec in invariants:
        if isinstance(spec, Invariant):
            chosen.append(spec)
        elif isinstance(spec, str) and spec in REFUTABLE:
            chosen.append(REFUTABLE[spec])
        elif isinstance(spec, str) and spec in BUILTIN:
            if spec in exclude:
                chosen.append(BUILTIN[spec])
        else:
            chosen.append(compile_invariant(spec, model.cfg, model.names))
    return chosen


def new_metrics() -> dict[str, int]:
    """The metrics every search reports, all 0 (the one list of their names)."""
    return {
        "max_vcpu_mmu_lock_wait": 0,
        "max_vcpu_mmu_lock_wait_prepared": 0,
        "max_pages_zapped_per_mmu_lock_hold": 0,
    }


def _metrics(cfg: Config, state: State, metrics: dict[str, int]) -> None:
    for tid in cfg.vcpu_tids:
        wait = state.threads[tid][V_WAIT]
        if wait > metrics["max_vcpu_mmu_lock_wait"]:
            metrics["max_vcpu_mmu_lock_wait"] = wait
        prepared = state.threads[tid][V_PREPARED]
        if prepared > metrics["max_vcpu_mmu_lock_wait_prepared"]:
            metrics["max_vcpu_mmu_lock_wait_prepared"] = prepared
    for tid in cfg.zapper_tids:
        hold = state.threads[tid][Z_HOLD]
        if hold > metrics["max_pages_zapped_per_mmu_lock_hold"]:
            metrics["max_pages_zapped_per_mmu_lock_hold"] = hold


class _Checker:
    """Checks invariants in order; verdicts of ``pages_only`` invariants are cached per
    (vm, pages) pair, which many states share."""

    def __init__(self, invs: list[Invariant], cfg: Config) -> None:
        self.cfg = cfg
        self.invs = invs
        self.cached = [(n, i) for n, i in enumerate(invs) if i.pages_only]
        self.other = [(n, i) for n, i in enumerate(invs) if not i.pages_only]
        self.memo: dict[tuple[object, ...], tuple[object, tuple[int, str] | None]] = {}

    def _pages_verdict(self, state: State) -> tuple[int, str] | None:
        vm = state.vm
        # everything a pages_only invariant reads: the pages and these fields of vm
        key = (
            id(state.pages),
            vm.mmu_valid_gen,
            vm.active,
            vm.tdp_roots,
            vm.epoch,
            vm.hazard,
            vm.n_used_mmu_pages,
        )
        hit = self.memo.get(key)
        if hit is not None and hit[0] is state.pages:
            return hit[1]
        verdict = None
        for n, inv in self.cached:
            message = inv.check(self.cfg, state)
            if message is not None:
                verdict = (n, message)
                break
        if len(self.memo) >= 1 << 12:
            self.memo.clear()  # bounded: it is a cache, and it keeps pages alive
        # the entry keeps the pages alive, so their id cannot be reused meanwhile
        self.memo[key] = (state.pages, verdict)
        return verdict

    def first_violation(self, state: State) -> tuple[str, str] | None:
        cached = self._pages_verdict(state) if self.cached else None
        limit = cached[0] if cached is not None else len(self.invs)
        for n, inv in self.other:
            if n > limit:
                break
            message = inv.check(self.cfg, state)
            if message is not None:
                return inv.name, message
        if cached is not None:
            return self.invs[cached[0]].name, cached[1]
        return None


def _result(
    model: _Model,
    invs: list[Invariant],
    violation: Violation | None,
    states: int,
    transitions: int,
    start: float,
    metrics: dict[str, int],
    strategy: str,
    depth: int,
    witnesses: dict[str, bool],
    steps_walked: int = 0,
    walks: int = 0,
    workers: int = 1,
) -> Exploration:
    return Exploration(
        model.scenario,
        model.params,
        model.mutant,
        violation is None,
        states,
        transitions,
        time.perf_counter() - start,
        violation,
        dict(metrics),
        tuple(i.name for i in invs),
        exhaustive=strategy == "bfs",
        strategy=strategy,
        depth=depth,
        witnesses=witnesses,
        steps_walked=steps_walked,
        walks=walks,
        workers=workers,
    )


def _as_specs(value: object, what: str) -> tuple[object, ...]:
    """A bare string is one item (an expression or a name), never its characters."""
    if isinstance(value, str):
        return (value,)
    if callable(value) or isinstance(value, Invariant):
        return (value,)
    try:
        return tuple(value)  # type: ignore[arg-type]
    except TypeError:
        raise InvariantExpressionError(
            f"{what} must be a sequence of expressions, names or callables "
            f"(got {type(value).__name__})"
        ) from None


#: Steps a ``strategy="random"`` run walks unless ``max_steps`` says otherwise.
DEFAULT_RANDOM_STEPS = 200_000


def explore(
    scenario: str,
    *,
    invariants: Sequence[InvariantSpec] | InvariantSpec = (),
    mutant: str | Sequence[str] | None = None,
    exclude: Sequence[str] | str = (),
    strategy: Literal["bfs", "random", "swarm"] = "bfs",
    seed: int = 0,
    max_states: int | None = None,
    max_steps: int | None = None,
    time_limit: float | None = None,
    progress: Callable[[ProgressInfo], None] | None = None,
    witness: Mapping[str, InvariantSpec] | None = None,
    symmetry: bool = True,
    exact: bool = False,
    atomic_sections: bool = True,
    workers: int = 1,
    ray_address: str | None = None,
    walks: int | None = None,
    memo: bool | None = None,
    **params: int | bool,
) -> Exploration:
    """Explore every interleaving of ``scenario`` (bounded by ``params``), checking the
    built-in invariants (less ``exclude``) and ``invariants`` in every state.

    :param invariants: callables over a ``Kvm`` view, Python expressions over ``kvm``, or
        names of refutable properties (``specmodel.explorer.invariants.REFUTABLE``). A
        bare string or callable is one invariant. Each must return a bool.
    :param mutant: a mutant name, several joined with ``+``, or a sequence of names.
    :param strategy: ``"bfs"`` (exhaustive, shortest counterexample), ``"random"`` (seeded
        random walks) or ``"swarm"`` (many random searches with different seeds and
        bounds, merged; see ``specmodel.explorer.swarm``).
    :param max_states: BFS: distinct states before ``BudgetExceededError``. Random walks
        and swarms: stop (normally) once this many distinct states were seen.
    :param max_steps: random walks and swarms: steps to walk in all (default 200,000).
    :param workers: BFS: shard the search over this many processes (same states and
        verdicts; ``specmodel.explorer.sharded``); swarm: run its searches in this many
        processes.
    :param ray_address: swarm only: run its searches as tasks on this Ray cluster
        (``"auto"``, ``"local"`` or ``"ray://host:port"``; needs ``specmodel[ray]``).
    :param walks: swarm only: independent searches to run (default: 4 per worker).
    :param symmetry: identify states that differ only in which vCPU is which (used only
        when every checked property is a built-in one, which all treat vCPUs alike).
    :param exact: remember visited states themselves rather than 64-bit fingerprints
        (more memory; removes the tiny chance that two states share a fingerprint).
    :param atomic_sections: run a vCPU's critical section under ``mmu_lock`` in the step
        that takes the lock, and the zap's final releases in the step before them (a
        Lipton reduction: no verdict changes, fewer states). False gives every acquire
        and release a step of its own, to check exactly that; replay such a trace with
        the same setting.
    :param memo: memoise each thread's successors on its own locals, the VM and the pages
        wherever computing them touched no other thread's locals
        (``specmodel.explorer.memo``; no verdict, count or trace changes). None (the
        default): on where the kernel model runs as pure Python, off in the compiled build,
        where it costs more than it saves. False computes every step afresh.
    :param witness: named properties to look for: ``Exploration.witnesses[name]`` is True
        if some reachable state violates the property (an existence check; no early stop).
    :raises UnknownNameError: unknown scenario, mutant, strategy or excluded invariant.
    :raises BadParameterError: a parameter the scenario does not take or out of range.
    :raises InvariantExpressionError: an invariant expression that does not parse, raises
        or returns something other than a bool.
    :raises BudgetExceededError: more than ``max_states`` states or ``time_limit`` seconds.
    """
    specs = _as_specs(invariants, "invariants")
    excluded = tuple(str(x) for x in _as_specs(exclude, "exclude"))
    if strategy not in ("bfs", "random", "swarm"):
        raise UnknownNameError("strategy", strategy, ("bfs", "random", "swarm"))
    if workers < 1:
        raise BadParameterError(f"workers must be at least 1, found {workers}")
    if strategy == "swarm" or (strategy == "random" and (workers > 1 or ray_address)):
        from specmodel.explorer.swarm import swarm

        result: Exploration = swarm(
            scenario,
            invariants=specs,
            mutant=mutant,
            exclude=excluded,
            seed=seed,
            walks=walks,
            max_states=max_states,
            max_steps=max_steps,
            time_limit=time_limit,
            progress=progress,
            atomic_sections=atomic_sections,
            workers=workers,
            ray_address=ray_address,
            memo=memo,
            **params,
        )
        return result
    if ray_address:
        raise BadParameterError(
            "ray_address runs a swarm (strategy='swarm'); a sharded breadth-first search "
            "runs in local processes (workers=N)"
        )
    mutants = _normalise_mutant(mutant)
    model = _Model(scenario, mutants, params, atomic_sections, memo)
    invs = _select_invariants(model, specs, excluded)  # type: ignore[arg-type]
    witnesses = {
        name: _select_invariants(model, [spec], tuple(BUILTIN))[-1]
        for name, spec in (witness or {}).items()
    }
    if strategy == "random":
        return _random(
            model,
            invs,
            seed,
            max_steps or DEFAULT_RANDOM_STEPS,
            max_states,
            time_limit,
            witnesses,
            progress,
        )
    # Only the built-in properties are known to treat vCPUs alike; a caller's own
    # invariant may single one out (kvm.vcpus[0]), so it gets the full state space.
    symmetric = symmetry and all(
        isinstance(spec, str) and (spec in REFUTABLE or spec in BUILTIN)
        for spec in (*specs, *(witness or {}).values())
    )
    if workers > 1:
        if witnesses or exact:
            raise BadParameterError(
                "a sharded search (workers > 1) takes neither witness nor exact=True"
            )
        from specmodel.explorer.sharded import sharded_bfs

        sharded: Exploration = sharded_bfs(
            model, invs, specs, max_states, time_limit, progress, symmetric, workers
        )
        return sharded
    return _bfs(model, invs, max_states, time_limit, progress, witnesses, symmetric, exact)


def _budget_error(scenario: str, max_states: int, states: int) -> BudgetExceededError:
    return BudgetExceededError(
        f"{scenario}: explored more than {max_states} states without finishing "
        f"(raise the state budget or lower the parameters)"
    )


def _time_error(scenario: str, time_limit: float, states: int) -> BudgetExceededError:
    return BudgetExceededError(
        f"{scenario}: exploration exceeded its time limit of {time_limit:g} s after {states} states"
    )


def _bfs(
    model: _Model,
    invs: list[Invariant],
    max_states: int | None,
    time_limit: float | None,
    progress: Callable[[ProgressInfo], None] | None,
    witnesses: dict[str, Invariant],
    symmetric: bool = False,
    exact: bool = False,
) -> Exploration:
    cfg = model.cfg
    start = time.perf_counter()
    metrics = new_metrics()
    found = dict.fromkeys(witnesses, False)
    init = model.initial
    # Fingerprints, as TLC and SPIN's hash compaction do: a 64-bit hash per visited state
    # instead of the state, 8 bytes each in an open-addressing table (visited.py). Two
    # states sharing one is the only way to miss a state; for n states that happens with
    # probability below n*n / 2**65 (3e-8 for a million states), given that distinct parts
    # hash apart: states hold small ints, and no state uses -2, which CPython hashes like
    # -1. ``exact=True`` keys by the states themselves.
    exact_seen: set[State] = {init}
    fps = Fingerprints()
    fps.add(fingerprint(init))
    # per visited state, in visiting order: its parent's index and the (thread, choice)
    # step from there, enough to rebuild any trace
    parents = Parents()
    transitions = 0
    next_report = start + 1.0
    max_depth = 0

    def count() -> int:
        return len(exact_seen) if exact else len(fps)

    def result(violation: Violation | None) -> Exploration:
        return _result(
            model, invs, violation, count(), transitions, start, metrics, "bfs", max_depth, found
        )

    checker = _Checker(invs, cfg)

    def check(state: State, idx: int) -> Exploration | None:
        _metrics(cfg, state, metrics)
        for name, inv in witnesses.items():
            if not found[name] and inv.check(cfg, state) is not None:
                found[name] = True
        bad = checker.first_violation(state)
        if bad is None:
            return None
        trace, final = model.replay(parents.path(idx), symmetric)
        # the search saw a renamed copy of this state: word the message for the real one
        message = next(i for i in invs if i.name == bad[0]).check(cfg, final) or bad[1]
        return result(Violation(bad[0], message, trace))

    early = check(init, 0)
    if early is not None:
        return early
    # The frontier holds states only: visited states get indexes in visiting order, which
    # is the order they are expanded in, so the next state's index is a counter, and its
    # depth changes where the previous level's last index is passed. (A (state, index,
    # depth) tuple per entry cost about 90 bytes more per state in the frontier.)
    queue: deque[State] = deque([init])
    idx = -1
    depth = 0  # of the children of the state being expanded
    level_end = -1
    programs = list(enumerate(model.search_programs))
    add = exact_seen.add
    fp_add = fps.add
    while queue:
        state = queue.popleft()
        idx += 1
        if idx > level_end:
            depth += 1
            level_end = len(parents) - 1
        for tid, program in programs:
            for j, (_, nxt) in enumerate(program(state, tid, cfg)):
                transitions += 1
                if symmetric:
                    nxt = canonical(nxt, cfg)[0]
                if exact:
                    if nxt in exact_seen:
                        continue
                    add(nxt)
                elif not fp_add(hash(nxt) & _MASK64):
                    continue
                new = parents.append(idx, tid, j)
                if depth > max_depth:
                    max_depth = depth
                verdict = check(nxt, new)
                if verdict is not None:
                    return verdict
                queue.append(nxt)
        if max_states is not None and count() > max_states:
            raise _budget_error(model.scenario, max_states, count())
        now = time.perf_counter()
        if time_limit is not None and now - start > time_limit:
            raise _time_error(model.scenario, time_limit, count())
        if now >= next_report:
            if progress is not None:
                progress(ProgressInfo(count(), transitions, max_depth, now - start))
            next_report = now + 1.0
    return result(None)


def _random(
    model: _Model,
    invs: list[Invariant],
    seed: int,
    max_steps: int,
    max_states: int | None,
    time_limit: float | None,
    witnesses: dict[str, Invariant],
    progress: Callable[[ProgressInfo], None] | None = None,
    max_depth_bound: int | None = None,
    seen: Fingerprints | None = None,
) -> Exploration:
    """Seeded random walks from the initial state until ``max_steps`` steps in all, a
    violation, ``max_states`` distinct states seen, or ``time_limit``. A walk ends where no
    thread can step, or after ``max_depth_bound`` steps (swarm searches vary it)."""
    cfg = model.cfg
    checker = _Checker(invs, cfg)
    rng = random.Random(seed)
    start = time.perf_counter()
    next_report = start + 1.0
    metrics = new_metrics()
    found = dict.fromkeys(witnesses, False)
    if seen is None:
        seen = Fingerprints()
    seen.add(fingerprint(model.initial))
    steps = 0
    walks = 0
    max_depth = 0
    violation: Violation | None = None
    bad = checker.first_violation(model.initial)
    if bad is not None:
        violation = Violation(bad[0], bad[1], model.trace([]))
    while steps < max_steps and violation is None:
        state = model.initial
        path: list[tuple[int, int]] = []
        walks += 1
        while steps < max_steps and (max_depth_bound is None or len(path) < max_depth_bound):
            succs = model.successors(state)
            if not succs:
                break
            tid, j, (_, state) = succs[rng.randrange(len(succs))]
            path.append((tid, j))
            steps += 1
            seen.add(fingerprint(state))
            _metrics(cfg, state, metrics)
            for name, inv in witnesses.items():
                if not found[name] and inv.check(cfg, state) is not None:
                    found[name] = True
            bad = checker.first_violation(state)
            if bad is not None:
                violation = Violation(bad[0], bad[1], model.trace(path))
                break
        max_depth = max(max_depth, len(path))
        now = time.perf_counter()
        if time_limit is not None and now - start > time_limit:
            break
        if max_states is not None and len(seen) >= max_states:
            break
        if progress is not None and now >= next_report:
            progress(ProgressInfo(len(seen), steps, max_depth, now - start, "random", steps, walks))
            next_report = now + 1.0
    return _result(
        model,
        invs,
        violation,
        len(seen),
        steps,
        start,
        metrics,
        "random",
        max_depth,
        found,
        steps_walked=steps,
        walks=walks,
    )


def replay(
    scenario: str,
    schedule: str,
    *,
    mutant: str | Sequence[str] | None = None,
    invariants: Sequence[InvariantSpec] | InvariantSpec = (),
    exclude: Sequence[str] | str = (),
    atomic_sections: bool = True,
    **params: int | bool,
) -> Exploration:
    """Re-run one schedule (``Trace.schedule``), checking invariants after every step.
    ``atomic_sections`` must be what the search that found the schedule used."""
    mutants = _normalise_mutant(mutant)
    model = _Model(scenario, mutants, params, atomic_sections)
    invs = _select_invariants(
        model,
        _as_specs(invariants, "invariants"),  # type: ignore[arg-type]
        tuple(str(x) for x in _as_specs(exclude, "exclude")),
    )
    checker = _Checker(invs, model.cfg)
    start = time.perf_counter()
    choices = decode_schedule(schedule)
    state = model.initial
    metrics = new_metrics()
    violation = None
    bad = checker.first_violation(state)
    done: list[tuple[int, int]] = []
    for tid, j in choices:
        if bad is not None:
            break
        if not 0 <= tid < len(model.programs):
            raise ValueError(
                f"schedule names thread {tid}; the scenario has {len(model.programs)} threads"
            )
        succs = model.programs[tid](state, tid, model.cfg)
        if j >= len(succs):
            raise ValueError(
                f"schedule step {len(done) + 1}: thread {model.names[tid]} has "
                f"{len(succs)} choice(s) here, the schedule asks for {j}"
            )
        state = succs[j].state
        done.append((tid, j))
        _metrics(model.cfg, state, metrics)
        bad = checker.first_violation(state)
    if bad is not None:
        violation = Violation(bad[0], bad[1], model.trace(done))
    return Exploration(
        scenario,
        model.params,
        mutants,
        violation is None,
        len(done) + 1,
        len(done),
        time.perf_counter() - start,
        violation,
        metrics,
        tuple(i.name for i in invs),
        False,
        "replay",
        len(done),
    )


def programs_of(scenario: str, **params: int | bool) -> tuple[Program, ...]:
    """The thread programs of a scenario (for tests and the docs)."""
    return _Model(scenario, (), params).programs
