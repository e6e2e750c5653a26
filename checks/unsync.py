"""Claims about unsync shadow pages (``mmu_try_to_unsync_pages``, ``kvm_unsync_page``,
``kvm_mmu_mark_parents_unsync``, ``mmu_sync_children``, ``kvm_sync_page``,
``kvm_mmu_sync_roots`` in mmu.c ~v6.9)."""

from __future__ import annotations

from specmodel.claims import ClaimContext, claim
from specmodel.explorer.invariants import Invariant
from specmodel.kernel.config import Config
from specmodel.kernel.state import State


def _no_unsync_page(cfg: Config, s: State) -> str | None:
    for pid, sp in enumerate(s.pages):
        if not sp.freed and sp.unsync:
            return f"sp#{pid} is unsync"
    return None


#: Violated in a state where some page is unsync: its violation is the witness.
NO_UNSYNC_PAGE = Invariant("no_unsync_page", "No shadow page is unsync.", _no_unsync_page, True)


@claim(
    statement="A guest write to a write-protected leaf page table can make its shadow page "
    "unsync: the write goes through without emulation and the page lags the guest's table.",
    scenarios=("guest_pt_writes",),
    params={"steps": 3},
    mutants=("no_unsync",),
)
def guest_write_unsyncs_leaf_page(ctx: ClaimContext) -> None:
    result = ctx.explore("guest_pt_writes", only=(), witness={"unsync": NO_UNSYNC_PAGE})
    ctx.require(
        result.witnesses["unsync"],
        f"expected a state with an unsync shadow page; found none in {result.states} states",
        result,
    )


@claim(
    statement="Only leaf pages are ever unsync: a write to a page table that an upper-level "
    "page shadows (write-tracked) is emulated instead.",
    scenarios=("guest_pt_writes",),
    params={"steps": 3},
    mutants=("unsync_write_tracked",),
)
def unsync_only_leaf_pages(ctx: ClaimContext) -> None:
    ctx.require_holds(
        ctx.explore("guest_pt_writes", only=("unsync_only_on_leaf_pages", "tracked_pages_validate"))
    )


@claim(
    statement="Unsync state propagates to the parents: every SPTE that leads to an unsync "
    "page has its bit set in unsync_child_bitmap, and unsync_children counts those bits.",
    scenarios=("guest_pt_writes",),
    params={"steps": 3},
    mutants=("no_mark_parents_unsync",),
)
def unsync_propagates_to_parents(ctx: ClaimContext) -> None:
    ctx.require_holds(
        ctx.explore(
            "guest_pt_writes",
            only=("unsync_reported_to_parents", "unsync_children_match_bitmap"),
        )
    )


@claim(
    statement="Unsync pages are synchronized when the guest flushes its TLB (or reloads CR3): "
    "afterwards the vCPU sees its page tables as they are.",
    scenarios=("guest_pt_writes",),
    params={"steps": 4},
    mutants=("no_sync_on_flush",),
)
def flush_syncs_unsync_pages(ctx: ClaimContext) -> None:
    ctx.require_holds(ctx.explore("guest_pt_writes", only=("guest_tlb_coherent",)))


@claim(
    statement="INVLPG synchronizes the address's entry of an unsync page: afterwards the "
    "vCPU sees that address as its page tables say.",
    scenarios=("guest_pt_writes",),
    params={"steps": 4},
    mutants=("no_sync_on_invlpg",),
)
def invlpg_syncs_address(ctx: ClaimContext) -> None:
    ctx.require_holds(ctx.explore("guest_pt_writes", only=("guest_tlb_coherent",)))


@claim(
    statement="unsync_children is how many SPTEs of the page point at pages that are unsync "
    "or have unsynchronized children (mmu.rst, read as an exact count: the kernel clears the "
    "bits lazily, so a zapped or synced child can leave its bit and count behind).",
    scenarios=("guest_pt_writes",),
    params={"steps": 4},
    kernel_refutes=True,
)
def unsync_children_exact_count(ctx: ClaimContext) -> None:
    ctx.require_holds(
        ctx.explore("guest_pt_writes", only=(), invariants=("unsync_children_exact",))
    )
