"""The guest's page tables as guest memory (``VmState.guest_memory``) in guest_pt_writes.

Two-level guest paging, scaled down: gfn 0 holds the top-level table (CR3 points at it), gfn
1 a leaf table, each with ``Config.spt_width`` 8-byte gptes; everything else is data. A
gpte is 0 (not present), ``GPTE_TABLE | gfn`` (a top-level entry pointing at the table in
``gfn``: 0 makes the mapping recursive), ``GPTE_LARGE | base`` (a top-level entry mapping a
guest large page of ``spt_width`` frames from ``base``), or a data frame number (a leaf
entry). A virtual address is a pair ``(j, i)``: top-level entry j, then entry i.
"""

from __future__ import annotations

from collections.abc import Sequence

TOP_GFN = 0
LEAF_GFN = 1
TABLE_GFNS = (TOP_GFN, LEAF_GFN)
GPTE_TABLE = 1 << 8
GPTE_LARGE = 1 << 9
_FLAGS = GPTE_TABLE | GPTE_LARGE


def gpte_index(gfn: int, index: int, width: int) -> int:
    return gfn * width + index


def read_gpte(memory: Sequence[int], gfn: int, index: int, width: int) -> int:
    """``kvm_vcpu_read_guest_atomic()`` of gpte ``index`` in table ``gfn``."""
    return memory[gpte_index(gfn, index, width)]


def gpte_frame(gpte: int) -> int | None:
    """The frame a gpte maps when used as a leaf entry (the table bits are address bits)."""
    if not gpte:
        return None
    return gpte & ~_FLAGS


def translate(memory: Sequence[int], j: int, i: int, width: int) -> int | None:
    """The guest's own walk (``FNAME(walk_addr)``) of address (j, i): the frame, or None."""
    top = read_gpte(memory, TOP_GFN, j, width)
    if not top:
        return None
    if top & GPTE_LARGE:
        return (top & ~_FLAGS) + i
    return gpte_frame(read_gpte(memory, top & ~_FLAGS, i, width))


def translations(memory: Sequence[int], width: int) -> tuple[int | None, ...]:
    """Every address's translation, address (j, i) at ``j * width + i``."""
    return tuple(translate(memory, j, i, width) for j in range(width) for i in range(width))
