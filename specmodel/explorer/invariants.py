"""Invariants checked in every explored state (FACTS F "Invariants"), and the properties
that historical wordings of mmu.rst claimed (some of which the kernel model refutes).

Each check takes the exploration's ``Config`` and a ``State`` and returns ``None`` when the
property holds, or a sentence saying what was expected and what was found.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from specmodel.explorer.shadow_invariants import SHADOW_INVARIANTS, SHADOW_REFUTABLE
from specmodel.kernel.config import Config
from specmodel.kernel.mmu import (
    MODE_OUTSIDE,
    REQ_FREE_OBSOLETE_ROOTS,
    V_MODE,
    V_REQ,
    V_ROOT,
    is_obsolete,
)
from specmodel.kernel.state import (
    HAZARD_CREATED_OLD_GEN,
    HAZARD_ENTERED_OBSOLETE,
    HAZARD_FREED_PINNED,
    HAZARD_LOOKUP_OBSOLETE,
    HAZARD_LOOKUP_STALE,
    HAZARD_POISONED_POINTER,
    HAZARD_SWITCH_WROTE_PAGE,
    HAZARD_USE_AFTER_FREE,
    LINK_INVALID_LIST,
    NO_PAGE,
    Page,
    State,
)
from specmodel.kernel.zap import DONE, Z_EPOCH, Z_PC, Z_REQUESTED, in_fast_zap

Check = Callable[[Config, State], str | None]


@dataclass(frozen=True)
class Invariant:
    name: str
    summary: str
    check: Check
    #: True when the check reads only ``state.vm`` and ``state.pages``, so its verdict can
    #: be cached for states that share them (threads differ far more often than pages).
    pages_only: bool = False


def _vcpu_name(cfg: Config, tid: int) -> str:
    return f"vcpu{tid - len(cfg.zapper_tids)}"


def generation_0_or_1(cfg: Config, s: State) -> str | None:
    """F1: kvm->arch.mmu_valid_gen and every shadow page's mmu_valid_gen are 0 or 1."""
    if s.vm.mmu_valid_gen not in (0, 1):
        return f"expected kvm->arch.mmu_valid_gen in {{0, 1}}, found {s.vm.mmu_valid_gen}"
    for pid, sp in enumerate(s.pages):
        if not sp.freed and not sp.tdp and sp.gen not in (0, 1):
            return f"expected sp#{pid}.mmu_valid_gen in {{0, 1}}, found {sp.gen}"
    return None


def no_invalid_on_active(cfg: Config, s: State) -> str | None:
    """F2: no page on active_mmu_pages has role.invalid, and no TDP MMU page is on it."""
    for pid in s.vm.active:
        sp = s.pages[pid]
        if sp.invalid:
            return f"expected no invalid page on active_mmu_pages, found sp#{pid} (invalid)"
        if sp.tdp:
            return f"expected no TDP MMU page on active_mmu_pages, found sp#{pid}"
    return None


def _stale_gen(sp: Page, mmu_valid_gen: int) -> bool:
    # F3 and F4 are about the generation; role.invalid on the list is F2's business.
    return not sp.freed and not sp.tdp and sp.gen != mmu_valid_gen


def fifo_partition(cfg: Config, s: State) -> str | None:
    """F3: from the head of active_mmu_pages, every page of the current generation
    precedes every page of an older one."""
    seen_obsolete = NO_PAGE
    for pid in s.vm.active:
        sp = s.pages[pid]
        if sp.freed:
            continue
        obsolete = _stale_gen(sp, s.vm.mmu_valid_gen)
        if obsolete and seen_obsolete == NO_PAGE:
            seen_obsolete = pid
        elif not obsolete and seen_obsolete != NO_PAGE:
            return (
                f"expected valid pages before obsolete ones on active_mmu_pages, found "
                f"valid sp#{pid} behind obsolete sp#{seen_obsolete}"
            )
    return None


def _zap_running(cfg: Config, s: State) -> bool:
    return any(in_fast_zap(s.threads[t]) for t in cfg.zapper_tids)


def no_obsolete_outside_zap(cfg: Config, s: State) -> str | None:
    """F4: outside a fast zap no page of an older generation is on active_mmu_pages."""
    if _zap_running(cfg, s):
        return None
    for pid in s.vm.active:
        sp = s.pages[pid]
        if _stale_gen(sp, s.vm.mmu_valid_gen):
            return (
                f"expected no obsolete page on active_mmu_pages outside a fast zap, "
                f"found sp#{pid} (gen {sp.gen}, kvm gen {s.vm.mmu_valid_gen})"
            )
    return None


