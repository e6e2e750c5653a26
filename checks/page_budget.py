"""Claims about reclaim under the page budget (FACTS H, CVE-2026-64561)."""

from __future__ import annotations

from specmodel.claims import ClaimContext, claim


@claim(
    statement="Reclaiming pages under the budget never leaves an invalid page on the active list.",
    scenarios=("page_reclaim",),
    params={"fix_7a2c70e777a0": 2, "prev_roots": 0, "steps": 5},
    mutants=("pre_2abd5287f083",),
)
def no_invalid_page_on_active_list(ctx: ClaimContext) -> None:
    ctx.require_holds(ctx.explore("page_reclaim", only=("no_invalid_on_active",)))


@claim(
    statement="No page is freed while anything still points at it: no list or pointer "
    "operation ever touches a freed page.",
    scenarios=("page_reclaim",),
    params={"fix_7a2c70e777a0": 2, "prev_roots": 0, "steps": 5},
    mutants=("pre_2abd5287f083",),
)
def no_page_freed_while_linked(ctx: ClaimContext) -> None:
    ctx.require_holds(ctx.explore("page_reclaim", only=("no_use_after_free", "parent_ptes_live")))
