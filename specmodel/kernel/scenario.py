"""A scenario's declaration: its parameters (with their ranges) and how it builds an exploration.

Shared by the scenario registry (scenarios.py) and the scenario modules (reclaim.py), which
therefore do not import each other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from specmodel.errors import BadParameterError
from specmodel.kernel.config import Config
from specmodel.kernel.mutants import Switches
from specmodel.kernel.program import Program
from specmodel.kernel.state import State

ParamValue = int | bool


@dataclass(frozen=True)
class Param:
    name: str
    default: ParamValue
    low: int
    high: int
    help: str


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    params: tuple[Param, ...]
    build: Callable[
        [Mapping[str, ParamValue], Switches],
        tuple[Config, State, tuple[Program, ...], tuple[str, ...]],
    ]
    #: Common parameter names (vcpus, pages, batch) the scenario does not take, each with
    #: the reason and the parameter to use instead.
    redirects: Mapping[str, str] = field(default_factory=dict)

    def resolve(self, given: Mapping[str, object]) -> dict[str, ParamValue]:
        """Defaults filled in; unknown names, wrong types and out-of-range values rejected."""
        known = {p.name: p for p in self.params}
        for key in given:
            if key in self.redirects:
                raise BadParameterError(
                    f"scenario {self.name!r} has no parameter {key!r}: {self.redirects[key]}"
                )
            if key not in known:
                raise BadParameterError(
                    f"scenario {self.name!r} has no parameter {key!r}; "
                    f"expected one of: {', '.join(sorted(known))}"
                )
        return {p.name: _check(self.name, p, given.get(p.name, p.default)) for p in self.params}


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _check(scenario: str, p: Param, value: object) -> ParamValue:
    """``value`` as parameter ``p`` takes it, or BadParameterError saying what is allowed."""
    if isinstance(p.default, bool):
        if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
            return value.strip().lower() in _TRUE
        if isinstance(value, bool | int) and not isinstance(value, float) and value in (0, 1):
            return bool(value)
        raise BadParameterError(f"{scenario}: {p.name} must be true or false (got {value!r})")
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str):
        try:
            number = int(value.strip(), 0)
        except ValueError:
            number = None
    if number is None or not p.low <= number <= p.high:
        raise BadParameterError(
            f"{scenario}: {p.name} must be an integer in {p.low}..{p.high} (got {value!r})"
        )
    return number
