"""Claims about ``parent_ptes``, the reverse map from a shadow page to the SPTEs that point
at it (``pte_list_add``, ``pte_list_remove``, ``mmu_page_add_parent_pte``,
``mmu_page_remove_parent_pte`` in mmu.c ~v6.9)."""

from __future__ import annotations

from specmodel.claims import ClaimContext, claim


@claim(
    statement="parent_ptes holds exactly the SPTEs that point at the page: with bit 0 clear "
    "it is the one parent SPTE, with bit 0 set it points at a pte_list_desc chain holding "
    "them all; and every child points back at each SPTE that points at it.",
    scenarios=("guest_pt_writes",),
    params={"steps": 4},
    mutants=("parent_ptes_overwrite",),
)
def parent_ptes_encoding(ctx: ClaimContext) -> None:
    ctx.require_holds(
        ctx.explore("guest_pt_writes", only=("parent_ptes_match_sptes", "parent_ptes_live"))
    )


@claim(
    statement="If parent_ptes bit 0 is zero, exactly one SPTE points at the page (mmu.rst, "
    "read strictly: a root has no parent SPTE and parent_ptes 0).",
    scenarios=("guest_pt_writes",),
    params={"steps": 1},
    kernel_refutes=True,
)
def bit0_clear_means_one_parent(ctx: ClaimContext) -> None:
    ctx.require_holds(
        ctx.explore("guest_pt_writes", only=(), invariants=("bit0_clear_means_one_parent",))
    )


@claim(
    statement="If parent_ptes bit 0 is set, several SPTEs point at the page (mmu.rst, read "
    "strictly: the kernel never turns a chain left with one SPTE back into a single pointer).",
    scenarios=("guest_pt_writes",),
    params={"steps": 5},
    kernel_refutes=True,
)
def bit0_set_means_several_parents(ctx: ClaimContext) -> None:
    ctx.require_holds(
        ctx.explore("guest_pt_writes", only=(), invariants=("desc_means_several_parents",))
    )
