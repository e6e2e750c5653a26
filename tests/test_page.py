"""Tests for specmodel.structs.page: the fields and invariants of struct kvm_mmu_page."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from strategies import roles

from specmodel.structs.bits import ZERO_SPT
from specmodel.structs.page import KvmMmuPage
from specmodel.structs.role import KvmMmuPageRole

LEAF = KvmMmuPageRole(level=1, access=7)  # indirect level-1 shadow page
DIRECT_ROOT = KvmMmuPageRole.from_word(0x784)  # level 4, direct, ACC_ALL
TDP_ROOT = KvmMmuPageRole(level=4, direct=True, access=7, efer_nx=True, cr0_wp=True)

#: struct kvm_mmu_page members in declaration order, newest layout (FACTS A with its
#: corrections: has_mapped_host_mmio after the root_count union; write_flooding_count moved
#: next to unsync_children in the union with external_spt), both union members.
STRUCT_KVM_MMU_PAGE = (
    "link",
    "hash_link",
    "tdp_mmu_page",
    "unsync",
    "mmu_valid_gen",
    "tdp_mmu_scheduled_root_to_zap",
    "nx_huge_page_disallowed",
    "role",
    "gfn",
    "spt",
    "shadowed_translation",
    "root_count",
    "tdp_mmu_root_count",
    "has_mapped_host_mmio",
    "unsync_children",
    "write_flooding_count",
    "external_spt",
    "parent_ptes",
    "ptep",
    "unsync_child_bitmap",
    "possible_nx_huge_page_link",
    "clear_spte_count",
    "rcu_head",
)


def _error(**fields: Any) -> str:
    """The message of the ValidationError that building a page from ``fields`` raises."""
    with pytest.raises(ValidationError) as exc:
        KvmMmuPage(**fields)
    return str(exc.value)


def test_the_model_has_every_member_of_the_struct_in_c_order() -> None:
    """model_fields lists exactly FACTS A's members, named as in C and in the same order."""
    assert tuple(KvmMmuPage.model_fields) == STRUCT_KVM_MMU_PAGE


def test_a_fresh_shadow_page_holds_what_kvm_mmu_alloc_shadow_page_leaves() -> None:
    """Only role and gfn given: linked and hashed, generation 0, no roots, zeroed tables."""
    page = KvmMmuPage(role=LEAF, gfn=7)
    assert page.link == "active_mmu_pages" and page.hash_link
    assert (page.mmu_valid_gen, page.root_count, page.parent_ptes) == (0, 0, ())
    assert page.spt == ZERO_SPT and page.shadowed_translation == ZERO_SPT
    assert page.tdp_mmu_scheduled_root_to_zap is None and page.tdp_mmu_root_count is None
    assert page.ptep is None and not page.unsync and page.unsync_child_bitmap == 0
    assert page.model_fields_set == {"role", "gfn"}


def test_a_fresh_direct_shadow_page_has_no_shadowed_translation() -> None:
    """Direct pages map a gfn range, so they record no guest translations."""
    assert KvmMmuPage(role=DIRECT_ROOT, gfn=0).shadowed_translation is None


def test_a_fresh_tdp_page_leaves_the_shadow_union_members_unset() -> None:
    """tdp_mmu_page=True: TDP members at their initial values, shadow members None."""
    page = KvmMmuPage(role=TDP_ROOT, gfn=0, tdp_mmu_page=True)
    assert (page.tdp_mmu_scheduled_root_to_zap, page.tdp_mmu_root_count) == (False, 0)
    assert page.mmu_valid_gen is None and page.root_count is None and page.parent_ptes is None
    assert page.link is None and not page.hash_link and page.shadowed_translation is None


