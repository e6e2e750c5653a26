"""Cases for the differential tests of the search modes and reductions: every scenario,
mutant and refutable property that exists at run time, at small bounds.

The registries are read when the tests are collected, so scenarios and mutants added later
(by any module) are covered without editing the tests.
"""

from __future__ import annotations

from typing import Any

import pytest

from specmodel.explorer.invariants import REFUTABLE
from specmodel.kernel.mutants import MUTANTS
from specmodel.kernel.scenarios import get_scenario, scenario_names

#: Small values for the parameters that size a scenario; a scenario gets those it takes,
#: clamped into its range, and its defaults for the rest. Guest actions per vCPU
#: (``steps``) grow the state space fastest: fewer with more vCPUs.
SMALL: dict[str, int] = {"pages": 3, "batch": 2, "entries": 1, "faults": 1}


def small_params(scenario: str, vcpus: int) -> dict[str, Any]:
    params: dict[str, Any] = {}
    small = {**SMALL, "steps": 3 if vcpus < 2 else 1}
    for p in get_scenario(scenario).params:
        wanted = vcpus if p.name == "vcpus" else small.get(p.name)
        if wanted is not None and not isinstance(p.default, bool):
            params[p.name] = min(max(wanted, p.low), p.high)
    return params


def cases(vcpu_counts: tuple[int, ...] = (1, 2)) -> list[Any]:
    """(scenario, params, mutant, invariants) for every scenario, mutant and property."""
    out = []
    for scenario in scenario_names():
        seen: list[dict[str, Any]] = []
        for vcpus in vcpu_counts:
            params = small_params(scenario, vcpus)
            if params in seen:
                continue
            seen.append(params)
            tag = f"{scenario}-v{params.get('vcpus', '-')}"
            for mutant in (None, *MUTANTS):
                out.append(pytest.param(scenario, params, mutant, (), id=f"{tag}-{mutant}"))
            for name in REFUTABLE:
                out.append(pytest.param(scenario, params, None, (name,), id=f"{tag}-{name}"))
    return out
