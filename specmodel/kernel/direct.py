"""Direct shadow pages: pages that map a linear gfn range instead of shadowing a guest page
table (arch/x86/kvm/mmu/mmu.c, ~v6.9: ``kvm_mmu_page_get_gfn``,
``kvm_mmu_alloc_shadow_page``, ``__direct_pte_prefetch``, ``direct_pte_prefetch_many``).

A direct page keeps no ``shadowed_translation``: the gfn of entry i follows from ``sp->gfn``
and the level, ``sp->gfn + (i << ((level - 1) * SPTE_LEVEL_BITS))``, and its access is
``role.access``. An indirect page with gptes records each entry's gfn (and access) in
``shadowed_translation`` when the SPTE is installed.
"""

from __future__ import annotations

from specmodel.kernel.config import Config
from specmodel.kernel.spte import is_shadow_present, leaf_spte
from specmodel.kernel.state import ROLE_DIRECT, ROLE_LEVEL_MASK, Page, Work

#: Bits of a guest address each paging level consumes (``SPTE_LEVEL_BITS``).
SPTE_LEVEL_BITS = 9
#: ``PTE_PREFETCH_NUM``: the prefetch window, aligned, around the faulting SPTE.
PTE_PREFETCH_NUM = 8


def is_direct(role: int) -> bool:
    return bool(role & ROLE_DIRECT)


def kvm_mmu_page_get_gfn(sp: Page, index: int, cfg: Config) -> int:
    """``kvm_mmu_page_get_gfn()``: the gfn entry ``index`` of ``sp`` maps. (Passthrough pages,
    which report ``sp->gfn``, do not occur in the model's scenarios.)"""
    if not is_direct(sp.role):
        assert sp.shadowed_translation is not None
        return sp.shadowed_translation[index]
    if not cfg.switches.direct_gfn_from_index:
        return sp.gfn  # mutant direct_gfn_ignores_index: the passthrough rule
    level = sp.role & ROLE_LEVEL_MASK
    return sp.gfn + (index << ((level - 1) * SPTE_LEVEL_BITS))


def shadowed_translation_for(role: int, cfg: Config) -> tuple[int, ...] | None:
    """What ``kvm_mmu_alloc_shadow_page()`` allocates for ``shadowed_translation``: a
    zeroed array on indirect pages, nothing (None) on direct ones."""
    if is_direct(role) and cfg.switches.translation_only_indirect:
        return None
    return (0,) * cfg.spt_width


def direct_pte_prefetch(w: Work, cfg: Config, pid: int, index: int) -> list[int]:
    """``__direct_pte_prefetch()`` after a fault on SPTE ``index`` of direct page ``pid``:
    each run of non-present SPTEs in the aligned window is filled by
    ``direct_pte_prefetch_many()``, which asks ``kvm_mmu_page_get_gfn()`` for the run's first
    gfn and maps consecutive gfns from there. Returns the indexes it filled."""
    sp = w.page(pid, "__direct_pte_prefetch")
    spt = list(sp.spt)
    start_of_window = index & ~(PTE_PREFETCH_NUM - 1)
    end = min(start_of_window + PTE_PREFETCH_NUM, len(spt))
    filled: list[int] = []
    start: int | None = None

    def fill(first: int, stop: int) -> None:
        gfn = kvm_mmu_page_get_gfn(sp, first, cfg)
        for k, i in enumerate(range(first, stop)):
            spt[i] = leaf_spte(gfn + k)
            filled.append(i)

    for i in range(start_of_window, end):
        if is_shadow_present(spt[i]) or i == index:
            if start is not None:
                fill(start, i)
                start = None
        elif start is None:
            start = i
    if start is not None:
        fill(start, end)
    if filled:
        w.set_page(pid, sp._replace(spt=tuple(spt)))
    return filled