def test_every_field_can_be_given_as_a_keyword() -> None:
    """A fully specified shadow page keeps every value it was given."""
    spt = tuple(range(512))
    fields: dict[str, Any] = {
        "link": "invalid_list",
        "hash_link": False,
        "tdp_mmu_page": False,
        "unsync": True,
        "mmu_valid_gen": 1,
        "tdp_mmu_scheduled_root_to_zap": None,
        "nx_huge_page_disallowed": True,
        "role": LEAF,
        "gfn": 2**40,
        "spt": spt,
        "shadowed_translation": spt,
        "root_count": 2,
        "tdp_mmu_root_count": None,
        "unsync_children": 2,
        "parent_ptes": ((3, 0), (4, 511)),
        "ptep": None,
        "unsync_child_bitmap": 1 << 511 | 1,
        "possible_nx_huge_page_link": "possible_nx_huge_pages",
        "clear_spte_count": 5,
        "write_flooding_count": 2,
        "rcu_head": False,
        "has_mapped_host_mmio": True,
        "external_spt": False,
    }
    assert set(fields) == set(STRUCT_KVM_MMU_PAGE)
    assert KvmMmuPage(**fields).model_dump() == {**fields, "role": LEAF.model_dump()}


def test_a_tdp_root_page_can_be_given_every_tdp_member() -> None:
    """A scheduled-to-zap TDP root with two references and an RCU callback is valid."""
    page = KvmMmuPage(
        role=TDP_ROOT.model_copy(update={"invalid": True}),
        gfn=0,
        tdp_mmu_page=True,
        tdp_mmu_scheduled_root_to_zap=True,
        tdp_mmu_root_count=2,
        link="tdp_mmu_roots",
        rcu_head=True,
    )
    assert page.is_root and page.tdp_mmu_scheduled_root_to_zap


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"mmu_valid_gen": 2}, "mmu_valid_gen must be 0, 1 (got 2)"),
        ({"mmu_valid_gen": -1}, "mmu_valid_gen must be 0, 1 (got -1)"),
        ({"root_count": -1}, "root_count must be 0..2147483647 (got -1)"),
        ({"root_count": 2**32}, "root_count must be 0..2147483647 (got 2**32)"),
        ({"clear_spte_count": 2**31}, "clear_spte_count must be -2**31..2**31-1 (got 2**31)"),
        ({"clear_spte_count": -(2**31) - 1}, "must be -2**31..2**31-1 (got -2147483649)"),
        ({"unsync_children": 2**32}, "unsync_children must be 0..2**32-1 (got 2**32)"),
        ({"mmu_valid_gen": 256}, "mmu_valid_gen must be 0, 1 (got 256)"),
        ({"gfn": -1}, "gfn must be 0..2**64-1 (got -1)"),
        ({"gfn": 2**64}, "gfn must be 0..2**64-1 (got 2**64)"),
        ({"gfn": "12"}, "gfn must be an int in 0..2**64-1 (got '12')"),
        ({"gfn": True}, "gfn must be an int in 0..2**64-1 (got True)"),
        ({"root_count": 1.0}, "root_count must be an int in 0..2147483647 (got 1.0)"),
        ({"unsync": 1}, "unsync must be a bool (got 1)"),
        ({"external_spt": True}, "external_spt must be False on a shadow page"),
        ({"spt": (0,) * 511}, "spt must be at least 512 items (got 511 items)"),
        ({"spt": (0,) * 511 + (-1,)}, "spt[511] must be >= 0 (got -1)"),
        ({"spt": (2**64,) + (0,) * 511}, "spt[0] must be <= 2**64-1 (got 2**64)"),
        (
            {"shadowed_translation": (0,) * 513},
            "shadowed_translation must be at most 512 items (got 513 items)",
        ),
        ({"unsync_child_bitmap": 2**512}, "unsync_child_bitmap must be < 2**512 (got 2**512)"),
        ({"unsync_child_bitmap": -1}, "unsync_child_bitmap must be >= 0 (got -1)"),
        ({"parent_ptes": ((1, 512),)}, "parent_ptes[0][1] must be <= 511 (got 512)"),
        ({"parent_ptes": ((-1, 0),)}, "parent_ptes[0][0] must be >= 0 (got -1)"),
        ({"write_flooding_count": -3}, "write_flooding_count must be 0..2147483647 (got -3)"),
        ({"link": "lru"}, "link must be one of 'active_mmu_pages'"),
        ({"unsync": "maybe"}, "unsync must be a bool (got 'maybe')"),
        ({"gfn": "x"}, "gfn must be an int in 0..2**64-1 (got 'x')"),
    ],
)
def test_a_bad_value_is_rejected_naming_field_allowed_and_given(
    fields: dict[str, Any], expected: str
) -> None:
    """The message says which field, what it may hold and what it was given."""
    assert expected in _error(**{"role": LEAF, "gfn": 0, **fields})


