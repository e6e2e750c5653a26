"""Claims about the fields of struct kvm_mmu_page in every explored state."""

from __future__ import annotations

from pydantic import ValidationError

from specmodel.claims import ClaimContext, claim
from specmodel.explorer.invariants import Invariant
from specmodel.kernel.config import Config
from specmodel.kernel.state import State
from specmodel.kernel.vm import page_view


def _pages_validate(cfg: Config, state: State) -> str | None:
    for pid, sp in enumerate(state.pages):
        if sp.freed:
            continue
        try:
            page_view(sp)
        except ValidationError as exc:
            first = exc.errors()[0]
            return f"sp#{pid} is not a valid KvmMmuPage: {first['msg']}"
    return None


#: Every live page validates as a KvmMmuPage (FACTS F items 1 and 8 are validators there).
PAGES_VALIDATE = Invariant(
    "pages_validate_as_kvm_mmu_page",
    "Every live page validates as a KvmMmuPage, field invariants included.",
    _pages_validate,
)


@claim(
    statement="Every page in every explored state validates as a KvmMmuPage, field "
    "invariants included, and no page with root_count > 0 is ever freed.",
    scenarios=("fast_zap", "fast_zap_tdp", "page_reclaim"),
    params={"vcpus": 1, "pages": 3},
    mutants=("free_pinned_pages",),
)
def valid_in_every_state(ctx: ClaimContext) -> None:
    for scenario in ("fast_zap", "fast_zap_tdp"):
        ctx.require_holds(
            ctx.explore(
                scenario,
                only=("generation_0_or_1", "no_invalid_on_active", "pinned_never_freed"),
                invariants=(PAGES_VALIDATE,),
            )
        )
    ctx.require_holds(
        ctx.explore(
            "page_reclaim",
            only=("pinned_never_freed",),
            invariants=(PAGES_VALIDATE,),
            steps=4,
        )
    )
