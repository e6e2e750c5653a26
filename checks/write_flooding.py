"""Claims about ``write_flooding_count`` (``detect_write_flooding``, ``kvm_mmu_track_write``
in mmu.c ~v6.9)."""

from __future__ import annotations

from specmodel.claims import ClaimContext, claim


@claim(
    statement="Emulated guest writes to a shadowed page table are counted in "
    "write_flooding_count; once they reach 3 since the page was last used, KVM zaps it.",
    scenarios=("guest_pt_writes",),
    params={"steps": 3},
    mutants=("no_write_flooding_zap",),
)
def flooded_pages_zapped(ctx: ClaimContext) -> None:
    ctx.require_holds(ctx.explore("guest_pt_writes", only=("write_flooding_below_threshold",)))


@claim(
    statement="Leaf (level-1) pages skip the flood counter: they can be unsynchronized "
    "instead, which non-leaf pages cannot.",
    scenarios=("guest_pt_writes",),
    params={"steps": 3},
    mutants=("flood_count_leaf_pages",),
)
def leaf_pages_skip_flood_count(ctx: ClaimContext) -> None:
    ctx.require_holds(ctx.explore("guest_pt_writes", only=("leaf_pages_not_flood_counted",)))