def test_a_bad_role_bit_is_reported_at_its_place_in_the_role() -> None:
    """A role given as a mapping is validated with the role's own messages."""
    message = _error(role={"level": 6}, gfn=0)
    assert "role.level\n" in message and "role.level must be 1..5 (got 6)" in message


def test_an_unknown_member_is_rejected() -> None:
    """Old kernel names (gfns) are not accepted as fields."""
    assert "gfns" in _error(role=LEAF, gfn=0, gfns=())


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"tdp_mmu_root_count": 1}, "tdp_mmu_root_count must be None on a shadow page"),
        ({"tdp_mmu_scheduled_root_to_zap": False}, "tdp_mmu_scheduled_root_to_zap must be None"),
        ({"ptep": (1, 2)}, "ptep must be None on a shadow page, tdp_mmu_page=False (got ptep="),
        ({"mmu_valid_gen": None}, "mmu_valid_gen must be set on a shadow page"),
        ({"root_count": None}, "root_count must be set on a shadow page"),
        ({"link": "tdp_mmu_roots"}, "link must not be tdp_mmu_roots on a shadow page"),
        ({"rcu_head": True}, "rcu_head must be False on a shadow page"),
        (
            {"shadowed_translation": None},
            "shadowed_translation must be a tuple of 512 u64 on an indirect page",
        ),
    ],
)
def test_a_shadow_page_rejects_the_tdp_members_of_its_unions(
    fields: dict[str, Any], expected: str
) -> None:
    """A shadow page uses the shadow member of each union and leaves the TDP one None."""
    assert expected in _error(role=LEAF, gfn=0, **fields)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"mmu_valid_gen": 0},
            "mmu_valid_gen must be None on a TDP page, tdp_mmu_page=True (got mmu_valid_gen=0)",
        ),
        ({"root_count": 0}, "root_count must be None on a TDP page"),
        ({"parent_ptes": ()}, "parent_ptes must be None on a TDP page"),
        ({"tdp_mmu_root_count": None}, "tdp_mmu_root_count must be set on a TDP page"),
        ({"hash_link": True}, "hash_link must be False on a TDP page"),
        ({"unsync": True}, "unsync must be False on a TDP page"),
        ({"link": "active_mmu_pages"}, "link must be None or tdp_mmu_roots on a TDP page"),
        ({"role": LEAF}, "tdp_mmu_page=True requires role.direct=1"),
        ({"shadowed_translation": ZERO_SPT}, "shadowed_translation must be None on a direct"),
        ({"tdp_mmu_root_count": 2, "ptep": (1, 0)}, "a TDP root (tdp_mmu_root_count=2)"),
    ],
)
def test_a_tdp_page_rejects_the_shadow_members_of_its_unions(
    fields: dict[str, Any], expected: str
) -> None:
    """A TDP page is direct, never unsync, never hashed, and leaves shadow members None."""
    assert expected in _error(**{"role": TDP_ROOT, "gfn": 0, "tdp_mmu_page": True, **fields})


def test_generation_outside_0_and_1_is_rejected() -> None:
    """FACTS F invariant 1: a page's mmu_valid_gen is 0 or 1."""
    message = _error(role=LEAF, gfn=0, mmu_valid_gen=2)
    assert "mmu_valid_gen" in message and "0, 1" in message and "2" in message
    assert KvmMmuPage(role=LEAF, gfn=0, mmu_valid_gen=1).mmu_valid_gen == 1


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (KvmMmuPageRole(level=2), "(got level=2, direct=0)"),
        (KvmMmuPageRole(level=1, direct=True), "(got level=1, direct=1)"),
    ],
)
def test_only_an_indirect_level_1_shadow_page_can_be_unsync(
    role: KvmMmuPageRole, expected: str
) -> None:
    """FACTS F invariant 8: unsync implies level 1, not direct, not TDP."""
    message = _error(role=role, gfn=0, unsync=True)
    assert "unsync=True requires role.level=1 and role.direct=0 " + expected in message


