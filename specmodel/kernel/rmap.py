"""``parent_ptes``: the reverse map from a shadow page to the SPTEs that point at it, as the
kernel encodes it in a ``struct kvm_rmap_head`` (arch/x86/kvm/mmu/mmu.c, ~v6.9:
``pte_list_add``, ``pte_list_remove``, ``pte_list_desc_remove_entry``,
``mmu_page_add_parent_pte``, ``mmu_page_remove_parent_pte``, ``drop_parent_pte``).

``rmap_head->val`` is 0 for no parent; with bit 0 clear it is the address of the one parent
SPTE; with bit 0 set, ``val & ~1`` points at a chain of ``struct pte_list_desc``: the head
descriptor holds 1..``PTE_LIST_EXT`` SPTE pointers and every descriptor after it is full.
The model stores the encoding as a tuple of ints: ``()`` for val 0, ``(sptep,)`` for a single
pointer (an SPTE address, 8-byte aligned so bit 0 is clear), and ``(1, head_count, *sptes)``
for a descriptor chain (the 1 is the tag bit; the SPTE pointers in chain order: the head
descriptor's, then each full tail descriptor's). Because tail descriptors are always full,
``head_count`` and the order fix the whole chain.
"""

from __future__ import annotations

from specmodel.errors import SpecmodelError
from specmodel.kernel.config import Config
from specmodel.kernel.state import NO_PAGE, Work

#: ``PTE_LIST_EXT`` in mmu.c ~v6.9 (SPTE pointers per ``struct pte_list_desc``).
PTE_LIST_EXT = 14
#: The model's scaled-down value, so that a handful of parents already needs a second
#: descriptor (the algorithm does not depend on the value).
MODEL_PTE_LIST_EXT = 2

RmapHead = tuple[int, ...]
#: Tag bit of ``rmap_head->val`` for a descriptor chain.
RMAP_DESC_TAG = 1


class RmapCorruption(SpecmodelError):
    """``KVM_BUG_ON_DATA_CORRUPTION`` in ``pte_list_remove()``: the SPTE is not in the map."""


def spte_address(pid: int, index: int) -> int:
    """The address of SPTE ``index`` of page ``pid`` (``sp->spt + index``): page aligned
    tables, 8-byte entries, so bit 0 is always clear."""
    return ((pid + 1) << 12) | (index << 3)


def spte_at(address: int) -> tuple[int, int]:
    """``(page id, index)`` of an SPTE address (``sptep_to_sp``, ``spte_index``)."""
    return (address >> 12) - 1, (address & 0xFFF) >> 3


def is_desc(head: RmapHead) -> bool:
    """``rmap_head->val & 1``."""
    return len(head) > 1 and bool(head[0] & RMAP_DESC_TAG)


def rmap_val_bit0(head: RmapHead) -> int:
    return 1 if is_desc(head) else 0


def pte_list_sptes(head: RmapHead) -> tuple[int, ...]:
    """The SPTE addresses in ``for_each_rmap_spte`` order."""
    if not head:
        return ()
    if not is_desc(head):
        return head
    return head[2:]


def pte_list_count(head: RmapHead) -> int:
    """``pte_list_count()``: 0, 1, or the head's ``tail_count + spte_count``."""
    return len(pte_list_sptes(head))


def pte_list_add(head: RmapHead, spte: int, ext: int, *, desc: bool = True) -> RmapHead:
    """``pte_list_add()``. ``desc=False`` is the ``parent_ptes_overwrite`` mutant: a second
    parent replaces the first instead of moving both into a descriptor."""
    if not head:
        return (spte,)
    if not is_desc(head):
        if not desc:
            return (spte,)
        return (RMAP_DESC_TAG, 2, head[0], spte)
    count, sptes = head[1], head[2:]
    if count == ext:
        # the head is full: a new head descriptor in front, the old head is now a full tail
        return (RMAP_DESC_TAG, 1, spte, *sptes)
    return (RMAP_DESC_TAG, count + 1, *sptes[:count], spte, *sptes[count:])


