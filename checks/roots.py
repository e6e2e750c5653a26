"""Claims about root lifetime in the shadow MMU (``root_count``; ``mmu_alloc_root``,
``mmu_free_root_page``, ``kvm_mmu_free_roots`` in mmu.c ~v6.9), in guest_pt_writes, where
write flooding zaps the root that every vCPU holds."""

from __future__ import annotations

from specmodel.claims import ClaimContext, claim


@claim(
    statement="A vCPU takes a root_count reference when a shadow page becomes its root: "
    "root_count is the number of vCPUs using the page as their root.",
    scenarios=("guest_pt_writes",),
    params={"steps": 3},
    mutants=("no_root_count_ref",),
)
def root_count_counts_vcpu_roots(ctx: ClaimContext) -> None:
    ctx.require_holds(ctx.explore("guest_pt_writes", only=("root_count_matches_roots",)))


@claim(
    statement="A root whose root_count is not zero is never freed: zapping it only marks it "
    "invalid and takes it off the active list.",
    scenarios=("guest_pt_writes",),
    params={"steps": 3},
    mutants=("free_pinned_pages",),
)
def pinned_root_never_freed(ctx: ClaimContext) -> None:
    ctx.require_holds(
        ctx.explore("guest_pt_writes", only=("pinned_never_freed", "no_use_after_free"))
    )


@claim(
    statement="An invalid root is destroyed when its root_count drops to zero.",
    scenarios=("guest_pt_writes",),
    params={"steps": 3},
    mutants=("leak_invalid_roots",),
)
def invalid_root_destroyed_at_zero(ctx: ClaimContext) -> None:
    ctx.require_holds(ctx.explore("guest_pt_writes", only=("pinned_never_freed",)))
