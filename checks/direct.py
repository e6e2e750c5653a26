"""Claims about direct shadow pages (``kvm_mmu_page_get_gfn``, ``kvm_mmu_alloc_shadow_page``,
``__direct_pte_prefetch`` in mmu.c ~v6.9)."""

from __future__ import annotations

from specmodel.claims import ClaimContext, claim


@claim(
    statement="When role.direct is set, shadowed_translation is not allocated.",
    scenarios=("guest_pt_writes",),
    params={"steps": 2},
    mutants=("direct_shadowed_translation",),
)
def direct_pages_have_no_shadowed_translation(ctx: ClaimContext) -> None:
    ctx.require_holds(
        ctx.explore("guest_pt_writes", only=("direct_pages_untranslated", "tracked_pages_validate"))
    )


@claim(
    statement="The gfn of entry i of a direct page is computed from the gfn field and the "
    "level: the page maps the linear range that starts at gfn.",
    scenarios=("guest_pt_writes",),
    params={"steps": 2},
    mutants=("direct_gfn_ignores_index",),
)
def direct_gfn_from_gfn_and_level(ctx: ClaimContext) -> None:
    ctx.require_holds(ctx.explore("guest_pt_writes", only=("direct_entries_linear",)))