def pte_list_remove(head: RmapHead, spte: int, ext: int) -> RmapHead:
    """``pte_list_remove()`` / ``pte_list_desc_remove_entry()``: the hole is filled with the
    head descriptor's last entry, so tails stay full; an emptied head descriptor is freed and
    the next one becomes the head (or ``val`` becomes 0). Note that a chain left with one
    SPTE stays a chain: the kernel never converts back to a single pointer."""
    if not head:
        raise RmapCorruption(f"pte_list_remove: SPTE {spte:#x} removed from an empty rmap")
    if not is_desc(head):
        if head[0] != spte:
            raise RmapCorruption(f"pte_list_remove: rmap holds {head[0]:#x}, not {spte:#x}")
        return ()
    count, sptes = head[1], list(head[2:])
    try:
        i = sptes.index(spte)
    except ValueError:
        raise RmapCorruption(f"pte_list_remove: SPTE {spte:#x} is in no descriptor") from None
    j = count - 1
    sptes[i] = sptes[j]
    del sptes[j]
    count -= 1
    if count == 0:
        if not sptes:
            return ()
        count = ext  # the next descriptor, full, becomes the head
    return (RMAP_DESC_TAG, count, *sptes)


def pte_list_check(head: RmapHead, ext: int) -> str | None:
    """What is malformed in an encoding, or None."""
    if not head:
        return None
    if not is_desc(head):
        if len(head) != 1 or head[0] & 1:
            return f"a single parent pointer must be one 8-byte aligned address, found {head}"
        return None
    count, sptes = head[1], head[2:]
    if not 1 <= count <= ext:
        return f"the head pte_list_desc must hold 1..{ext} SPTEs, found {count}"
    if (len(sptes) - count) % ext:
        return (
            f"tail pte_list_descs must be full ({ext} SPTEs each), found {len(sptes) - count} "
            "SPTEs behind the head"
        )
    return None


# -- the shadow page operations ----------------------------------------------------------


def mmu_page_add_parent_pte(w: Work, cfg: Config, child: int, parent: int, index: int) -> None:
    """``mmu_page_add_parent_pte()``: ``pte_list_add`` of the parent SPTE into the child's
    ``parent_ptes``; the explorer's set view (``Page.parents``) is kept alongside."""
    c = w.page(child, "mmu_page_add_parent_pte")
    encoded = c.parent_ptes
    if encoded is not None:
        encoded = pte_list_add(
            encoded,
            spte_address(parent, index),
            MODEL_PTE_LIST_EXT,
            desc=cfg.switches.pte_list_desc,
        )
    parents = tuple(sorted((*c.parents, (parent, index))))
    w.set_page(child, c._replace(parents=parents, parent_ptes=encoded))


def mmu_page_remove_parent_pte(w: Work, child: int, parent: int, index: int) -> None:
    """``mmu_page_remove_parent_pte()``: ``pte_list_remove`` of the parent SPTE."""
    c = w.page(child, "mmu_page_remove_parent_pte")
    encoded = c.parent_ptes
    if encoded is not None:
        try:
            encoded = pte_list_remove(encoded, spte_address(parent, index), MODEL_PTE_LIST_EXT)
        except RmapCorruption as exc:
            # KVM_BUG_ON_DATA_CORRUPTION: the VM is marked bugged and the rmap left as is
            w.notes.append(f"KVM_BUG_ON_DATA_CORRUPTION ({exc})")
    parents = list(c.parents)
    if (parent, index) in parents:
        parents.remove((parent, index))
    w.set_page(child, c._replace(parents=tuple(parents), parent_ptes=encoded))


def drop_parent_pte(w: Work, child: int, parent: int, index: int) -> None:
    """``drop_parent_pte()``: remove the parent SPTE from the child's rmap, then clear it."""
    mmu_page_remove_parent_pte(w, child, parent, index)
    p = w.page(parent, "mmu_spte_clear_no_track")
    spt = list(p.spt)
    spt[index] = NO_PAGE
    w.set_page(parent, p._replace(spt=tuple(spt)))
