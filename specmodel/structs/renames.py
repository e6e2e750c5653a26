"""Kernel names of ``struct kvm_mmu_page`` members and role bits that changed, as data.

Derived from the former members and bits the field models record (``FORMER_MEMBERS`` in
``specmodel.structs.page``, ``FORMER_BITS`` in ``specmodel.structs.role``): a former
member with ``renamed_to`` is a rename; there is no second list. Versions carry a ``~`` because
they are approximate (FACTS G): they come from reading the source history, not from tagged
trees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from specmodel.structs.bits import Former
from specmodel.structs.page import FORMER_MEMBERS, KvmMmuPage
from specmodel.structs.role import FORMER_BITS

__all__ = ["RENAMES", "Rename", "rename_of", "renames_to"]


@dataclass(frozen=True, slots=True)
class Rename:
    """One kernel rename: ``old`` became ``new`` around kernel ``version``.

    Role bits are written ``role.<bit>``, as :func:`specmodel.structs.fields.find_field`
    spells them. ``old_type``/``new_type`` are the C types before and after (equal unless the
    rename changed the type too, as ``gfns`` -> ``shadowed_translation`` did).
    """

    old: str
    new: str
    version: str
    note: str
    old_type: str = ""
    new_type: str = ""

    @property
    def type_changed(self) -> bool:
        """Whether the rename also changed the member's C type."""
        return self.old_type != self.new_type


def _new_type(former: Former) -> str:
    from specmodel.structs.bits import CField

    assert former.renamed_to is not None
    if former.renamed_to.startswith("role."):
        return former.c_type  # a role bit keeps its width
    info = KvmMmuPage.model_fields[former.renamed_to]
    return next(meta.c_type for meta in info.metadata if isinstance(meta, CField))


def _renames() -> tuple[Rename, ...]:
    found = []
    for former in (*FORMER_MEMBERS, *FORMER_BITS):
        if former.renamed_to is None:
            continue
        found.append(
            Rename(
                old=former.name,
                new=former.renamed_to,
                version="~" + former.until,
                note=former.description,
                old_type=former.c_type,
                new_type=_new_type(former),
            )
        )
    return tuple(found)


RENAMES: Final[tuple[Rename, ...]] = _renames()

_BY_OLD: Final[dict[str, Rename]] = {rename.old: rename for rename in RENAMES}


def rename_of(old: str) -> Rename | None:
    """The rename whose old name is ``old``, or ``None`` if the name was never renamed."""
    return _BY_OLD.get(old)


def renames_to(new: str) -> tuple[Rename, ...]:
    """Every rename whose new name is ``new`` (the names a field used to have)."""
    return tuple(rename for rename in RENAMES if rename.new == new)