def pinned_never_freed(cfg: Config, s: State) -> str | None:
    """F5: a page with root_count > 0 is never freed; an invalid page off the list is
    pinned or waits on an invalid_list."""
    if s.vm.hazard & HAZARD_FREED_PINNED:
        return "expected no page with root_count > 0 to be freed, found one freed by commit"
    for pid, sp in enumerate(s.pages):
        if sp.freed or sp.tdp or not sp.invalid or pid in s.vm.active:
            continue
        if sp.root_count == 0 and sp.link != LINK_INVALID_LIST:
            return (
                f"expected invalid sp#{pid} off the list to be pinned or on an "
                f"invalid_list, found root_count 0 and on no list"
            )
    return None


def lookup_returns_valid(cfg: Config, s: State) -> str | None:
    """F6: lookup never returns an obsolete page; new pages carry the VM's generation."""
    if s.vm.hazard & HAZARD_LOOKUP_OBSOLETE:
        return "expected lookup to skip obsolete pages, found it returned one"
    if s.vm.hazard & HAZARD_CREATED_OLD_GEN:
        return "expected new pages to take kvm->arch.mmu_valid_gen, found one that did not"
    return None


def no_entry_with_request(cfg: Config, s: State) -> str | None:
    """F7a: no vCPU is in IN_GUEST_MODE while a free-obsolete-roots request is pending
    (a request made while it runs moves it to EXITING_GUEST_MODE)."""
    for t in cfg.vcpu_tids:
        v = s.threads[t]
        if v[V_MODE] == 1 and v[V_REQ] & REQ_FREE_OBSOLETE_ROOTS:
            return (
                f"expected {_vcpu_name(cfg, t)} not in IN_GUEST_MODE with "
                "KVM_REQ_MMU_FREE_OBSOLETE_ROOTS pending, found it there"
            )
    return None


def no_guest_on_obsolete_root_after_request(cfg: Config, s: State) -> str | None:
    """F7b: once the zapper's request step has completed, no vCPU is in guest mode on an
    obsolete root."""
    for z in cfg.zapper_tids:
        zz = s.threads[z]
        if not zz[Z_REQUESTED] or zz[Z_EPOCH] != s.vm.epoch:
            continue
        for t in cfg.vcpu_tids:
            v = s.threads[t]
            root = v[V_ROOT]
            if v[V_MODE] != MODE_OUTSIDE and root != NO_PAGE:
                sp = s.pages[root]
                if sp.freed or is_obsolete(sp, s.vm.mmu_valid_gen):
                    return (
                        f"expected no vCPU in guest mode on an obsolete root after the "
                        f"request step, found {_vcpu_name(cfg, t)} on sp#{root}"
                    )
    return None


def guest_pages_not_zapped(cfg: Config, s: State) -> str | None:
    """F7c: no page a vCPU in guest mode may reference (its root and the pages below it)
    has been freed, and its root is not zapped unless the vCPU is being kicked out."""
    for t in cfg.vcpu_tids:
        v = s.threads[t]
        if v[V_MODE] == MODE_OUTSIDE or v[V_ROOT] == NO_PAGE:
            continue
        root = v[V_ROOT]
        sp = s.pages[root]
        kicked = v[V_REQ] & REQ_FREE_OBSOLETE_ROOTS
        zapped = sp.freed or (sp.invalid and not (sp.tdp and sp.scheduled))
        if zapped and not kicked:
            return (
                f"expected the root of {_vcpu_name(cfg, t)} (in guest mode) to be "
                f"neither zapped nor freed, found sp#{root} "
                f"{'freed' if sp.freed else 'zapped'}"
            )
        stack = [c for c in sp.spt if c >= 0]
        while stack:
            pid = stack.pop()
            child = s.pages[pid]
            if child.freed:
                return (
                    f"expected pages below the root of {_vcpu_name(cfg, t)} (in guest "
                    f"mode) to be live, found sp#{pid} freed"
                )
            stack.extend(c for c in child.spt if c >= 0)
    return None


