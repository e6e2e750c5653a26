"""SPTE values of pages whose leaf SPTEs say which frame they map (guest_pt_writes).

An SPTE of ``Page.spt`` is a child page id (>= 0, a non-leaf SPTE, ``spte_to_child_sp``),
``NO_PAGE`` (not present) or, here, a leaf mapping host frame ``f`` (stored as ``-4 - f``:
negative, so code that only follows children skips it, and never -2, which CPython hashes
like -1). The model maps guest frame ``f`` to host frame ``f``.
"""

from __future__ import annotations

from specmodel.kernel.state import NO_PAGE

_LEAF_BASE = -4


def leaf_spte(frame: int) -> int:
    """A present leaf SPTE mapping ``frame`` (``make_spte``)."""
    return _LEAF_BASE - frame


def spte_frame(spte: int) -> int | None:
    """The frame a leaf SPTE maps (``spte_to_pfn``), or None for a child or non-present SPTE."""
    return _LEAF_BASE - spte if spte <= _LEAF_BASE else None


def is_shadow_present(spte: int) -> bool:
    """``is_shadow_present_pte()``."""
    return spte != NO_PAGE
