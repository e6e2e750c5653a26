"""Tests for specmodel.structs.role: the bit layout of union kvm_mmu_page_role and its rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from strategies import role_fields, roles, word_is_valid, words

from specmodel import kernel
from specmodel.structs.bits import format_int
from specmodel.structs.role import ACC_ALL, KvmMmuPageRole


def test_known_word_0x784_is_a_direct_level_4_root_with_all_access() -> None:
    """0x784 unpacks to level 4, direct, access ACC_ALL and nothing else."""
    role = KvmMmuPageRole.from_word(0x784)
    assert (role.level, role.direct, role.access) == (4, True, ACC_ALL)
    assert role == KvmMmuPageRole(level=4, direct=True, access=7)


def test_known_word_with_top_byte_1_is_an_smm_role() -> None:
    """0x01000784 is the same role in the SMM address space."""
    assert KvmMmuPageRole.from_word(0x01000784).smm == 1


def test_quadrant_without_4_byte_gptes_is_rejected_from_a_word() -> None:
    """0x21 (level 1, quadrant 1, 8-byte gptes) names both bits in its message."""
    with pytest.raises(ValidationError) as exc:
        KvmMmuPageRole.from_word(0x21)
    assert "role.quadrant=1 requires role.has_4_byte_gpte=1 (got has_4_byte_gpte=0)" in str(
        exc.value
    )


def test_quadrant_with_4_byte_gptes_is_accepted_from_a_word() -> None:
    """0x31 is a level-1 page shadowing the upper half of a 32-bit guest page table."""
    role = KvmMmuPageRole.from_word(0x31)
    assert (role.level, role.has_4_byte_gpte, role.quadrant) == (1, True, 1)


def test_acc_names_are_the_kernel_values_on_the_module_and_the_class() -> None:
    """ACC_* come from specmodel.kernel and are reachable from the role class too."""
    assert KvmMmuPageRole.ACC_EXEC_MASK == kernel.ACC_EXEC_MASK == 1
    assert KvmMmuPageRole.ACC_WRITE_MASK == kernel.ACC_WRITE_MASK == 2
    assert KvmMmuPageRole.ACC_USER_MASK == kernel.ACC_USER_MASK == 4
    assert KvmMmuPageRole.ACC_ALL == ACC_ALL == 7


def test_roles_are_frozen_and_hashable() -> None:
    """A role can key a dict, and assigning to a bit fails."""
    role = KvmMmuPageRole(level=1)
    assert {role: 1}[KvmMmuPageRole.from_word(role.word)] == 1
    with pytest.raises(ValidationError):
        role.level = 2  # type: ignore[misc]


def test_unknown_keyword_is_rejected() -> None:
    """A misspelt bit name is an error, not a silently ignored extra."""
    with pytest.raises(ValidationError, match="nxe"):
        KvmMmuPageRole(level=1, nxe=True)  # type: ignore[call-arg]


@given(roles())
def test_packing_then_unpacking_gives_the_same_role(role: KvmMmuPageRole) -> None:
    """from_word(r.word) == r for every valid role."""
    assert KvmMmuPageRole.from_word(role.word) == role


@given(words())
def test_a_word_is_accepted_exactly_when_valid_and_then_round_trips(word: int) -> None:
    """Every valid word unpacks and packs back to itself; every other word is rejected."""
    if word_is_valid(word):
        assert KvmMmuPageRole.from_word(word).word == word
    else:
        with pytest.raises(ValidationError):
            KvmMmuPageRole.from_word(word)


@given(st.sampled_from(range(20, 24)))
def test_a_word_with_an_unused_bit_is_rejected_naming_the_bit(bit: int) -> None:
    """Bits 20-23 belong to no field (19 is is_mirror); the message lists the ones set."""
    with pytest.raises(ValidationError) as exc:
        KvmMmuPageRole.from_word(0x784 | 1 << bit)
    assert f"bits {bit} set" in str(exc.value)


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        (-1, "role.word must be 0..0xffffffff (got -1)"),
        (2**32, "role.word must be 0..0xffffffff (got 0x100000000)"),
        ("0x784", "role.word must be an int (got '0x784')"),
        (True, "role.word must be an int (got True)"),
        (0x784 | 0x3 << 20, "bits 20, 21 set"),
    ],
)
def test_a_word_that_is_not_a_32_bit_int_is_rejected(word: object, expected: str) -> None:
    """Negative, too wide, non-int words and words with unused bits are rejected."""
    with pytest.raises(ValidationError) as exc:
        KvmMmuPageRole.from_word(word)  # type: ignore[arg-type]
    assert expected in str(exc.value)


_ALLOWED = {
    "level": (1, 5, "1..5"),
    "quadrant": (0, 3, "0..3"),
    "access": (0, 7, "0..7"),
    "smm": (0, 1, "0, 1"),
    "direct": (0, 1, "0, 1"),
    "invalid": (0, 1, "0, 1"),
    "guest_mode": (0, 1, "0, 1"),
}


@st.composite
def out_of_range(draw: st.DrawFn) -> tuple[str, int]:
    """A role bit and an int it cannot hold."""
    name = draw(st.sampled_from(sorted(_ALLOWED)))
    low, high, _ = _ALLOWED[name]
    value = draw(st.one_of(st.integers(-(2**40), low - 1), st.integers(high + 1, 2**40)))
    return name, value


@given(out_of_range())
def test_an_out_of_range_bit_value_is_rejected_naming_bit_allowed_and_given(
    case: tuple[str, int],
) -> None:
    """role.<bit> must be <allowed> (got <value>) for every value the bit cannot hold."""
    name, value = case
    fields = {"level": 1, name: value}
    with pytest.raises(ValidationError) as exc:
        KvmMmuPageRole(**fields)
    shown = value if abs(value) < 2**16 else format_int(value)
    # strict bools: a one-bit bool field names its type, not 0, 1 (True is not 1 here)
    allowed = "a bool" if name in ("direct", "invalid", "guest_mode") else _ALLOWED[name][2]
    assert f"role.{name} must be {allowed} (got {shown})" in str(exc.value)


@given(role_fields(), st.integers(1, 3))
def test_a_nonzero_quadrant_without_4_byte_gptes_is_rejected(
    fields: dict[str, int | bool], quadrant: int
) -> None:
    """quadrant != 0 requires has_4_byte_gpte."""
    fields |= {"has_4_byte_gpte": False, "quadrant": quadrant}
    with pytest.raises(ValidationError) as exc:
        KvmMmuPageRole(**fields)
    assert f"role.quadrant={quadrant} requires role.has_4_byte_gpte=1" in str(exc.value)


@given(role_fields(), st.integers(3, 5))
def test_4_byte_gptes_above_level_2_are_rejected(fields: dict[str, int | bool], level: int) -> None:
    """4-byte-gpte pages are level-1 tables or level-2 PAE roots, never higher."""
    fields |= {"has_4_byte_gpte": True, "level": level, "passthrough": False, "quadrant": 0}
    with pytest.raises(ValidationError) as exc:
        KvmMmuPageRole(**fields)
    assert f"role.has_4_byte_gpte=1 requires role.level <= 2 (got level={level})" in str(exc.value)


@given(role_fields(), st.integers(2, 3))
def test_a_level_1_4_byte_gpte_page_has_quadrant_0_or_1(
    fields: dict[str, int | bool], quadrant: int
) -> None:
    """A level-1 page shadows one of the two halves of a 32-bit guest table."""
    fields |= {"has_4_byte_gpte": True, "level": 1, "quadrant": quadrant, "passthrough": False}
    with pytest.raises(ValidationError) as exc:
        KvmMmuPageRole(**fields)
    assert f"role.quadrant 0..1 (got quadrant={quadrant})" in str(exc.value)


@given(role_fields(), st.sampled_from(["smep_andnot_wp", "smap_andnot_wp"]))
def test_smep_or_smap_andnot_wp_with_cr0_wp_is_rejected(
    fields: dict[str, int | bool], name: str
) -> None:
    """The *_andnot_wp bits can only be set while cr0_wp is 0."""
    fields |= {"cr0_wp": True, "smep_andnot_wp": False, "smap_andnot_wp": False, name: True}
    with pytest.raises(ValidationError) as exc:
        KvmMmuPageRole(**fields)
    assert f"role.{name}=1 requires role.cr0_wp=0 (got cr0_wp=1)" in str(exc.value)


@given(role_fields())
def test_passthrough_outside_an_indirect_5_level_root_is_rejected(
    fields: dict[str, int | bool],
) -> None:
    """passthrough needs role.level=5 and role.direct=0 (level 4 included: FACTS B)."""
    if fields["level"] == 5 and not fields["direct"]:
        fields["direct"] = True
    fields["passthrough"] = True
    with pytest.raises(ValidationError) as exc:
        KvmMmuPageRole(**fields)
    message = str(exc.value)
    assert "role.passthrough=1 requires" in message
    assert f"level={fields['level']}, direct={int(fields['direct'])}" in message


def test_passthrough_on_a_4_level_root_is_rejected() -> None:
    """kvm_init_shadow_npt_mmu sets passthrough only for the level-5 root, never level 4."""
    with pytest.raises(ValidationError) as exc:
        KvmMmuPageRole(level=4, access=ACC_ALL, passthrough=True)
    assert "role.passthrough=1 requires a level-5 shadow root" in str(exc.value)
    assert "(got level=4, direct=0)" in str(exc.value)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"level": True}, "role.level must be an int in 1..5 (got True)"),
        ({"level": "1"}, "role.level must be an int in 1..5 (got '1')"),
        ({"level": 1.0}, "role.level must be an int in 1..5 (got 1.0)"),
        ({"level": 1, "direct": 1}, "role.direct must be a bool (got 1)"),
        ({"level": 1, "is_mirror": "yes"}, "role.is_mirror must be a bool (got 'yes')"),
    ],
)
def test_lax_coercion_is_rejected(fields: dict[str, object], expected: str) -> None:
    """Strict types: no bool for an int, no string for an int, no 0/1 for a bool."""
    with pytest.raises(ValidationError) as exc:
        KvmMmuPageRole(**fields)
    assert expected in str(exc.value)


def test_the_role_is_frozen_so_an_assignment_is_rejected() -> None:
    """The role is a hash key: changing a bit in place raises instead of corrupting lookups."""
    role = KvmMmuPageRole(level=1)
    with pytest.raises(ValidationError, match="frozen"):
        role.level = 9  # type: ignore[misc]
    assert role.level == 1


def test_is_mirror_is_bit_19() -> None:
    """is_mirror (~v6.14) packs into bit 19 and unpacks from it."""
    role = KvmMmuPageRole.from_word(0x784 | 1 << 19)
    assert role.is_mirror and role.word == 0x784 | 1 << 19


def test_passthrough_on_a_5_level_shadow_npt_root_is_accepted() -> None:
    """5-level NPT shadowing L1's 4-level NPT marks its root passthrough."""
    role = KvmMmuPageRole(level=5, access=ACC_ALL, passthrough=True, guest_mode=True)
    assert KvmMmuPageRole.from_word(role.word) == role


def test_each_bit_sits_where_the_kernel_puts_it() -> None:
    """Setting one field sets exactly its bits of the word (FACTS B)."""
    base = KvmMmuPageRole(level=1)
    expected = {
        "direct": 1 << 7,
        "invalid": 1 << 11,
        "efer_nx": 1 << 12,
        "cr0_wp": 1 << 13,
        "smep_andnot_wp": 1 << 14,
        "smap_andnot_wp": 1 << 15,
        "ad_disabled": 1 << 16,
        "guest_mode": 1 << 17,
        "smm": 1 << 24,
    }
    for name, bit in expected.items():
        assert base.model_copy(update={name: 1}).word == 1 | bit, name
    assert KvmMmuPageRole(level=2, has_4_byte_gpte=True, quadrant=3).word == 2 | 1 << 4 | 3 << 5
    assert KvmMmuPageRole(level=5, access=5).word == 5 | 5 << 8
