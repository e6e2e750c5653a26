"""Tests for specmodel.structs.fields: the metadata view derived from the field models."""

from __future__ import annotations

import pytest

from specmodel.errors import UnknownNameError
from specmodel.structs.fields import MODELS, field_specs, find_field, parse_values, values_match
from specmodel.structs.page import KvmMmuPage
from specmodel.structs.role import KvmMmuPageRole

#: mmu.rst v6.7 coverage of struct kvm_mmu_page (FACTS A, "Field coverage").
DOCUMENTED_IN_V6_7 = {
    "role",
    "mmu_valid_gen",
    "gfn",
    "spt",
    "shadowed_translation",
    "root_count",
    "tdp_mmu_root_count",
    "parent_ptes",
    "ptep",
    "unsync",
    "unsync_children",
    "unsync_child_bitmap",
    "clear_spte_count",
    "write_flooding_count",
    "tdp_mmu_page",
}


def test_page_specs_follow_model_fields_in_order() -> None:
    """field_specs reads the page's members from model_fields, in declaration order."""
    specs = field_specs(KvmMmuPage)
    assert [spec.name for spec in specs] == list(KvmMmuPage.model_fields)
    assert {spec.model for spec in specs} == {"KvmMmuPage"}


def test_models_can_be_named_by_string() -> None:
    """field_specs accepts the names in MODELS as well as the classes."""
    assert dict(MODELS) == {"KvmMmuPage": KvmMmuPage, "KvmMmuPageRole": KvmMmuPageRole}
    assert field_specs("KvmMmuPageRole") == field_specs(KvmMmuPageRole)


def test_an_unknown_model_is_an_unknown_name_error_listing_the_models() -> None:
    """A model that is not in MODELS is refused with the valid names."""
    with pytest.raises(UnknownNameError, match="KvmMmuPage, KvmMmuPageRole"):
        field_specs("KvmMmu")


def test_documented_flags_match_the_v6_7_coverage_table() -> None:
    """Exactly the members FACTS A lists as in mmu.rst v6.7 are marked documented."""
    documented = {spec.name for spec in field_specs(KvmMmuPage) if spec.documented}
    assert documented == DOCUMENTED_IN_V6_7


def test_members_new_in_the_v6_7_docs_say_so() -> None:
    """The 6.7 documentation series added these entries; older docs lack them."""
    since = {spec.name: spec.documented_since for spec in field_specs(KvmMmuPage)}
    new = {name for name, version in since.items() if version == "v6.7"}
    assert new == {
        "mmu_valid_gen",
        "shadowed_translation",
        "tdp_mmu_root_count",
        "ptep",
        "tdp_mmu_page",
    }


def test_every_role_bit_is_documented_and_two_only_in_later_docs() -> None:
    """All bits of ~v6.9 are in the v6.7 docs; guest_mode from v6.7, passthrough from v5.19;
    is_mirror (later) is in none."""
    specs = field_specs(KvmMmuPageRole)
    assert {spec.name for spec in specs if not spec.documented} == {"role.is_mirror"}
    assert all(spec.documented for spec in field_specs(KvmMmuPageRole, "v6.9"))
    later = {spec.name: spec.documented_since for spec in specs if spec.documented_since}
    assert later == {"role.guest_mode": "v6.7", "role.passthrough": "v5.19"}


def test_role_bits_tile_the_word_without_overlap_leaving_20_to_23_unused() -> None:
    """Widths and shifts read from Bits cover bits 0-19 and 24-31 exactly once."""
    covered: list[int] = []
    for spec in field_specs(KvmMmuPageRole):
        assert spec.width is not None and spec.shift is not None
        assert spec.c_type == f"unsigned int:{spec.width}"
        covered += range(spec.shift, spec.shift + spec.width)
    assert sorted(covered) == [*range(20), *range(24, 32)]