def zap_done_on_return(cfg: Config, s: State) -> str | None:
    """F10: when kvm_mmu_zap_all_fast() returns, no obsolete shadow page is on the list and
    every TDP MMU root older than the switch has been invalidated and zapped."""
    for z in cfg.zapper_tids:
        zz = s.threads[z]
        if zz[Z_PC] != DONE or zz[Z_EPOCH] != s.vm.epoch or _zap_running(cfg, s):
            continue
        for pid in s.vm.active:
            sp = s.pages[pid]
            if not sp.freed and is_obsolete(sp, s.vm.mmu_valid_gen):
                return (
                    f"expected no obsolete page on active_mmu_pages after "
                    f"kvm_mmu_zap_all_fast() returned, found sp#{pid}"
                )
        for pid in s.vm.tdp_roots:
            sp = s.pages[pid]
            if sp.epoch < zz[Z_EPOCH] and not (
                sp.invalid and not sp.scheduled and all(c < 0 for c in sp.spt)
            ):
                return (
                    f"expected TDP root sp#{pid} (older than the switch) invalidated and "
                    f"zapped after kvm_mmu_zap_all_fast() returned, found it "
                    f"{'still valid' if not sp.invalid else 'not zapped'}"
                )
    return None


def stale_generation_unused(cfg: Config, s: State) -> str | None:
    """Safety: no shadow page created before the latest generation switch is treated as
    valid, and lookup never returned one (the hazard slots_lock prevents)."""
    if s.vm.hazard & HAZARD_LOOKUP_STALE:
        return (
            "expected lookup never to return a page created before the latest "
            "generation switch, found it did"
        )
    for pid, sp in enumerate(s.pages):
        if sp.freed or sp.tdp or sp.epoch >= s.vm.epoch:
            continue
        if not is_obsolete(sp, s.vm.mmu_valid_gen):
            return (
                f"expected sp#{pid}, created before the latest generation switch, to be "
                f"obsolete, found it valid (gen {sp.gen} == kvm gen {s.vm.mmu_valid_gen})"
            )
    return None


def at_most_one_obsolete_generation(cfg: Config, s: State) -> str | None:
    """Active pages belong to the current generation or the one switch before it."""
    for pid in s.vm.active:
        sp = s.pages[pid]
        if not sp.freed and sp.epoch < s.vm.epoch - 1:
            return (
                f"expected pages on active_mmu_pages from at most one earlier generation, "
                f"found sp#{pid} from {s.vm.epoch - sp.epoch} switches ago"
            )
    return None


def n_used_matches_pages(cfg: Config, s: State) -> str | None:
    """n_used_mmu_pages equals the shadow pages allocated and not yet zapped for freeing."""
    count = sum(1 for sp in s.pages if not sp.freed and not sp.tdp and sp.link != LINK_INVALID_LIST)
    if count != s.vm.n_used_mmu_pages:
        return f"expected n_used_mmu_pages == {count} live pages, found {s.vm.n_used_mmu_pages}"
    return None


def parent_ptes_live(cfg: Config, s: State) -> str | None:
    """Every parent_ptes entry points from a live page whose SPTE points back."""
    for pid, sp in enumerate(s.pages):
        if sp.freed:
            continue
        for parent, index in sp.parents:
            p = s.pages[parent]
            if p.freed:
                return (
                    f"expected parent_ptes of sp#{pid} to name live pages, found freed sp#{parent}"
                )
            if p.spt[index] != pid:
                return (
                    f"expected sp#{parent}.spt[{index}] to point at sp#{pid} (it is in "
                    f"its parent_ptes), found {p.spt[index]}"
                )
    return None


def no_use_after_free(cfg: Config, s: State) -> str | None:
    """No list or pointer operation ever touches a freed page."""
    if s.vm.hazard & HAZARD_USE_AFTER_FREE:
        return "expected no use of a freed kvm_mmu_page, found one (see the last step)"
    return None


def no_poisoned_list_walk(cfg: Config, s: State) -> str | None:
    """No list walk or list_del follows a pointer that list_del poisoned (LIST_POISON: a
    general protection fault in the host, a kernel oops)."""
    if s.vm.hazard & HAZARD_POISONED_POINTER:
        return (
            "expected no list operation to follow a pointer list_del had poisoned, found "
            "one (a general protection fault in the host; see the last step)"
        )
    return None


def switch_writes_no_page(cfg: Config, s: State) -> str | None:
    """The generation switch writes no page."""
    if s.vm.hazard & HAZARD_SWITCH_WROTE_PAGE:
        return "expected the generation switch to write no page, found it wrote pages"
    return None