@given(st.integers(0, 2**512 - 1), st.integers(0, 600))
def test_unsync_children_must_count_the_bits_of_the_bitmap(bitmap: int, children: int) -> None:
    """FACTS F invariant 8: unsync_children == popcount(unsync_child_bitmap)."""
    fields = {"unsync_child_bitmap": bitmap, "unsync_children": children}
    if children == bitmap.bit_count():
        assert KvmMmuPage(role=LEAF, gfn=0, **fields).unsync_children == children
    else:
        message = _error(role=LEAF, gfn=0, **fields)
        assert f"(got unsync_children={children})" in message
        assert f"unsync_child_bitmap ({bitmap.bit_count()})" in message


def test_a_direct_root_with_4_byte_gptes_is_rejected() -> None:
    """FACTS F invariant 9: a direct root never has has_4_byte_gpte (children may)."""
    child = KvmMmuPageRole(level=1, direct=True, has_4_byte_gpte=True)
    assert KvmMmuPage(role=child, gfn=0).root_count == 0
    message = _error(role=child.model_copy(update={"level": 2}), gfn=0, root_count=1)
    assert "a direct root (root_count=1, role.direct=1) requires role.has_4_byte_gpte=0" in message


@given(roles(), st.booleans())
def test_every_valid_role_makes_a_valid_fresh_shadow_page(
    role: KvmMmuPageRole, is_root: bool
) -> None:
    """Any valid role gives a page, unless it is a direct root with 4-byte gptes."""
    forbidden = is_root and role.direct and role.has_4_byte_gpte
    if forbidden:
        _error(role=role, gfn=0, root_count=1)
    else:
        page = KvmMmuPage(role=role, gfn=0, root_count=int(is_root))
        assert (page.shadowed_translation is None) == role.direct
        assert page.is_root == is_root


def test_assignment_is_validated_like_construction() -> None:
    """page.root_count = 2**32 raises naming the field, the range and the value; the page keeps
    its old value; a good assignment is checked against the page's rules too."""
    page = KvmMmuPage(role=LEAF, gfn=0)
    with pytest.raises(ValidationError) as exc:
        page.root_count = 2**32
    assert "root_count must be 0..2147483647 (got 2**32)" in str(exc.value)
    assert page.root_count == 0
    with pytest.raises(ValidationError) as exc:
        page.tdp_mmu_root_count = 1
    assert "tdp_mmu_root_count must be None on a shadow page" in str(exc.value)
    assert page.tdp_mmu_root_count is None and "tdp_mmu_root_count" not in page.model_fields_set
    with pytest.raises(ValidationError, match="mmu_valid_gen must be 0, 1 \\(got 5\\)"):
        page.mmu_valid_gen = 5
    page.root_count = 3
    assert page.root_count == 3 and page.mmu_valid_gen == 0 and page.link == "active_mmu_pages"


def test_a_role_level_of_true_is_not_level_1() -> None:
    """Strict ints: True is rejected where an int is expected, even inside a role mapping."""
    message = _error(role={"level": True}, gfn=0)
    assert "role.level must be an int in 1..5 (got True)" in message


@pytest.mark.parametrize(
    ("name", "low", "high"),
    [
        ("root_count", 0, 2**31 - 1),
        ("clear_spte_count", -(2**31), 2**31 - 1),
        ("write_flooding_count", 0, 2**31 - 1),
        ("unsync_children", 0, 2**32 - 1),
        ("gfn", 0, 2**64 - 1),
    ],
)
def test_the_ends_of_each_range_are_accepted_and_one_past_them_rejected(
    name: str, low: int, high: int
) -> None:
    """Ranges follow the C type (or the model's narrower values) exactly, at both ends."""
    base: dict[str, Any] = {"role": LEAF, "gfn": 0}
    for value in (low, high):
        if name == "unsync_children":
            continue  # bound to the bitmap's popcount; the range itself is tested above
        assert getattr(KvmMmuPage(**{**base, name: value}), name) == value
    for value in (low - 1, high + 1):
        assert f"{name} must be" in _error(**{**base, name: value})