def test_role_bit_specs_carry_their_allowed_values() -> None:
    """Values come from Bits: explicit for level and smm, the width's range otherwise."""
    assert (find_field("role.level").values, find_field("role.level").allowed) == (
        "1..5",
        range(1, 6),
    )
    assert find_field("role.smm").values == "0, 1"
    assert find_field("role.access").values == "0..7"
    assert find_field("role.quadrant").allowed == range(4)
    assert find_field("role.direct").allowed == frozenset({0, 1})


def test_page_specs_carry_c_type_width_union_and_config() -> None:
    """C facts come from CField; widths from the C type where it has one."""
    gen = find_field("mmu_valid_gen")
    assert (gen.c_type, gen.width, gen.values, gen.used_by) == ("u8", 8, "0, 1", "shadow")
    assert gen.union == "tdp_mmu_scheduled_root_to_zap"
    assert find_field("tdp_mmu_root_count").c_type == "refcount_t"
    assert find_field("clear_spte_count").config == "CONFIG_X86_32"
    assert find_field("rcu_head").config == "CONFIG_X86_64"
    assert find_field("link").width is None and find_field("gfn").width == 64


def test_union_members_point_at_each_other() -> None:
    """Each union member names its partner, and the partner names it back."""
    unions = {spec.name: spec.union for spec in field_specs(KvmMmuPage) if spec.union}
    assert unions == {
        "mmu_valid_gen": "tdp_mmu_scheduled_root_to_zap",
        "tdp_mmu_scheduled_root_to_zap": "mmu_valid_gen",
        "root_count": "tdp_mmu_root_count",
        "tdp_mmu_root_count": "root_count",
        "parent_ptes": "ptep",
        "ptep": "parent_ptes",
        "unsync_children": "external_spt",
        "write_flooding_count": "external_spt",
        "external_spt": "unsync_children, write_flooding_count",
    }


def test_used_by_names_the_mmu() -> None:
    """Shadow-only, TDP-only and shared members are told apart."""
    used = {spec.name: spec.used_by for spec in field_specs(KvmMmuPage)}
    assert {name for name, mmu in used.items() if mmu == "tdp"} == {
        "tdp_mmu_scheduled_root_to_zap",
        "tdp_mmu_root_count",
        "ptep",
        "rcu_head",
        "external_spt",
    }
    assert used["link"] == used["role"] == used["tdp_mmu_page"] == "both"


def test_every_field_has_a_description() -> None:
    """Docs can render every field: each has a description of its own."""
    for model in MODELS.values():
        for spec in field_specs(model):
            assert len(spec.description) > 20, spec.name


def test_find_field_finds_role_bits_and_page_members() -> None:
    """role.<bit> names a role bit; a bare name a page member."""
    assert find_field("role.invalid").model == "KvmMmuPageRole"
    assert find_field("role").model == "KvmMmuPage"


@pytest.mark.parametrize("name", ["gfns", "role.nxe", "level", "role.word"])
def test_find_field_rejects_unknown_names_listing_the_valid_ones(name: str) -> None:
    """An unknown field is an UnknownNameError that lists every field."""
    with pytest.raises(UnknownNameError) as exc:
        find_field(name)
    assert exc.value.name == name
    assert "role.level" in exc.value.valid and "mmu_valid_gen" in exc.value.valid


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0, 1", frozenset({0, 1})),
        ("1..5", range(1, 6)),
        ("0..7", range(8)),
        (" 3 ", frozenset({3})),
        ("0x10..0x11", range(16, 18)),
        ("true, false", frozenset({0, 1})),
        ("False", frozenset({0})),
    ],
)
def test_parse_values_reads_lists_ranges_and_booleans(
    text: str, expected: frozenset[int] | range
) -> None:
    """Comma lists give sets, A..B gives an inclusive range, true/false give 1/0."""
    assert parse_values(text) == expected


@pytest.mark.parametrize("text", ["", "0,", "a, b", "5..1", "1..", "1.5"])
def test_parse_values_rejects_malformed_text_naming_it(text: str) -> None:
    """Malformed values raise ValueError quoting the text."""
    with pytest.raises(ValueError, match="values"):
        parse_values(text)


