"""Hypothesis strategies for the field models (valid roles, role words, pages)."""

from __future__ import annotations

from hypothesis import strategies as st

from specmodel.structs.role import UNUSED_BITS, KvmMmuPageRole


@st.composite
def role_fields(draw: st.DrawFn) -> dict[str, int | bool]:
    """Keyword arguments of a role that obeys every cross-bit rule."""
    level = draw(st.integers(1, 5))
    four = draw(st.booleans()) if level <= 2 else False
    quadrant = draw(st.integers(0, 1 if level == 1 else 3)) if four else 0
    direct = draw(st.booleans())
    cr0_wp = draw(st.booleans())
    five_level_root = level == 5 and not direct
    return {
        "level": level,
        "has_4_byte_gpte": four,
        "quadrant": quadrant,
        "direct": direct,
        "access": draw(st.integers(0, 7)),
        "invalid": draw(st.booleans()),
        "efer_nx": draw(st.booleans()),
        "cr0_wp": cr0_wp,
        "smep_andnot_wp": False if cr0_wp else draw(st.booleans()),
        "smap_andnot_wp": False if cr0_wp else draw(st.booleans()),
        "ad_disabled": draw(st.booleans()),
        "guest_mode": draw(st.booleans()),
        "passthrough": draw(st.booleans()) if five_level_root else False,
        "is_mirror": draw(st.booleans()),
        "smm": draw(st.integers(0, 1)),
    }


def roles() -> st.SearchStrategy[KvmMmuPageRole]:
    """Every valid role."""
    return role_fields().map(lambda fields: KvmMmuPageRole(**fields))


def words() -> st.SearchStrategy[int]:
    """Any 32-bit word, valid or not, biased towards ones with no unused bit set."""
    unused = sum(1 << bit for bit in UNUSED_BITS)
    return st.one_of(
        st.integers(0, 2**32 - 1).map(lambda word: word & ~unused),
        st.integers(0, 2**32 - 1),
    )


def word_is_valid(word: int) -> bool:
    """An oracle for role words written from FACTS B and F, independent of role.py."""
    level, four, quadrant = word & 0xF, word >> 4 & 1, word >> 5 & 3
    direct, cr0_wp = word >> 7 & 1, word >> 13 & 1
    smep, smap, passthrough, smm = word >> 14 & 1, word >> 15 & 1, word >> 18 & 1, word >> 24
    return (
        word >> 20 & 0xF == 0
        and 1 <= level <= 5
        and smm <= 1
        and (quadrant == 0 or four == 1)
        and (four == 0 or level <= 2)
        and not (four and level == 1 and quadrant > 1)
        and not ((smep or smap) and cr0_wp)
        and not (passthrough and (level != 5 or direct))
    )
