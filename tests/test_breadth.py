"""Tests for shadow pages in full: root lifetime, parent_ptes, unsync pages, write flooding,
direct pages, the guest_pt_writes scenario, their mutants, invariants and claims."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from specmodel import explore
from specmodel.claims import Claim, all_claims
from specmodel.errors import BadParameterError
from specmodel.explorer.invariants import BUILTIN, REFUTABLE, Invariant
from specmodel.kernel.config import Config
from specmodel.kernel.direct import kvm_mmu_page_get_gfn, shadowed_translation_for
from specmodel.kernel.flooding import detect_write_misaligned
from specmodel.kernel.mutants import switches_for
from specmodel.kernel.rmap import (
    RmapCorruption,
    is_desc,
    pte_list_add,
    pte_list_check,
    pte_list_count,
    pte_list_remove,
    pte_list_sptes,
    rmap_val_bit0,
    spte_address,
    spte_at,
)
from specmodel.kernel.state import LINK_ACTIVE, NO_PAGE, ROLE_DIRECT, Page, State, role_word

ROOT = Path(__file__).resolve().parent.parent
EXT = 2


# -- parent_ptes: the kvm_rmap_head encoding ----------------------------------------------


def test_an_spte_address_has_bit_0_clear_and_names_its_page_and_index() -> None:
    for pid, index in ((0, 0), (3, 1), (7, 511)):
        address = spte_address(pid, index)
        assert address & 1 == 0
        assert spte_at(address) == (pid, index)


def test_pte_list_add_goes_single_then_descriptor_then_new_head() -> None:
    a, b, c, d = (spte_address(p, 0) for p in range(4))
    head = pte_list_add((), a, EXT)
    assert head == (a,) and not is_desc(head) and rmap_val_bit0(head) == 0
    head = pte_list_add(head, b, EXT)
    assert is_desc(head) and rmap_val_bit0(head) == 1 and pte_list_sptes(head) == (a, b)
    head = pte_list_add(head, c, EXT)  # the head is full: a new head descriptor in front
    assert head == (1, 1, c, a, b)
    head = pte_list_add(head, d, EXT)
    assert head == (1, 2, c, d, a, b) and pte_list_count(head) == 4
    assert pte_list_check(head, EXT) is None


def test_pte_list_remove_fills_the_hole_from_the_head_and_keeps_a_one_entry_chain() -> None:
    a, b, c = (spte_address(p, 0) for p in range(3))
    head = (1, 1, c, a, b)  # head [c], tail [a, b]
    head = pte_list_remove(head, a, EXT)  # the tail's hole takes c; the empty head goes
    assert head == (1, 2, c, b)
    head = pte_list_remove(head, c, EXT)
    assert head == (1, 1, b) and is_desc(head), "the kernel never converts back"
    assert pte_list_remove(head, b, EXT) == ()
    assert pte_list_remove((a,), a, EXT) == ()


def test_pte_list_remove_of_a_missing_spte_is_data_corruption() -> None:
    a, b = spte_address(0, 0), spte_address(1, 0)
    with pytest.raises(RmapCorruption, match="empty rmap"):
        pte_list_remove((), a, EXT)
    with pytest.raises(RmapCorruption, match=f"holds {a:#x}, not {b:#x}"):
        pte_list_remove((a,), b, EXT)
    with pytest.raises(RmapCorruption, match="in no descriptor"):
        pte_list_remove((1, 2, a, a + 8), b, EXT)


def test_pte_list_check_names_what_is_malformed() -> None:
    assert "8-byte aligned" in (pte_list_check((3,), EXT) or "")
    assert "head pte_list_desc must hold 1..2" in (pte_list_check((1, 3, 8, 16, 24), EXT) or "")
    assert "tail pte_list_descs must be full" in (pte_list_check((1, 1, 8, 16), EXT) or "")


def test_the_overwrite_mutant_forgets_the_first_parent() -> None:
    a, b = spte_address(0, 0), spte_address(1, 0)
    assert pte_list_add((a,), b, EXT, desc=False) == (b,)


# -- direct pages ------------------------------------------------------------------------


def _page(role: int, gfn: int, translation: tuple[int, ...] | None = None) -> Page:
    return Page(
        gfn=gfn,
        role=role,
        gen=0,
        root_count=0,
        parents=(),
        spt=(NO_PAGE,) * 4,
        tdp=False,
        scheduled=False,
        link=LINK_ACTIVE,
        freed=False,
        epoch=0,
        parent_ptes=(),
        shadowed_translation=translation,
    )


def test_kvm_mmu_page_get_gfn_of_a_direct_page_follows_from_gfn_and_level() -> None:
    cfg = Config(spt_width=4)
    assert kvm_mmu_page_get_gfn(_page(role_word(1, direct=True), 40), 3, cfg) == 43
    assert kvm_mmu_page_get_gfn(_page(role_word(2, direct=True), 0), 2, cfg) == 2 * 512
    indirect = _page(role_word(1, direct=False), 1, (16, 17, 0, 0))
    assert kvm_mmu_page_get_gfn(indirect, 1, cfg) == 17
    broken = Config(spt_width=4, switches=switches_for(["direct_gfn_ignores_index"]))
    assert kvm_mmu_page_get_gfn(_page(role_word(1, direct=True), 40), 3, broken) == 40


def test_shadowed_translation_is_allocated_for_indirect_pages_only() -> None:
    cfg = Config(spt_width=3)
    assert shadowed_translation_for(role_word(1, direct=True), cfg) is None
    assert shadowed_translation_for(role_word(1, direct=False), cfg) == (0, 0, 0)
    broken = Config(spt_width=3, switches=switches_for(["direct_shadowed_translation"]))
    assert shadowed_translation_for(role_word(1, direct=True), broken) == (0, 0, 0)
    assert role_word(1, direct=True) & ROLE_DIRECT


# -- write flooding ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gpa", "nbytes", "four_byte", "misaligned"),
    [
        (0x1000, 8, False, False),  # one whole gpte
        (0x1008, 1, False, False),  # one byte at a gpte's start: status bits
        (0x1004, 8, False, True),  # straddles two gptes
        (0x1002, 2, False, True),  # fewer than 4 bytes
        (0x1004, 4, True, False),  # a whole 4-byte gpte
    ],
)
def test_detect_write_misaligned(gpa: int, nbytes: int, four_byte: bool, misaligned: bool) -> None:
    assert detect_write_misaligned(gpa, nbytes, four_byte) is misaligned


# -- the scenario ------------------------------------------------------------------------


def test_guest_pt_writes_holds_every_invariant_on_the_kernel() -> None:
    result = explore("guest_pt_writes")
    assert result.holds, result.violation and result.violation.render()
    assert result.states == 1240 and result.exhaustive
    for name in ("guest_tlb_coherent", "parent_ptes_match_sptes", "root_count_matches_roots"):
        assert name in result.invariants


def test_guest_pt_writes_rejects_a_parameter_out_of_range() -> None:
    with pytest.raises(BadParameterError, match=r"steps must be an integer in 1\.\.6 \(got 9\)"):
        explore("guest_pt_writes", steps=9)
    with pytest.raises(BadParameterError, match="has no parameter 'pages'"):
        explore("guest_pt_writes", pages=2)


def _witness(name: str, found: str, predicate: object) -> Invariant:
    def check(cfg: Config, s: State) -> str | None:
        return found if predicate(s) else None  # type: ignore[operator]

    return Invariant(name, name, check, True)


def test_the_scenario_reaches_what_the_claims_talk_about() -> None:
    """Unsync pages, marked parents, descriptor chains, direct pages with prefetched entries,
    flooded and zapped roots freed at their last reference: all reachable on the kernel."""
    tracked = lambda s: [p for p in s.pages if p.parent_ptes is not None]  # noqa: E731
    witnesses = {
        "unsync": _witness("unsync", "x", lambda s: any(p.unsync for p in tracked(s))),
        "marked": _witness("marked", "x", lambda s: any(p.unsync_children for p in tracked(s))),
        "chain": _witness("chain", "x", lambda s: any(is_desc(p.parent_ptes) for p in tracked(s))),
        "direct": _witness(
            "direct",
            "x",
            lambda s: any(
                p.role & ROLE_DIRECT and sum(e <= -4 for e in p.spt) > 1 for p in tracked(s)
            ),
        ),
        "zapped_root": _witness(
            "zapped_root", "x", lambda s: any(p.invalid and p.root_count for p in s.pages)
        ),
        "freed_root": _witness(
            "freed_root",
            "x",
            lambda s: any(p.freed and p.level == 2 for p in s.pages),
        ),
    }
    result = explore("guest_pt_writes", steps=4, witness=witnesses)
    assert result.holds
    assert result.witnesses == dict.fromkeys(witnesses, True)


#: mutant -> (steps that suffice, the invariant that catches it)
CAUGHT_BY = {
    "no_root_count_ref": (1, "root_count_matches_roots"),
    "leak_invalid_roots": (3, "pinned_never_freed"),
    "free_pinned_pages": (3, "pinned_never_freed"),
    "parent_ptes_overwrite": (4, "parent_ptes_match_sptes"),
    "unsync_write_tracked": (2, "unsync_only_on_leaf_pages"),
    "no_mark_parents_unsync": (3, "unsync_reported_to_parents"),
    "no_sync_on_flush": (4, "guest_tlb_coherent"),
    "no_sync_on_invlpg": (4, "guest_tlb_coherent"),
    "no_write_flooding_zap": (3, "write_flooding_below_threshold"),
    "flood_count_leaf_pages": (3, "leaf_pages_not_flood_counted"),
    "direct_gfn_ignores_index": (2, "direct_entries_linear"),
    "direct_shadowed_translation": (2, "direct_pages_untranslated"),
}


@pytest.mark.parametrize("mutant", sorted(CAUGHT_BY))
def test_each_mutant_violates_its_invariant(mutant: str) -> None:
    steps, invariant = CAUGHT_BY[mutant]
    result = explore("guest_pt_writes", mutant=mutant, steps=steps)
    assert result.violation is not None, f"{mutant} was not caught"
    assert result.violation.invariant == invariant
    assert result.violation.trace.steps, "a counterexample has steps"
    assert result.violation.message.startswith("expected ")


def test_the_no_unsync_mutant_is_a_kernel_that_only_emulates() -> None:
    result = explore("guest_pt_writes", mutant="no_unsync")
    assert result.holds  # safe, only slower: the claim that catches it looks for a witness


def test_the_new_invariants_are_vacuous_in_the_fast_zap_scenarios() -> None:
    result = explore("fast_zap", vcpus=1, pages=3)
    assert result.holds
    assert "guest_tlb_coherent" in result.invariants


def test_the_new_invariants_are_registered() -> None:
    for name in (
        "unsync_only_on_leaf_pages",
        "unsync_children_match_bitmap",
        "unsync_reported_to_parents",
        "parent_ptes_match_sptes",
        "write_flooding_below_threshold",
        "leaf_pages_not_flood_counted",
        "direct_pages_untranslated",
        "direct_entries_linear",
        "tracked_pages_validate",
        "guest_tlb_coherent",
        "root_count_matches_roots",
    ):
        assert name in BUILTIN and BUILTIN[name].summary
    refuted = {"desc_means_several_parents", "bit0_clear_means_one_parent", "unsync_children_exact"}
    assert refuted <= set(REFUTABLE)


# -- the claims --------------------------------------------------------------------------

NEW_MODULES = ("roots", "parents", "unsync", "write_flooding", "direct")


def _new_claims() -> list[Claim]:
    return [c for c in all_claims() if c.id.split(".")[1] in NEW_MODULES]


def test_every_new_module_declares_claims() -> None:
    modules = {c.id.split(".")[1] for c in _new_claims()}
    assert modules == set(NEW_MODULES)


@pytest.mark.parametrize("claim", _new_claims(), ids=lambda c: c.id)
def test_each_claim_holds_on_the_kernel_and_fails_on_its_mutants(claim: Claim) -> None:
    result = claim.run()
    if claim.kernel_refutes:
        assert not result.holds and result.trace is not None, claim.id
        return
    assert result.holds, result.message
    assert claim.mutants
    for mutant in claim.mutants:
        broken = claim.run(mutant=mutant)
        assert not broken.holds, f"{claim.id} misses {mutant}"


def test_explore_cli_reports_a_shadow_page_mutant_with_its_trace() -> None:
    args = ["explore", "guest_pt_writes", "--mutant", "no_mark_parents_unsync"]
    proc = subprocess.run(
        [sys.executable, "-m", "specmodel", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert "unsync_reported_to_parents" in proc.stdout
    assert "mmu_try_to_unsync_pages(gfn 1): unsync" in proc.stdout