def test_values_match_compares_sets_not_spellings() -> None:
    """'0, 1' and '0..1' both match mmu_valid_gen; '0..2' does not."""
    gen = find_field("mmu_valid_gen")
    assert values_match("0, 1", gen) and values_match("0..1", gen) and values_match("1, 0", gen)
    assert not values_match("0..2", gen)
    assert values_match("1..5", find_field("role.level"))
    assert not values_match("0, 1", find_field("gfn"))


def test_each_kernel_version_has_its_own_members() -> None:
    """~v5.10 (source 02c00b3a2f7e) has gfns, lpage_disallowed(_link) and mmio_cached and no
    TDP unions; ~v6.9 has the renamed members; v6.14 adds external_spt and role.is_mirror;
    the newest adds has_mapped_host_mmio."""
    old = {spec.name for spec in field_specs(KvmMmuPage, "v5.10")}
    assert {"gfns", "lpage_disallowed", "lpage_disallowed_link", "mmio_cached"} <= old
    assert not old & {"shadowed_translation", "nx_huge_page_disallowed", "ptep", "rcu_head"}
    assert not old & {"tdp_mmu_root_count", "tdp_mmu_scheduled_root_to_zap"}
    v69 = {spec.name for spec in field_specs(KvmMmuPage, "v6.9")}
    assert not v69 & {"gfns", "lpage_disallowed", "external_spt", "has_mapped_host_mmio"}
    assert {"shadowed_translation", "possible_nx_huge_page_link", "ptep"} <= v69
    assert {spec.name for spec in field_specs(KvmMmuPage, "v6.14")} - v69 == {"external_spt"}
    newest = {spec.name for spec in field_specs(KvmMmuPage)}
    assert newest - v69 == {"external_spt", "has_mapped_host_mmio"}
    bits = {spec.name for spec in field_specs(KvmMmuPageRole, "v5.10")}
    assert {"role.gpte_is_8_bytes", "role.nxe"} <= bits
    assert not bits & {"role.has_4_byte_gpte", "role.efer_nx", "role.passthrough"}
    assert "role.is_mirror" not in {spec.name for spec in field_specs(KvmMmuPageRole, "v6.9")}
    assert find_field("role.is_mirror").shift == 19


def test_the_type_of_a_former_member_is_its_old_c_type() -> None:
    """gfns was gfn_t *; shadowed_translation is u64 *."""
    gfns = find_field("gfns", "v5.10")
    assert (gfns.c_type, gfns.until, gfns.renamed_to) == (
        "gfn_t *",
        "v6.0",
        "shadowed_translation",
    )
    assert find_field("shadowed_translation").c_type == "u64 *"


@pytest.mark.parametrize("kernel", ["v4.19", "v6.99", "latest", ""])
def test_an_unknown_kernel_version_names_the_known_ones(kernel: str) -> None:
    """field_specs(kernel=...) accepts only the versions the model states."""
    with pytest.raises(UnknownNameError) as exc:
        field_specs(KvmMmuPage, kernel)
    assert str(exc.value).startswith(f"unknown kernel version {kernel!r}; expected one of: ")
    assert "v5.10, v6.14, v6.16, v6.9" in str(exc.value)


def test_signed_c_types_have_signed_ranges() -> None:
    """int, atomic_t and refcount_t are signed 32-bit; bool is 0..1; u8 0..255."""
    assert find_field("clear_spte_count").c_range == range(-(2**31), 2**31)
    assert find_field("write_flooding_count").c_range == range(-(2**31), 2**31)
    assert find_field("tdp_mmu_root_count").c_range == range(-(2**31), 2**31)
    assert find_field("unsync_children").c_range == range(2**32)
    assert find_field("unsync").c_range == range(2)
    assert find_field("mmu_valid_gen").c_range == range(256)
    assert find_field("spt").c_range is None
