"""Tests for specmodel.claims and checks/ (issue 10): every declared claim against the kernel
model and its mutants, and every definition error.

Named test_checks.py because tests/sphinxext/test_claims.py already has the basename
test_claims, and pytest's default import mode needs unique basenames."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from specmodel import BadParameterError, ClaimDefinitionError, UnknownNameError
from specmodel.claims import Claim, ClaimContext, all_claims, claim, collect, get_claim

CLAIMS = all_claims()


def _runs() -> Iterator[Any]:
    """One case per claim on the kernel model, and one per declared mutant."""
    for c in CLAIMS:
        yield pytest.param(c, None, id=f"{c.id}[kernel]")
        for mutant in c.mutants:
            yield pytest.param(c, mutant, id=f"{c.id}[{mutant}]")


@pytest.mark.parametrize(("declared", "mutant"), list(_runs()))
def test_each_claim_has_the_verdict_its_declaration_promises(
    declared: Claim, mutant: str | None
) -> None:
    """Kernel: holds (refuted with a trace if kernel_refutes); each declared mutant: fails."""
    result = declared.run(mutant=mutant)
    assert result.claim is declared
    assert result.mutant == mutant
    assert result.explorations, "a claim runs through explore()"
    if mutant is None and not declared.kernel_refutes:
        assert result.holds, result.message
        assert result.trace is None
    elif mutant is None:
        assert not result.holds, f"{declared.id} is not refuted by the kernel model"
        assert result.trace is not None and len(result.trace) > 0
    else:
        assert not result.holds, f"{declared.id} does not catch its mutant {mutant}"
        assert result.message


def test_the_claims_cover_the_issue_table() -> None:
    """The claims named in issue 10 exist, with the mutants that kill them."""
    expected = {
        "checks.fast_zap.generation_only_0_or_1": "counter_generation",
        "checks.fast_zap.one_obsolete_generation": "no_slots_lock",
        "checks.fast_zap.slots_lock_required": "no_slots_lock",
        "checks.fast_zap.obsolete_pages_unused": "reuse_obsolete_pages",
        "checks.fast_zap.new_root_before_reentry": "no_reload_request",
        "checks.fast_zap.vcpus_run_during_zap": "no_yield",
        "checks.fast_zap.vcpus_blocked_briefly": "no_yield",
    }
    by_id = {c.id: c for c in CLAIMS}
    for claim_id, mutant in expected.items():
        assert mutant in by_id[claim_id].mutants
    for claim_id in (
        "checks.fast_zap.switch_touches_no_page",
        "checks.fast_zap.zap_done_on_return",
        "checks.fast_zap.fifo_partition",
        "checks.tdp_mmu.generation_unused",
        "checks.page_fields.valid_in_every_state",
    ):
        assert by_id[claim_id].mutants
    refuted = {c.id for c in CLAIMS if c.kernel_refutes}
    assert refuted == {
        "checks.fast_zap.vcpus_never_blocked",
        "checks.fast_zap.never_enters_on_obsolete_root",
        # mmu.rst's parent_ptes and unsync_children entries, read strictly (issue 16)
        "checks.parents.bit0_clear_means_one_parent",
        "checks.parents.bit0_set_means_several_parents",
        "checks.unsync.unsync_children_exact_count",
    }


def test_a_failed_claim_carries_the_trace_and_a_message() -> None:
    """ClaimResult of a failure: holds False, the violated invariant in the message, a trace."""
    result = get_claim("checks.fast_zap.new_root_before_reentry").run(mutant="no_reload_request")
    assert not result.holds
    assert result.message.startswith("no_guest_on_obsolete_root_after_request: ")
    assert result.trace is not None
    assert len(result.trace) == 5  # the zapper's 4 steps to the request, the vCPU's entry
    assert result.trace.steps[-1].thread == "vcpu0"


def test_the_v3_wordings_are_refuted_with_short_traces() -> None:
    """'never blocked' and 'never enters on an obsolete root' fail on the kernel model."""
    blocked = get_claim("checks.fast_zap.vcpus_never_blocked").run()
    assert not blocked.holds
    assert blocked.trace is not None and len(blocked.trace) <= 10
    assert "waits for mmu_lock" in blocked.trace.render()
    enters = get_claim("checks.fast_zap.never_enters_on_obsolete_root").run()
    assert not enters.holds
    assert enters.trace is not None and len(enters.trace) <= 8


def test_a_held_claim_carries_the_exploration_figures() -> None:
    """ClaimResult of a pass: the explorations, their states, and the figures as message."""
    result = get_claim("checks.fast_zap.generation_only_0_or_1").run()
    assert result.holds
    assert result.trace is None
    assert result.states > 0
    assert all(e.states > 0 and e.holds for e in result.explorations)
    assert {e.scenario for e in result.explorations} == {"concurrent_zaps", "fast_zap"}
    assert "states" in result.message and "holds" in result.message


def test_a_metric_claim_fails_on_its_mutant_with_a_message_and_no_trace() -> None:
    """vcpus_blocked_briefly fails on no_yield by the metric, naming both waits."""
    result = get_claim("checks.fast_zap.vcpus_blocked_briefly").run(mutant="no_yield")
    assert not result.holds
    assert result.trace is None
    assert "longest mmu_lock wait" in result.message


def test_claim_parameters_can_be_overridden_and_are_checked() -> None:
    """Claim.run accepts declared parameters (as ints or strings) and rejects others."""
    target = get_claim("checks.fast_zap.slots_lock_required")
    assert target.run(pages="8").holds
    with pytest.raises(BadParameterError) as info:
        target.run(vcpus=2)
    text = str(info.value)
    assert "checks.fast_zap.slots_lock_required" in text
    assert "'vcpus'" in text
    assert "batch" in text and "pages" in text  # the valid parameters
    with pytest.raises(BadParameterError, match=r"checks\.fast_zap\.slots_lock_required"):
        target.run(pages="many")


def test_a_claim_guards_the_bounds_it_needs() -> None:
    """slots_lock_required fails, with a reason, when pages <= batch makes it vacuous."""
    result = get_claim("checks.fast_zap.slots_lock_required").run(pages=2)
    assert not result.holds
    assert "pages > batch" in result.message


def test_running_a_claim_against_an_unknown_mutant_raises_listing_them() -> None:
    """Claim.run(mutant=...) checks the name."""
    with pytest.raises(UnknownNameError, match="no_reload_request"):
        CLAIMS[0].run(mutant="no_such_mutant")


# -- definition errors --------------------------------------------------------------------


def _check(ctx: ClaimContext) -> None:
    ctx.require_holds(ctx.explore("fast_zap", only=("generation_0_or_1",)))


def test_decorating_a_function_twice_is_a_definition_error() -> None:
    """@claim twice on one function names the claim."""
    once = claim(statement="s", scenarios=("fast_zap",), mutants=("counter_generation",))(_check)
    try:
        with pytest.raises(ClaimDefinitionError, match=r"test_checks\._check is decorated with"):
            claim(statement="s", scenarios=("fast_zap",), mutants=("counter_generation",))(once)
    finally:
        del _check.__specmodel_claim__  # type: ignore[attr-defined]


def _fresh(name: str) -> Any:
    def check(ctx: ClaimContext) -> None:
        ctx.require(True, "")

    check.__name__ = check.__qualname__ = name
    return check


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"scenarios": ("fast_zap",)}, "must name the mutants it catches"),
        (
            {"scenarios": ("fast_zap",), "mutants": ("no_such_mutant",)},
            "unknown mutant 'no_such_mutant'",
        ),
        (
            {"scenarios": ("no_such_scenario",), "mutants": ("no_yield",)},
            "unknown scenario 'no_such_scenario'",
        ),
        ({"scenarios": (), "mutants": ("no_yield",)}, "at least one scenario"),
        (
            {"scenarios": ("fast_zap",), "mutants": ("no_yield",), "params": {"steps": 3}},
            "parameter 'steps' is taken by none of its scenarios",
        ),
        (
            {"scenarios": ("fast_zap",), "mutants": ("no_yield",), "statement": "  "},
            "the statement is empty",
        ),
    ],
    ids=["no-mutants", "unknown-mutant", "unknown-scenario", "no-scenario", "bad-param", "empty"],
)
def test_a_wrongly_declared_claim_is_an_error_naming_it(
    kwargs: dict[str, Any], fragment: str
) -> None:
    """ClaimDefinitionError at decoration time, with the claim id and the problem."""
    arguments = {"statement": "A sentence.", **kwargs}
    with pytest.raises(ClaimDefinitionError) as info:
        claim(**arguments)(_fresh("bad_claim"))
    assert "test_checks.bad_claim" in str(info.value)
    assert fragment in str(info.value)


def test_a_param_taken_by_one_of_several_scenarios_is_accepted() -> None:
    """Parameters are checked against the union of the claim's scenarios."""
    fn = claim(
        statement="A sentence.",
        scenarios=("fast_zap", "page_reclaim"),
        mutants=("no_yield",),
        params={"steps": 3, "pages": 2},
    )(_fresh("mixed_params"))
    assert fn.__specmodel_claim__.params == {"steps": 3, "pages": 2}


