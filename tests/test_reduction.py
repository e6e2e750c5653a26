"""The explorer's Lipton reduction (``atomic_sections``) changes state counts, never answers.

With ``atomic_sections=False`` every ``mmu_lock`` acquire and release is a step of its own;
with the default, a vCPU's critical section runs in the step that takes the lock and the
zap's final releases run in the step before them. Both models must agree on every verdict,
on the metrics, and the reduced one may only find shorter (or equal) counterexamples.
"""

from __future__ import annotations

from typing import Any

import pytest
from differential import cases

from specmodel import explore, replay
from specmodel.explorer.invariants import BUILTIN, REFUTABLE
from specmodel.kernel.mutants import MUTANTS

#: Scenarios whose vCPU critical sections the reduction merges into one step.
SECTIONED = ("fast_zap", "fast_zap_tdp", "concurrent_zaps")


#: Beyond every scenario at small bounds (differential.cases): the MMU shrinker thread.
EXTRA: tuple[tuple[str, dict[str, Any]], ...] = (
    ("fast_zap", {"vcpus": 1, "pages": 3, "batch": 1, "shrinker": 1}),
)


def _cases() -> list[Any]:
    out = cases()
    for scenario, params in EXTRA:
        tag = f"{scenario}-v{params['vcpus']}-shrinker"
        for mutant in (None, *MUTANTS):
            out.append(pytest.param(scenario, params, mutant, (), id=f"{tag}-{mutant}"))
        for name in REFUTABLE:
            out.append(pytest.param(scenario, params, None, (name,), id=f"{tag}-{name}"))
    return out


@pytest.mark.parametrize(("scenario", "params", "mutant", "invariants"), _cases())
def test_atomic_sections_keep_every_verdict_and_metric(
    scenario: str, params: dict[str, Any], mutant: str | None, invariants: tuple[str, ...]
) -> None:
    reduced = explore(scenario, mutant=mutant, invariants=invariants, **params)
    split = explore(scenario, mutant=mutant, invariants=invariants, atomic_sections=False, **params)
    assert reduced.holds == split.holds
    if reduced.violation is None or split.violation is None:
        assert reduced.violation is None and split.violation is None
        assert reduced.metrics == split.metrics
        assert reduced.states <= split.states
        if scenario in SECTIONED and params["vcpus"] > 0:
            # their vCPUs take mmu_lock in a step of its own when split
            assert reduced.states < split.states
        return
    assert len(reduced.violation.trace) <= len(split.violation.trace)
    if reduced.violation.invariant == split.violation.invariant:
        return
    # Two shortest counterexamples may end in different violations when a mutant breaks
    # several properties; then each model must also refute the property the other one hit.
    for name, model_split in (
        (split.violation.invariant, False),
        (reduced.violation.invariant, True),
    ):
        other = explore(
            scenario,
            mutant=mutant,
            invariants=invariants,
            exclude=tuple(n for n in BUILTIN if n != name),
            atomic_sections=not model_split,
            **params,
        )
        assert other.violation is not None and other.violation.invariant == name


def test_the_split_model_gives_each_acquire_and_release_its_own_step() -> None:
    """The vCPU's fault takes mmu_lock in one step and maps in the next without reduction."""
    found = explore("fast_zap", mutant="reuse_obsolete_pages", batch=1, atomic_sections=False)
    assert found.violation is not None
    ops = [s.op for s in found.violation.trace.steps if s.thread == "vcpu0"]
    assert "kvm_mmu_page_fault: write_lock(&kvm->mmu_lock)" in ops
    assert ops[-1].startswith("kvm_mmu_page_fault: map gfn 1 with sp#")
    assert ops[-1].endswith("; write_unlock(&kvm->mmu_lock)")
    zapper = [s.op for s in found.violation.trace.steps if s.thread == "zapper"]
    assert not any("write_unlock(&kvm->mmu_lock); return" in op for op in zapper[:-1])


def test_a_split_trace_replays_with_the_same_setting() -> None:
    found = explore("fast_zap", mutant="reuse_obsolete_pages", batch=1, atomic_sections=False)
    assert found.violation is not None
    schedule = found.violation.trace.schedule
    again = replay(
        "fast_zap", schedule, mutant="reuse_obsolete_pages", batch=1, atomic_sections=False
    )
    assert again.violation is not None
    assert again.violation.trace == found.violation.trace
