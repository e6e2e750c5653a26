"""Claims: behavioural sentences of the docs as executable checks (declared in ``checks/``).

A claim is a function decorated with ``@claim``; the decorator attaches a frozen ``Claim``
to it (Hypothesis ``stateful.py`` style, nothing global is mutated at import). Its id is its
import path, ``checks.fast_zap.generation_only_0_or_1``. The function receives a
``ClaimContext`` and explores scenarios through it; a failed requirement makes the claim
diverge. Every claim names the mutants it must catch: a check that cannot fail proves nothing.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from specmodel.errors import BadParameterError, ClaimDefinitionError, UnknownNameError
from specmodel.explorer import Exploration, explore
from specmodel.explorer.invariants import BUILTIN
from specmodel.explorer.trace import Trace
from specmodel.kernel.mutants import MUTANTS
from specmodel.kernel.scenarios import get_scenario, scenario_names

CLAIM_MARKER = "__specmodel_claim__"
ParamValue = int | bool


class ClaimFailed(Exception):
    """Raised inside a check when a requirement fails (caught by ``Claim.run``)."""

    def __init__(self, message: str, exploration: Exploration | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.exploration = exploration


class ClaimContext:
    """What a check sees: its parameters, the mutant under test, and ``explore``."""

    def __init__(
        self,
        claim: Claim,
        mutant: str | None,
        params: Mapping[str, ParamValue],
        max_states: int | None = None,
        time_limit: float | None = None,
    ):
        self.claim = claim
        self.mutant = mutant
        self.params = dict(params)
        self.max_states = max_states
        self.time_limit = time_limit
        self.explorations: list[Exploration] = []

    def explore(
        self,
        scenario: str,
        *,
        only: Sequence[str] | None = None,
        invariants: Sequence[Any] = (),
        witness: Mapping[str, Any] | None = None,
        **overrides: ParamValue,
    ) -> Exploration:
        """Explore ``scenario`` with this claim's parameters (for the names the scenario
        takes), ``overrides`` and the mutant under test. ``only`` restricts the built-in
        invariants to those named, so the claim is judged by its own property."""
        accepted = {p.name for p in get_scenario(scenario).params}
        params: dict[str, Any] = {k: v for k, v in self.params.items() if k in accepted}
        params.update(overrides)
        exclude = () if only is None else tuple(n for n in BUILTIN if n not in only)
        result = explore(
            scenario,
            mutant=self.mutant,
            invariants=invariants,
            exclude=exclude,
            witness=witness,
            max_states=self.max_states,
            time_limit=self.time_limit,
            **params,
        )
        self.explorations.append(result)
        return result

    def require_holds(self, result: Exploration) -> None:
        """Fail with the counterexample if ``result`` found a violation."""
        if result.violation is not None:
            raise ClaimFailed(f"{result.violation.invariant}: {result.violation.message}", result)

    def require(self, condition: bool, message: str, result: Exploration | None = None) -> None:
        if not condition:
            raise ClaimFailed(message, result)


Check = Callable[[ClaimContext], None]


@dataclass(frozen=True)
class ClaimResult:
    """The verdict of one run of a claim."""

    claim: Claim
    holds: bool
    message: str
    explorations: tuple[Exploration, ...]
    trace: Trace | None
    mutant: str | None = None

    @property
    def states(self) -> int:
        return sum(e.states for e in self.explorations)


@dataclass(frozen=True)
class Claim:
    """A declared claim (attached to its check function by ``@claim``)."""

    id: str
    statement: str
    scenarios: tuple[str, ...]
    mutants: tuple[str, ...]
    params: Mapping[str, ParamValue]
    check: Check = field(repr=False, compare=False)
    #: A historical wording the kernel model refutes (the docs cite it with
    #: ``:expect: violated``); its refutation on the kernel is what makes it non-vacuous.
    kernel_refutes: bool = False

    def run(
        self,
        *,
        mutant: str | None = None,
        max_states: int | None = None,
        time_limit: float | None = None,
        **params: object,
    ) -> ClaimResult:
        """Run the check on the kernel model (or ``mutant``); parameters override the
        declared defaults and must be ones the claim declares. ``max_states`` and
        ``time_limit`` bound each exploration (``BudgetExceededError``)."""
        if mutant is not None and mutant not in MUTANTS:
            raise UnknownNameError("mutant", mutant, MUTANTS)
        merged: dict[str, ParamValue] = dict(self.params)
        for key, value in params.items():
            if key not in self.params:
                raise BadParameterError(
                    f"claim {self.id} has no parameter {key!r}; expected one of: "
                    f"{', '.join(sorted(self.params)) or '(none)'}"
                )
            merged[key] = _coerce(self.id, key, value, self.params[key])
        ctx = ClaimContext(self, mutant, merged, max_states, time_limit)
        try:
            self.check(ctx)
        except ClaimFailed as failed:
            trace = None
            if failed.exploration is not None and failed.exploration.violation is not None:
                trace = failed.exploration.violation.trace
            return ClaimResult(self, False, failed.message, tuple(ctx.explorations), trace, mutant)
        figures = "; ".join(e.describe() for e in ctx.explorations)
        return ClaimResult(self, True, figures, tuple(ctx.explorations), None, mutant)


def _coerce(claim_id: str, key: str, value: object, default: ParamValue) -> ParamValue:
    if isinstance(value, str):
        text = value.strip().lower()
        if isinstance(default, bool) and text in ("true", "false", "yes", "no", "on", "off"):
            return text in ("true", "yes", "on")
        try:
            value = int(text, 0)
        except ValueError:
            raise BadParameterError(
                f"claim {claim_id}: parameter {key} must be an integer (got {value!r})"
            ) from None
    if not isinstance(value, int):
        raise BadParameterError(
            f"claim {claim_id}: parameter {key} must be an integer (got {value!r})"
        )
    return bool(value) if isinstance(default, bool) else int(value)


def claim(
    *,
    statement: str,
    scenarios: Sequence[str],
    mutants: Sequence[str] = (),
    params: Mapping[str, ParamValue] | None = None,
    kernel_refutes: bool = False,
) -> Callable[[Check], Check]:
    """Declare a claim. Definition errors are raised here, naming the claim."""

    def decorate(fn: Check) -> Check:
        claim_id = f"{fn.__module__}.{fn.__name__}"
        if hasattr(fn, CLAIM_MARKER):
            raise ClaimDefinitionError(f"{claim_id} is decorated with @claim twice")
        if not statement.strip():
            raise ClaimDefinitionError(f"{claim_id}: the statement is empty")
        for name in scenarios:
            if name not in scenario_names():
                raise ClaimDefinitionError(
                    f"{claim_id}: unknown scenario {name!r}; expected one of: "
                    f"{', '.join(scenario_names())}"
                )
        if not scenarios:
            raise ClaimDefinitionError(f"{claim_id}: a claim explores at least one scenario")
        for name in mutants:
            if name not in MUTANTS:
                raise ClaimDefinitionError(
                    f"{claim_id}: unknown mutant {name!r}; expected one of: {', '.join(MUTANTS)}"
                )
        if not mutants and not kernel_refutes:
            raise ClaimDefinitionError(
                f"{claim_id}: a claim must name the mutants it catches (a check that "
                "cannot fail proves nothing)"
            )
        accepted = {p.name for s in scenarios for p in get_scenario(s).params}
        for key in params or {}:
            if key not in accepted:
                raise ClaimDefinitionError(
                    f"{claim_id}: parameter {key!r} is taken by none of its scenarios "
                    f"({', '.join(scenarios)}); expected one of: {', '.join(sorted(accepted))}"
                )
        doc = " ".join(statement.split())
        setattr(
            fn,
            CLAIM_MARKER,
            Claim(
                claim_id,
                doc,
                tuple(scenarios),
                tuple(mutants),
                dict(params or {}),
                fn,
                kernel_refutes,
            ),
        )
        return fn

    return decorate


def collect(module: ModuleType) -> tuple[Claim, ...]:
    """The claims a module declares, sorted by id."""
    found = [
        getattr(obj, CLAIM_MARKER)
        for _, obj in inspect.getmembers(module)
        if inspect.isfunction(obj)
        and hasattr(obj, CLAIM_MARKER)
        and obj.__module__ == module.__name__
    ]
    return tuple(sorted(found, key=lambda c: c.id))


def _check_modules(package: str = "checks") -> list[ModuleType]:
    pkg = importlib.import_module(package)
    return [
        importlib.import_module(f"{package}.{info.name}")
        for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name)
    ]


def all_claims(package: str = "checks") -> tuple[Claim, ...]:
    """Every claim in the ``checks`` package, sorted by id; duplicate ids are errors."""
    claims: dict[str, Claim] = {}
    for module in _check_modules(package):
        for c in collect(module):
            if c.id in claims:
                raise ClaimDefinitionError(f"duplicate claim id {c.id}")
            claims[c.id] = c
    return tuple(claims[k] for k in sorted(claims))


def get_claim(claim_id: str) -> Claim:
    """The claim with this dotted id; unknown ids raise ``UnknownNameError`` listing the
    valid ones."""
    module_name, _, name = claim_id.rpartition(".")
    valid = [c.id for c in all_claims()]
    if not module_name:
        raise UnknownNameError("claim", claim_id, valid)
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise UnknownNameError("claim", claim_id, valid) from None
    obj = getattr(module, name, None)
    found = getattr(obj, CLAIM_MARKER, None)
    if not isinstance(found, Claim):
        raise UnknownNameError("claim", claim_id, [c.id for c in collect(module)] or valid)
    return found
