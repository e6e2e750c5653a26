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
from array import array
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from specmodel.errors import BudgetExceededError, UnknownNameError
from specmodel.explorer.exprs import compile_invariant
from specmodel.explorer.invariants import BUILTIN, REFUTABLE, Invariant
from specmodel.explorer.symmetry import canonical
from specmodel.explorer.trace import Step, Trace, decode_schedule, encode_schedule
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
    states: int
    transitions: int
    depth: int
    seconds: float

    @property
    def states_per_second(self) -> float:
        return self.states / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class Violation:
    """A broken invariant: its name, what was expected and found, and how to get there."""

    invariant: str
    message: str
    trace: Trace

    def render(self) -> str:
        return f"invariant {self.invariant} violated: {self.message}\n{self.trace.render()}"


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

    def describe(self) -> str:
        params = ", ".join(f"{k}={int(v)}" for k, v in self.params.items())
        mutant = f" [mutant {'+'.join(self.mutant)}]" if self.mutant else ""
        verdict = "holds" if self.holds else f"VIOLATED ({self.violation.invariant})"  # type: ignore[union-attr]
        kind = "" if self.exhaustive else " (random walks, not exhaustive)"
        return (
            f"{self.scenario}({params}){mutant}: {verdict}; {self.states} states, "
            f"{self.transitions} transitions, depth {self.depth}, "
            f"{self.seconds:.2f} s{kind}"
        )


class _Model:
    """One instantiated scenario: config, initial state, programs, thread names."""

    def __init__(
        self,
        scenario: str,
        mutant: tuple[str, ...],
        params: Mapping[str, object],
        atomic_sections: bool = True,
    ):
        _, self.params, cfg, self.initial, self.programs, self.names = instantiate(
            scenario, mutant, params
        )
        self.cfg = cfg if atomic_sections else dataclasses.replace(cfg, atomic_sections=False)
        self.scenario = scenario
        self.mutant = mutant

    def successors(self, state: State) -> list[tuple[int, int, Successor]]:
        out = []
        cfg = self.cfg
        for tid, program in enumerate(self.programs):
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
    )


