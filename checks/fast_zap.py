"""Claims about the generation-based fast zap (``mmu_valid_gen``, ``kvm_mmu_zap_all_fast``)."""

from __future__ import annotations

from specmodel.claims import ClaimContext, claim


@claim(
    statement="The VM's and every page's generation is only ever 0 or 1.",
    scenarios=("concurrent_zaps", "fast_zap"),
    params={"pages": 2, "vcpus": 1},
    mutants=("counter_generation",),
)
def generation_only_0_or_1(ctx: ClaimContext) -> None:
    # Two deletions in a row: a counter would reach 2, a toggle comes back to 0.
    ctx.require_holds(ctx.explore("concurrent_zaps", only=("generation_0_or_1",), vcpus=0))
    ctx.require_holds(ctx.explore("fast_zap", only=("generation_0_or_1",)))


@claim(
    statement="At any time the active pages belong to the current generation or, during a "
    "zap, to the single previous one; no page from an earlier switch is ever treated as valid.",
    scenarios=("concurrent_zaps",),
    params={"pages": 8, "batch": 2},
    mutants=("no_slots_lock",),
)
def one_obsolete_generation(ctx: ClaimContext) -> None:
    ctx.require_holds(
        ctx.explore(
            "concurrent_zaps",
            only=("at_most_one_obsolete_generation", "stale_generation_unused"),
        )
    )


@claim(
    statement="The 0/1 generation is safe only because slots_lock is held until every page "
    "of the previous generation is zapped.",
    scenarios=("concurrent_zaps",),
    params={"pages": 8, "batch": 2},
    mutants=("no_slots_lock",),
)
def slots_lock_required(ctx: ClaimContext) -> None:
    # The zap must yield mid-walk for a second zap to get in: more pages than the batch.
    ctx.require(
        ctx.params["pages"] > ctx.params["batch"],
        f"slots_lock_required needs pages > batch for the race to be possible "
        f"(got pages={ctx.params['pages']}, batch={ctx.params['batch']})",
    )
    ctx.require_holds(ctx.explore("concurrent_zaps", only=("stale_generation_unused",)))


@claim(
    statement="Changing the generation makes every page obsolete without writing any page.",
    scenarios=("fast_zap",),
    params={"vcpus": 1, "pages": 3},
    mutants=("mark_pages_on_switch",),
)
def switch_touches_no_page(ctx: ClaimContext) -> None:
    ctx.require_holds(
        ctx.explore("fast_zap", only=("switch_writes_no_page", "stale_generation_unused"))
    )


@claim(
    statement="Obsolete pages are never returned by lookup and never linked into a new root.",
    scenarios=("fast_zap",),
    params={"vcpus": 1, "pages": 4, "batch": 1},
    mutants=("reuse_obsolete_pages",),
)
def obsolete_pages_unused(ctx: ClaimContext) -> None:
    ctx.require_holds(ctx.explore("fast_zap", only=("lookup_returns_valid",)))


@claim(
    statement="Once the reload request is made, no vCPU enters the guest before it has "
    "dropped its obsolete roots and loaded a current one; when the request returns, no vCPU "
    "is in guest mode on an obsolete root, so the zap never removes a page that a running "
    "vCPU may use.",
    scenarios=("fast_zap",),
    params={"vcpus": 2, "pages": 3},
    mutants=("no_reload_request",),
)
def new_root_before_reentry(ctx: ClaimContext) -> None:
    ctx.require_holds(
        ctx.explore(
            "fast_zap",
            only=(
                "no_entry_with_request",
                "no_guest_on_obsolete_root_after_request",
                "guest_pages_not_zapped",
            ),
        )
    )


@claim(
    statement="vCPUs can run while the zap is ongoing, on a root of the new generation.",
    scenarios=("fast_zap",),
    params={"vcpus": 1, "pages": 6, "batch": 2},
    mutants=("no_yield",),
)
def vcpus_run_during_zap(ctx: ClaimContext) -> None:
    result = ctx.explore("fast_zap", only=(), witness={"runs": "no_vcpu_runs_during_zap"})
    ctx.require(
        result.witnesses["runs"],
        f"expected a state in which a vCPU runs on a current root while obsolete pages are "
        f"still being zapped; found none in {result.states} states",
        result,
    )


@claim(
    statement="vCPUs are still blocked during a fast zap, but only for bounded chunks: the "
    "longest wait does not grow with the number of pages.",
    scenarios=("fast_zap",),
    params={"vcpus": 1, "pages": 4, "batch": 2},
    mutants=("no_yield",),
)
def vcpus_blocked_briefly(ctx: ClaimContext) -> None:
    pages = int(ctx.params["pages"])
    small = ctx.explore("fast_zap", only=(), witness={"blocked": "vcpus_never_blocked"})
    large = ctx.explore("fast_zap", only=(), pages=2 * pages)
    ctx.require(
        small.witnesses["blocked"],
        "expected the zap to block a vCPU on mmu_lock at least once; found it never does",
        small,
    )
    wait_small = small.metrics["max_vcpu_mmu_lock_wait"]
    wait_large = large.metrics["max_vcpu_mmu_lock_wait"]
    ctx.require(
        wait_large <= wait_small,
        f"expected the longest mmu_lock wait not to grow with the pages; found "
        f"{wait_small} pages zapped during one wait with pages={pages} and {wait_large} "
        f"with pages={2 * pages} (batch={ctx.params['batch']})",
        large,
    )


@claim(
    statement="When the fast zap returns, no obsolete shadow page is on the active list and "
    "every invalidated TDP root has been zapped.",
    scenarios=("fast_zap", "fast_zap_tdp"),
    params={"vcpus": 1, "pages": 4, "batch": 2},
    mutants=("early_return",),
)
def zap_done_on_return(ctx: ClaimContext) -> None:
    for scenario in ("fast_zap", "fast_zap_tdp"):
        ctx.require_holds(ctx.explore(scenario, only=("zap_done_on_return",)))


@claim(
    statement="Walking the active list from the tail, obsolete pages come first, so the zap "
    "may stop at the first valid page.",
    scenarios=("fast_zap",),
    params={"vcpus": 1, "pages": 4, "batch": 1},
    mutants=("insert_at_tail",),
)
def fifo_partition(ctx: ClaimContext) -> None:
    ctx.require_holds(ctx.explore("fast_zap", only=("fifo_partition",)))


@claim(
    statement="vCPUs are never blocked by a fast zap (the v3 patch's wording).",
    scenarios=("fast_zap",),
    params={"vcpus": 1, "pages": 4},
    kernel_refutes=True,
)
def vcpus_never_blocked(ctx: ClaimContext) -> None:
    ctx.require_holds(ctx.explore("fast_zap", only=(), invariants=("vcpus_never_blocked",)))


@claim(
    statement="No vCPU ever enters the guest on an obsolete root (the v3 patch's "
    '"must load a new, valid root before re-entering the guest", read strictly).',
    scenarios=("fast_zap",),
    params={"vcpus": 1, "pages": 2},
    kernel_refutes=True,
)
def never_enters_on_obsolete_root(ctx: ClaimContext) -> None:
    ctx.require_holds(
        ctx.explore("fast_zap", only=(), invariants=("never_enters_on_obsolete_root",))
    )
