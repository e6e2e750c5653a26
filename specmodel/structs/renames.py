"""Kernel names of ``struct kvm_mmu_page`` members and role bits that changed, as data.

Versions carry a ``~`` because they are approximate (FACTS G): they come from reading the
source history, not from tagged trees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["RENAMES", "Rename", "rename_of", "renames_to"]


@dataclass(frozen=True, slots=True)
class Rename:
    """One kernel rename: ``old`` became ``new`` around kernel ``version``.

    Role bits are written ``role.<bit>``, as :func:`specmodel.structs.fields.find_field`
    spells them.
    """

    old: str
    new: str
    version: str
    note: str


RENAMES: Final[tuple[Rename, ...]] = (
    Rename(
        "gfns",
        "shadowed_translation",
        "~v6.0",
        "the array of gfns became an array of gfn plus guest access (ACC_* in the low bits)",
    ),
    Rename(
        "role.gpte_is_8_bytes",
        "role.has_4_byte_gpte",
        "~v5.18",
        "inverted sense: the old bit was 1 for 8-byte gptes, the new one is 1 for 4-byte gptes",
    ),
    Rename("role.nxe", "role.efer_nx", "~v5.18", "same meaning; version approximate"),
    Rename(
        "lpage_disallowed",
        "nx_huge_page_disallowed",
        "~v6.0",
        "same meaning (no huge page because of the NX huge page mitigation); version approximate",
    ),
)

_BY_OLD: Final[dict[str, Rename]] = {rename.old: rename for rename in RENAMES}


def rename_of(old: str) -> Rename | None:
    """The rename whose old name is ``old``, or ``None`` if the name was never renamed."""
    return _BY_OLD.get(old)


def renames_to(new: str) -> tuple[Rename, ...]:
    """Every rename whose new name is ``new`` (the names a field used to have)."""
    return tuple(rename for rename in RENAMES if rename.new == new)