def explore(
    scenario: str,
    *,
    invariants: Sequence[InvariantSpec] = (),
    mutant: str | Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    strategy: Literal["bfs", "random"] = "bfs",
    seed: int = 0,
    max_states: int | None = None,
    time_limit: float | None = None,
    progress: Callable[[ProgressInfo], None] | None = None,
    witness: Mapping[str, InvariantSpec] | None = None,
    symmetry: bool = True,
    exact: bool = False,
    atomic_sections: bool = True,
    **params: int | bool,
) -> Exploration:
    """Explore every interleaving of ``scenario`` (bounded by ``params``), checking the
    built-in invariants (less ``exclude``) and ``invariants`` in every state.

    :param invariants: callables over a ``Kvm`` view, Python expressions over ``kvm``, or
        names of refutable properties (``specmodel.explorer.invariants.REFUTABLE``).
    :param mutant: a mutant name, several joined with ``+``, or a sequence of names.
    :param symmetry: identify states that differ only in which vCPU is which (used only
        when every checked property is a built-in one, which all treat vCPUs alike).
    :param exact: remember visited states themselves rather than 64-bit fingerprints
        (more memory; removes the tiny chance that two states share a fingerprint).
    :param atomic_sections: run a vCPU's critical section under ``mmu_lock`` in the step
        that takes the lock, and the zap's final releases in the step before them (a
        Lipton reduction: no verdict changes, fewer states). False gives every acquire
        and release a step of its own, to check exactly that; replay such a trace with
        the same setting.
    :param witness: named properties to look for: ``Exploration.witnesses[name]`` is True
        if some reachable state violates the property (an existence check; no early stop).
    :raises UnknownNameError: unknown scenario, mutant or excluded invariant.
    :raises BadParameterError: a parameter the scenario does not take or out of range.
    :raises InvariantExpressionError: an invariant expression that does not parse or raises.
    :raises BudgetExceededError: more than ``max_states`` states or ``time_limit`` seconds.
    """
    mutants = _normalise_mutant(mutant)
    model = _Model(scenario, mutants, params, atomic_sections)
    invs = _select_invariants(model, invariants, exclude)
    witnesses = {
        name: _select_invariants(model, [spec], tuple(BUILTIN))[-1]
        for name, spec in (witness or {}).items()
    }
    if strategy == "random":
        return _random(model, invs, seed, max_states or 200_000, time_limit, witnesses)
    if strategy != "bfs":
        raise UnknownNameError("strategy", strategy, ("bfs", "random"))
    # Only the built-in properties are known to treat vCPUs alike; a caller's own
    # invariant may single one out (kvm.vcpus[0]), so it gets the full state space.
    symmetric = symmetry and all(
        isinstance(spec, str) and (spec in REFUTABLE or spec in BUILTIN)
        for spec in (*invariants, *(witness or {}).values())
    )
    return _bfs(model, invs, max_states, time_limit, progress, witnesses, symmetric, exact)


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
    metrics = {
        "max_vcpu_mmu_lock_wait": 0,
        "max_vcpu_mmu_lock_wait_prepared": 0,
        "max_pages_zapped_per_mmu_lock_hold": 0,
    }
    found = dict.fromkeys(witnesses, False)
    init = model.initial
    # Fingerprints, as TLC and SPIN's hash compaction do: a 64-bit hash per visited state
    # instead of the state. Two states sharing one is the only way to miss a state; for n
    # states that happens with probability below n*n / 2**65 (3e-8 for a million states),
    # given that distinct parts hash apart: states hold small ints, and no state uses -2,
    # which CPython hashes like -1.
    # ``exact=True`` keys by the states themselves.
    seen: set[object] = {init if exact else hash(init)}
    # per visited state, in visiting order: its parent's index and the (thread, choice) step
    # from there, enough to rebuild any trace
    parent = array("l", [-1])
    choice = array("l", [0])
    transitions = 0
    next_report = start + 1.0
    max_depth = 0

    def result(violation: Violation | None) -> Exploration:
        return _result(
            model, invs, violation, len(seen), transitions, start, metrics, "bfs", max_depth, found
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
        choices = []
        while idx > 0:
            code = choice[idx]
            choices.append((code >> 16, code & 0xFFFF))
            idx = parent[idx]
        choices.reverse()
        trace, final = model.replay(choices, symmetric)
        # the search saw a renamed copy of this state: word the message for the real one
        message = next(i for i in invs if i.name == bad[0]).check(cfg, final) or bad[1]
        return result(Violation(bad[0], message, trace))

    early = check(init, 0)
    if early is not None:
        return early
    queue: deque[tuple[State, int, int]] = deque([(init, 0, 0)])
    programs = list(enumerate(model.programs))
    while queue:
        state, idx, depth = queue.popleft()
        depth += 1
        for tid, program in programs:
            for j, (_, nxt) in enumerate(program(state, tid, cfg)):
                transitions += 1
                if symmetric:
                    nxt = canonical(nxt, cfg)[0]
                key = nxt if exact else hash(nxt)
                if key in seen:
                    continue
                new = len(parent)
                seen.add(key)
                parent.append(idx)
                choice.append((tid << 16) | j)
                if depth > max_depth:
                    max_depth = depth
                verdict = check(nxt, new)
                if verdict is not None:
                    return verdict
                queue.append((nxt, new, depth))
        if max_states is not None and len(seen) > max_states:
            raise BudgetExceededError(
                f"{model.scenario}: explored more than {max_states} states without "
                f"finishing (raise the state budget or lower the parameters)"
            )
        now = time.perf_counter()
        if time_limit is not None and now - start > time_limit:
            raise BudgetExceededError(
                f"{model.scenario}: exploration exceeded its time limit of "
                f"{time_limit:g} s after {len(seen)} states"
            )
        if now >= next_report:
            if progress is not None:
                progress(ProgressInfo(len(seen), transitions, max_depth, now - start))
            next_report = now + 1.0
    return result(None)


def _random(
    model: _Model,
    invs: list[Invariant],
    seed: int,
    budget: int,
    time_limit: float | None,
    witnesses: dict[str, Invariant],
) -> Exploration:
    cfg = model.cfg
    checker = _Checker(invs, cfg)
    rng = random.Random(seed)
    start = time.perf_counter()
    metrics = {
        "max_vcpu_mmu_lock_wait": 0,
        "max_vcpu_mmu_lock_wait_prepared": 0,
        "max_pages_zapped_per_mmu_lock_hold": 0,
    }
    found = dict.fromkeys(witnesses, False)
    seen: set[State] = {model.initial}
    steps = 0
    max_depth = 0
    violation: Violation | None = None
    while steps < budget and violation is None:
        state = model.initial
        path: list[tuple[int, int]] = []
        while steps < budget:
            succs = model.successors(state)
            if not succs:
                break
            tid, j, (_, state) = succs[rng.randrange(len(succs))]
            path.append((tid, j))
            steps += 1
            seen.add(state)
            _metrics(cfg, state, metrics)
            for name, inv in witnesses.items():
                if not found[name] and inv.check(cfg, state) is not None:
                    found[name] = True
            bad = checker.first_violation(state)
            if bad is not None:
                violation = Violation(bad[0], bad[1], model.trace(path))
                break
        max_depth = max(max_depth, len(path))
        if time_limit is not None and time.perf_counter() - start > time_limit:
            break
    return _result(
        model, invs, violation, len(seen), steps, start, metrics, "random", max_depth, found
    )


def replay(
    scenario: str,
    schedule: str,
    *,
    mutant: str | Sequence[str] | None = None,
    invariants: Sequence[InvariantSpec] = (),
    exclude: Sequence[str] = (),
    atomic_sections: bool = True,
    **params: int | bool,
) -> Exploration:
    """Re-run one schedule (``Trace.schedule``), checking invariants after every step.
    ``atomic_sections`` must be what the search that found the schedule used."""
    mutants = _normalise_mutant(mutant)
    model = _Model(scenario, mutants, params, atomic_sections)
    invs = _select_invariants(model, invariants, exclude)
    checker = _Checker(invs, model.cfg)
    start = time.perf_counter()
    choices = decode_schedule(schedule)
    state = model.initial
    metrics = {
        "max_vcpu_mmu_lock_wait": 0,
        "max_vcpu_mmu_lock_wait_prepared": 0,
        "max_pages_zapped_per_mmu_lock_hold": 0,
    }
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
