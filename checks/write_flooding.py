"""Claims about ``write_flooding_count`` (``detect_write_flooding``, ``kvm_mmu_track_write``
in mmu.c ~v6.9)."""

from __future__ import annotations

from specmodel.claims import ClaimContext, claim
from specmodel.explorer.invariants import Invariant
from specmodel.kernel.config import Config
from specmodel.kernel.flooding import WRITE_FLOODING_THRESHOLD
from specmodel.kernel.state import State


def _no_used_page_outlives_threshold(cfg: Config, s: State) -> str | None:
    for pid, sp in enumerate(s.pages):
        if not sp.freed and not sp.invalid and sp.emulated_writes >= WRITE_FLOODING_THRESHOLD:
            return f"sp#{pid} is valid after {sp.emulated_writes} emulated writes"
    return None


#: Violated where a valid page has seen three emulated writes (it was used in between):
#: its violation is the witness.
USED_PAGE_SURVIVES = Invariant(
    "no_valid_page_after_three_emulated_writes",
    "No valid page has seen three emulated writes.",
    _no_used_page_outlives_threshold,
    True,
)


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


@claim(
    statement="write_flooding_count counts the emulations since the page table was last "
    "used: a page that KVM uses between emulated writes is not zapped after three of them.",
    scenarios=("guest_pt_writes",),
    params={"steps": 4},
    mutants=("no_flood_reset",),
)
def used_pages_survive_emulated_writes(ctx: ClaimContext) -> None:
    result = ctx.explore("guest_pt_writes", only=(), witness={"used": USED_PAGE_SURVIVES})
    ctx.require(
        result.witnesses["used"],
        f"expected a valid page after {WRITE_FLOODING_THRESHOLD} emulated writes (used in "
        f"between); found none in {result.states} states",
        result,
    )
