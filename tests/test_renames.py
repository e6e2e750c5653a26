"""Tests for specmodel.structs.renames: kernel names that changed."""

from __future__ import annotations

import pytest

from specmodel.errors import UnknownNameError
from specmodel.structs.fields import find_field
from specmodel.structs.renames import RENAMES, Rename, rename_of, renames_to


def test_the_known_renames_are_listed() -> None:
    """gfns, gpte_is_8_bytes, nxe, lpage_disallowed and lpage_disallowed_link map to today's
    names (FACTS A correction: the two NX renames came together)."""
    assert {(r.old, r.new) for r in RENAMES} == {
        ("gfns", "shadowed_translation"),
        ("role.gpte_is_8_bytes", "role.has_4_byte_gpte"),
        ("role.nxe", "role.efer_nx"),
        ("lpage_disallowed", "nx_huge_page_disallowed"),
        ("lpage_disallowed_link", "possible_nx_huge_page_link"),
    }


def test_gfns_to_shadowed_translation_also_changed_the_type() -> None:
    """gfn_t * became u64 * (gfn plus guest access); the NX renames kept their types."""
    gfns = rename_of("gfns")
    assert gfns is not None and (gfns.old_type, gfns.new_type) == ("gfn_t *", "u64 *")
    assert gfns.type_changed
    link = rename_of("lpage_disallowed_link")
    assert link is not None and link.version == "~v6.0" and not link.type_changed


def test_rename_of_finds_a_rename_by_its_old_name() -> None:
    """rename_of('gfns') explains where the field went and when."""
    rename = rename_of("gfns")
    assert rename is not None
    assert (rename.new, rename.version) == ("shadowed_translation", "~v6.0")
    assert "access" in rename.note


def test_the_inverted_gpte_bit_says_so() -> None:
    """gpte_is_8_bytes had the opposite sense of has_4_byte_gpte."""
    rename = rename_of("role.gpte_is_8_bytes")
    assert rename is not None and rename.version == "~v5.18" and "inverted" in rename.note


@pytest.mark.parametrize("name", ["gfn", "shadowed_translation", "mmio_cached", ""])
def test_rename_of_a_name_that_was_never_renamed_is_none(name: str) -> None:
    """Current names and unknown names give None."""
    assert rename_of(name) is None


@pytest.mark.parametrize("rename", RENAMES, ids=lambda r: r.old)
def test_every_new_name_is_a_model_field_and_no_old_name_is(rename: Rename) -> None:
    """The new name exists in the models; the old one does not."""
    assert find_field(rename.new).name == rename.new
    with pytest.raises(UnknownNameError):
        find_field(rename.old)


def test_renames_to_lists_the_old_names_of_a_field() -> None:
    """renames_to answers the reverse question."""
    assert [r.old for r in renames_to("role.efer_nx")] == ["role.nxe"]
    assert renames_to("gfn") == ()
