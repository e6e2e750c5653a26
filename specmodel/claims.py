"""Claims: behavioural sentences of the docs as executable checks (declared in ``checks/``).

A claim is a function decorated with ``@claim``; the decorator attaches a frozen ``Claim``
to it (Hypothesis ``stateful.py`` style, nothing global is mutated at import). The function
receives a ``ClaimContext`` and explores scenarios through it; a failed requirement makes the
claim diverge. Every claim names the mutants it must catch: a check that cannot fail proves
nothing.

Claim ids. The built-in claims live in the repository's ``checks/`` folder, which the
distribution installs as ``specmodel.checks`` (a generic top-level ``checks`` package in
site-packages would collide with any project's own). Their ids keep the short form the docs
cite, ``checks.fast_zap.generation_only_0_or_1``, and ``get_claim`` resolves that prefix
through ``specmodel.checks`` only. Any other id is the import path of a claim function in a
user's own module, ``myproject.claims.never_negative``: the module is imported by its dotted
name, so it must be importable (installed, or on ``sys.path``).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from specmodel.builtin_claims import BUILTIN_PACKAGE, source_tree_folder
from specmodel.builtin_claims import builtin_claim_dirs as builtin_claim_dirs  # re-exported
from specmodel.errors import BadParameterError, ClaimDefinitionError, UnknownNameError
from specmodel.explorer import Exploration, explore
from specmodel.explorer.invariants import BUILTIN
from specmodel.explorer.trace import Trace
from specmodel.kernel.mutants import MUTANTS
from specmodel.kernel.scenarios import get_scenario, scenario_names

CLAIM_MARKER = "__specmodel_claim__"
#: The id prefix the docs use for them: ``checks.<module>.<name>``.
BUILTIN_PREFIX = "checks"
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
        claim_id = claim_id_of(fn.__module__, fn.__name__)
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


def claim_id_of(module: str, name: str) -> str:
    """The id of claim function ``name`` defined in ``module``: ``checks.<rest>.<name>`` for
    the built-in package ``specmodel.checks.<rest>``, else ``<module>.<name>``."""
    if module == BUILTIN_PACKAGE or module.startswith(BUILTIN_PACKAGE + "."):
        module = BUILTIN_PREFIX + module[len(BUILTIN_PACKAGE) :]
    return f"{module}.{name}"


def module_name_of(id_module: str) -> str:
    """The import name of the module part of a claim id (``checks.x`` is
    ``specmodel.checks.x``; anything else is imported as written)."""
    if id_module == BUILTIN_PREFIX or id_module.startswith(BUILTIN_PREFIX + "."):
        return BUILTIN_PACKAGE + id_module[len(BUILTIN_PREFIX) :]
    return id_module


def builtin_package() -> ModuleType:
    """The built-in claims package, ``specmodel.checks``.

    Installed (wheel or editable), the distribution maps it to the repository's ``checks/``
    folder. In a source tree used without installing (``PYTHONPATH=.``) that mapping does not
    exist, so the ``checks/`` folder beside the ``specmodel`` package is loaded under the same
    name: claim ids and module names are the same in every mode.
    """
    if BUILTIN_PACKAGE in sys.modules:
        return sys.modules[BUILTIN_PACKAGE]
    try:
        return importlib.import_module(BUILTIN_PACKAGE)
    except ModuleNotFoundError as exc:
        if exc.name != BUILTIN_PACKAGE:
            raise
    folder = source_tree_folder()
    spec = importlib.util.spec_from_file_location(
        BUILTIN_PACKAGE, folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    if spec is None or spec.loader is None or not folder.is_dir():
        raise ClaimDefinitionError(
            f"the built-in claims: expected the package {BUILTIN_PACKAGE} (installed with "
            f"specmodel) or a checks/ folder at {folder}; found neither"
        )
    module = importlib.util.module_from_spec(spec)
    sys.modules[BUILTIN_PACKAGE] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[BUILTIN_PACKAGE]
        raise
    return module


def import_claim_module(id_module: str) -> ModuleType:
    """Import the module (or package) named by the module part of a claim id."""
    name = module_name_of(id_module)
    if name == BUILTIN_PACKAGE or name.startswith(BUILTIN_PACKAGE + "."):
        builtin_package()
    return importlib.import_module(name)


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


def _check_modules(package: str = BUILTIN_PREFIX) -> list[ModuleType]:
    pkg = import_claim_module(package)
    return [
        importlib.import_module(f"{pkg.__name__}.{info.name}")
        for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name)
    ]


def all_claims(package: str = BUILTIN_PREFIX) -> tuple[Claim, ...]:
    """Every claim in a package of claim modules, sorted by id; duplicate ids are errors.

    The default, ``checks``, is the built-in claims (``specmodel.checks``); a user's package
    is named by its import path."""
    claims: dict[str, Claim] = {}
    for module in _check_modules(package):
        for c in collect(module):
            if c.id in claims:
                raise ClaimDefinitionError(f"duplicate claim id {c.id}")
            claims[c.id] = c
    return tuple(claims[k] for k in sorted(claims))


def get_claim(claim_id: str) -> Claim:
    """The claim with this dotted id (``checks.<module>.<name>`` for the built-in claims,
    ``<importable module>.<name>`` for a user's); unknown ids raise ``UnknownNameError``
    listing the valid ones."""
    module_name, _, name = claim_id.rpartition(".")
    valid = [c.id for c in all_claims()]
    if not module_name:
        raise UnknownNameError("claim", claim_id, valid)
    try:
        module = import_claim_module(module_name)
    except ImportError as exc:
        # Only the named module missing is an unknown id; a claim module that fails to
        # import one of its own dependencies is a real error and propagates.
        target = module_name_of(module_name)
        if exc.name is None or not (target == exc.name or target.startswith(exc.name + ".")):
            raise
        raise UnknownNameError("claim", claim_id, valid) from None
    obj = getattr(module, name, None)
    found = getattr(obj, CLAIM_MARKER, None)
    if not isinstance(found, Claim):
        raise UnknownNameError("claim", claim_id, [c.id for c in collect(module)] or valid)
    return found