def test_a_kernel_refuted_claim_needs_no_mutant() -> None:
    """kernel_refutes=True stands in for a mutant: the kernel is what refutes it."""
    fn = claim(statement="A sentence.", scenarios=("fast_zap",), kernel_refutes=True)(
        _fresh("refuted")
    )
    assert fn.__specmodel_claim__.kernel_refutes


def test_get_claim_of_an_unknown_id_lists_the_valid_ids() -> None:
    """UnknownNameError names the id and lists the claims there are."""
    for bad in ("nope", "checks.no_module.x"):
        with pytest.raises(UnknownNameError) as info:
            get_claim(bad)
        assert bad in str(info.value)
        assert set(info.value.valid) == {c.id for c in CLAIMS}
    with pytest.raises(UnknownNameError) as info:
        get_claim("checks.fast_zap.no_such_claim")
    assert "checks.fast_zap.generation_only_0_or_1" in str(info.value)


def test_get_claim_finds_each_claim_by_its_id() -> None:
    """Every id all_claims() reports resolves to the same Claim."""
    for c in CLAIMS:
        assert get_claim(c.id) == c


def _package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, **modules: str) -> None:
    pkg = tmp_path / name
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for module, source in modules.items():
        (pkg / f"{module}.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    for key in [k for k in sys.modules if k == name or k.startswith(f"{name}.")]:
        monkeypatch.delitem(sys.modules, key)


_CLAIM_SOURCE = """
    from specmodel.claims import claim

    @claim(statement="First.", scenarios=("fast_zap",), mutants=("no_yield",))
    def twin(ctx):
        pass
    """


def test_all_claims_rejects_two_claims_with_one_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A module exposing two claims under one id (a redefinition) is a duplicate-id error."""
    _package(
        tmp_path,
        monkeypatch,
        "dupchecks",
        a=_CLAIM_SOURCE
        + """
    first = twin

    @claim(statement="Second.", scenarios=("fast_zap",), mutants=("no_yield",))
    def twin(ctx):
        pass
    """,
    )
    with pytest.raises(ClaimDefinitionError, match=r"duplicate claim id dupchecks\.a\.twin"):
        all_claims("dupchecks")


def test_all_claims_collects_every_module_and_ignores_reexports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two modules: each claim is found once, under the module that defines it."""
    _package(
        tmp_path,
        monkeypatch,
        "twochecks",
        a=_CLAIM_SOURCE,
        b="""
    from specmodel.claims import claim
    from twochecks.a import twin

    @claim(statement="Other.", scenarios=("fast_zap",), mutants=("no_yield",))
    def other(ctx):
        pass
    """,
    )
    assert [c.id for c in all_claims("twochecks")] == ["twochecks.a.twin", "twochecks.b.other"]
    import twochecks.b  # type: ignore[import-not-found]

    assert [c.id for c in collect(twochecks.b)] == ["twochecks.b.other"]