def never_enters_on_obsolete_root(cfg: Config, s: State) -> str | None:
    """(Refuted by the kernel) no vCPU ever enters the guest on an obsolete root."""
    if s.vm.hazard & HAZARD_ENTERED_OBSOLETE:
        return "expected no vCPU to enter the guest on an obsolete root, found one did"
    return None


def vcpus_never_blocked(cfg: Config, s: State) -> str | None:
    """(Refuted by the kernel) a fast zap never makes a vCPU wait for mmu_lock."""
    for z in cfg.zapper_tids:
        if s.vm.mmu_writer == z and in_fast_zap(s.threads[z]):
            for t, _write in s.vm.mmu_queue:
                if t in cfg.vcpu_tids:
                    return (
                        f"expected no vCPU to wait for mmu_lock during the fast zap, found "
                        f"{_vcpu_name(cfg, t)} waiting while the zapper holds it"
                    )
    return None


def no_vcpu_runs_during_zap(cfg: Config, s: State) -> str | None:
    """(Its violation is a witness) no vCPU is in the guest on a current-generation root
    while kvm_zap_obsolete_pages() still has obsolete pages to zap."""
    for z in cfg.zapper_tids:
        zz = s.threads[z]
        if not (zz[Z_REQUESTED] and in_fast_zap(zz)):
            continue
        if not any(
            not s.pages[p].freed and _stale_gen(s.pages[p], s.vm.mmu_valid_gen) for p in s.vm.active
        ):
            continue
        for t in cfg.vcpu_tids:
            v = s.threads[t]
            root = v[V_ROOT]
            if v[V_MODE] == 1 and root != NO_PAGE:
                sp = s.pages[root]
                if not sp.freed and not is_obsolete(sp, s.vm.mmu_valid_gen):
                    return (
                        f"{_vcpu_name(cfg, t)} runs on current root sp#{root} while the "
                        f"zap still has obsolete pages to zap"
                    )
    return None


_PAGES_ONLY = frozenset(
    {
        "generation_0_or_1",
        "no_invalid_on_active",
        "fifo_partition",
        "pinned_never_freed",
        "lookup_returns_valid",
        "stale_generation_unused",
        "at_most_one_obsolete_generation",
        "n_used_matches_pages",
        "parent_ptes_live",
        "no_use_after_free",
        "no_poisoned_list_walk",
        "switch_writes_no_page",
        "never_enters_on_obsolete_root",
    }
)


def _inv(check: Check) -> Invariant:
    doc = (check.__doc__ or "").strip()
    name = check.__name__
    return Invariant(name, " ".join(doc.split()), check, name in _PAGES_ONLY)


#: Checked in every state of every exploration unless excluded.
BUILTIN: dict[str, Invariant] = {
    i.name: i
    for i in map(
        _inv,
        (
            generation_0_or_1,
            no_invalid_on_active,
            fifo_partition,
            no_obsolete_outside_zap,
            pinned_never_freed,
            lookup_returns_valid,
            no_entry_with_request,
            no_guest_on_obsolete_root_after_request,
            guest_pages_not_zapped,
            zap_done_on_return,
            stale_generation_unused,
            at_most_one_obsolete_generation,
            n_used_matches_pages,
            parent_ptes_live,
            no_use_after_free,
            no_poisoned_list_walk,
            switch_writes_no_page,
        ),
    )
}

#: Statements from mmu.rst's history that the kernel model refutes; only checked on request.
REFUTABLE: dict[str, Invariant] = {
    i.name: i
    for i in map(
        _inv, (never_enters_on_obsolete_root, vcpus_never_blocked, no_vcpu_runs_during_zap)
    )
}

# Shadow-page fields in full (unsync, parent_ptes, write flooding, direct pages, root
# counts): explorer/shadow_invariants.py; vacuous where a scenario does not track them.
for _check, _pages_only in SHADOW_INVARIANTS:
    BUILTIN[_check.__name__] = Invariant(
        _check.__name__, " ".join((_check.__doc__ or "").split()), _check, _pages_only
    )
for _check, _pages_only in SHADOW_REFUTABLE:
    REFUTABLE[_check.__name__] = Invariant(
        _check.__name__, " ".join((_check.__doc__ or "").split()), _check, _pages_only
    )
