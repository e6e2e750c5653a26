"""Claims about the TDP MMU side of the fast zap."""

from __future__ import annotations

from specmodel.claims import ClaimContext, claim


@claim(
    statement="TDP MMU pages are invalidated through role.invalid on their roots and never "
    "consult mmu_valid_gen.",
    scenarios=("fast_zap_tdp",),
    params={"vcpus": 1, "pages": 3},
    mutants=("no_tdp_root_invalidation",),
)
def generation_unused(ctx: ClaimContext) -> None:
    # The TDP pages keep the generation they were built with; only role.invalid on the
    # root, and the zap of the invalidated roots, can retire them.
    ctx.require_holds(
        ctx.explore("fast_zap_tdp", only=("zap_done_on_return", "guest_pages_not_zapped"))
    )
