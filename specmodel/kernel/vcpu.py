"""A vCPU's run loop for the fast-zap scenarios (arch/x86/kvm/x86.c ``vcpu_enter_guest()``,
arch/x86/kvm/mmu/mmu.c).

Steps: handle requests (``kvm_mmu_free_obsolete_roots()``), ``kvm_mmu_reload()`` /
``kvm_mmu_load()``, the last request check with ``vcpu->mode = IN_GUEST_MODE`` (guest entry
takes no ``mmu_lock``), running the guest, and a page fault with the staleness re-check
under ``mmu_lock`` (``is_page_fault_stale()``). Each vCPU enters the guest at most
``entries`` times, which keeps the state space finite. Each critical section under
``mmu_lock`` runs in the step that takes the lock (``Config.atomic_sections``; see
``_section``).
"""

from __future__ import annotations

from collections.abc import Callable

from specmodel.kernel.config import Config
from specmodel.kernel.locks import mmu_unlock
from specmodel.kernel.mmu import (
    MODE_EXITING,
    MODE_IN_GUEST,
    MODE_OUTSIDE,
    REQ_FREE_OBSOLETE_ROOTS,
    V_MODE,
    V_PC,
    V_REQ,
    V_ROOT,
    is_obsolete,
    kvm_mmu_commit_zap_page,
    kvm_mmu_get_shadow_page,
    link_shadow_page,
    make_mmu_pages_available,
    mmu_free_root_page,
)
from specmodel.kernel.program import Locals, Successor, lock_mmu, run
from specmodel.kernel.state import (
    HAZARD_ENTERED_OBSOLETE,
    LINK_NONE,
    LINK_TDP_ROOTS,
    NO_PAGE,
    Page,
    State,
    Work,
    role_word,
)

# vCPU locals: (pc, mode, requests, root, prepared, wait, budget, arg, prev_roots)
V_BUDGET, V_ARG, V_PREV = 6, 7, 8  # the rest of the layout is shared (mmu.py)
CHECK, FREE_LOCK, LOAD_LOCK, ENTER, GUEST, FAULT_LOCK, DONE = range(7)
#: pc flag: mmu_lock was taken by a step of its own (``Config.atomic_sections`` False) and
#: the critical section at this pc runs next.
HELD = 0x40

#: gfn of the guest page table the shadow root shadows (CR3) in the fast-zap scenarios.
ROOT_GFN = 0
ROOT_LEVEL = 4

MODE_NAMES = ("OUTSIDE_GUEST_MODE", "IN_GUEST_MODE", "EXITING_GUEST_MODE")


def vcpu_initial(root: int, entries: int, prev: tuple[int, ...] = ()) -> tuple[object, ...]:
    return (CHECK, MODE_OUTSIDE, 0, root, 0, 0, entries, 0, prev)


def root_role(cfg: Config) -> int:
    return role_word(ROOT_LEVEL, direct=cfg.tdp_mmu)


def child_role(parent_role: int) -> int:
    """``kvm_mmu_child_role()``: the parent's role one level down (``invalid`` included)."""
    return parent_role - 1


_LOCALS = Locals("pc", "mode", "req", "root", "prepared", "wait", "budget", "arg", "prev")
_set = _LOCALS.set
_goto = _LOCALS.goto


def vcpu_step(state: State, tid: int, cfg: Config) -> list[Successor]:
    v = state.threads[tid]
    pc = v[V_PC] & ~HELD
    write = not cfg.tdp_mmu  # shadow MMU paths take mmu_lock for write, TDP MMU for read

    if pc == CHECK:
        req, root = v[V_REQ], v[V_ROOT]
        if v[V_BUDGET] == 0:
            return [
                run(state, tid, "vcpu_run: return to userspace", lambda w: _set(w, tid, pc=DONE))
            ]
        if req & REQ_FREE_OBSOLETE_ROOTS:
            return [
                run(
                    state,
                    tid,
                    "vcpu_enter_guest: KVM_REQ_MMU_FREE_OBSOLETE_ROOTS",
                    lambda w: _set(w, tid, pc=FREE_LOCK, req=0),
                )
            ]
        nxt = LOAD_LOCK if root == NO_PAGE else ENTER
        label = "vcpu_enter_guest: " + ("KVM_REQ_TLB_FLUSH" if req else "no request")
        if nxt == ENTER and cfg.atomic_sections:
            # The request check and the entry as one step: a request that would arrive
            # between them cancels the entry (back to CHECK, nothing else changed), which
            # is the same as arriving before the check. The C.9 window, between the check
            # and the request made after the toggle, stays open.

            def check_and_enter(w: Work) -> str:
                _set(w, tid, req=0)
                return _enter(w, tid)

            return [run(state, tid, f"{label}; vcpu->mode = IN_GUEST_MODE", check_and_enter)]
        return [run(state, tid, label, lambda w: _set(w, tid, pc=nxt, req=0))]

    if pc == FREE_LOCK:

        def free_obsolete(w: Work) -> str:
            # kvm_mmu_free_obsolete_roots(): the previous roots, then the current one
            root, prev = w.threads[tid][V_ROOT], w.threads[tid][V_PREV]
            invalid_list: list[int] = []
            dropped: list[str] = []
            kept: list[int] = []
            for pid in prev:
                if pid != NO_PAGE and is_obsolete(
                    w.page(pid, "is_obsolete_root"), w.vm.mmu_valid_gen
                ):
                    mmu_free_root_page(w, cfg, pid, invalid_list)
                    dropped.append(f"sp#{pid} (previous)")
                    pid = NO_PAGE
                kept.append(pid)
            if root != NO_PAGE and is_obsolete(
                w.page(root, "is_obsolete_root"), w.vm.mmu_valid_gen
            ):
                mmu_free_root_page(w, cfg, root, invalid_list)
                dropped.append(f"sp#{root}")
                root = NO_PAGE
            kvm_mmu_commit_zap_page(w, invalid_list)
            text = "dropped obsolete root " + ", ".join(dropped) if dropped else "root still valid"
            mmu_unlock(w, tid, write)
            _set(
                w,
                tid,
                pc=LOAD_LOCK if root == NO_PAGE else ENTER,
                root=root,
                prev=tuple(kept),
                wait=0,
                prepared=0,
            )
            return text

        return _section(state, tid, cfg, free_obsolete, "kvm_mmu_free_obsolete_roots")

    if pc == LOAD_LOCK:

        def load(w: Work) -> str:
            if cfg.tdp_mmu:
                pid = kvm_tdp_mmu_get_vcpu_root(w, cfg)
            else:
                make_mmu_pages_available(w, cfg)
                pid = kvm_mmu_get_shadow_page(w, cfg, ROOT_GFN, root_role(cfg))
                sp = w.page(pid, "mmu_alloc_root")
                w.set_page(pid, sp._replace(root_count=sp.root_count + 1))
            mmu_unlock(w, tid, write)
            _set(w, tid, pc=ENTER, root=pid, wait=0, prepared=0)
            return f"root sp#{pid} (gen {w.pages[pid].gen})"

        name = "kvm_tdp_mmu_alloc_root" if cfg.tdp_mmu else "mmu_alloc_root"
        return _section(state, tid, cfg, load, f"kvm_mmu_load: {name}")

    if pc == ENTER:
        return [
            run(
                state,
                tid,
                "vcpu_enter_guest: vcpu->mode = IN_GUEST_MODE",
                lambda w: _enter(w, tid),
            )
        ]

    if pc == GUEST:
        out = []
        if v[V_MODE] == MODE_EXITING:
            out.append(
                run(
                    state,
                    tid,
                    "VM-exit (kicked by IPI)",
                    lambda w: _set(w, tid, pc=CHECK, mode=MODE_OUTSIDE),
                )
            )
        for gfn in range(1, cfg.fault_gfns + 1):
            out.append(
                run(
                    state,
                    tid,
                    f"VM-exit: page fault on gfn {gfn}",
                    _goto(tid, pc=FAULT_LOCK, mode=MODE_OUTSIDE, arg=gfn),
                )
            )
        return out

    if pc == FAULT_LOCK:
        return _section(state, tid, cfg, lambda w: _fault(w, tid, cfg, write), "kvm_mmu_page_fault")

    return []


def _enter(w: Work, tid: int) -> str:
    """``vcpu->mode = IN_GUEST_MODE``, then the last ``kvm_request_pending()`` check: a
    pending request cancels the entry; otherwise the vCPU runs on its root."""
    vv = w.threads[tid]
    if vv[V_REQ]:
        _set(w, tid, pc=CHECK, mode=MODE_OUTSIDE)
        return "request pending, entry cancelled"
    root = w.page(vv[V_ROOT], "vmenter")
    obsolete = is_obsolete(root, w.vm.mmu_valid_gen)
    if obsolete:
        w.hazard(HAZARD_ENTERED_OBSOLETE)
    _set(w, tid, pc=GUEST, mode=MODE_IN_GUEST, budget=vv[V_BUDGET] - 1)
    return f"enter guest on root sp#{vv[V_ROOT]}" + (" (obsolete)" if obsolete else "")


def _section(
    state: State, tid: int, cfg: Config, body: Callable[[Work], str], what: str
) -> list[Successor]:
    """A critical section under ``mmu_lock`` (write for the shadow MMU, read for the TDP
    MMU): ``body`` does the work and releases the lock. With ``cfg.atomic_sections`` the
    section runs in the step that takes the lock; otherwise taking the lock is a step of
    its own and the section follows."""
    write = not cfg.tdp_mmu
    pc = state.threads[tid][V_PC]
    if pc & HELD:
        kind = "write" if write else "read"
        return [run(state, tid, what, lambda w: f"{body(w)}; {kind}_unlock(&kvm->mmu_lock)")]
    if cfg.atomic_sections:
        return lock_mmu(state, tid, write, body, what, section=True)
    return lock_mmu(state, tid, write, lambda w: _set(w, tid, pc=pc | HELD), what)


def _fault(w: Work, tid: int, cfg: Config, write: bool) -> str:
    """``direct_page_fault()`` / ``FNAME(page_fault)``: reclaim, staleness check, map."""
    vv = w.threads[tid]
    root, gfn = vv[V_ROOT], vv[V_ARG]
    if cfg.switches.reclaim_before_stale_check and not cfg.tdp_mmu:
        make_mmu_pages_available(w, cfg)
    sp = w.page(root, "is_page_fault_stale")
    if is_obsolete(sp, w.vm.mmu_valid_gen):
        mmu_unlock(w, tid, write)
        _set(w, tid, pc=CHECK, wait=0, prepared=0)
        return f"is_page_fault_stale: root sp#{root} obsolete, retry"
    if not cfg.switches.reclaim_before_stale_check and not cfg.tdp_mmu:
        make_mmu_pages_available(w, cfg)
    sp = w.page(root, "direct_map")
    child = sp.spt[gfn]
    text = f"gfn {gfn} already mapped by sp#{child}"
    if child == NO_PAGE:
        if cfg.tdp_mmu:
            child = w.new_page(
                Page(
                    gfn=gfn,
                    role=child_role(sp.role),
                    gen=0,
                    root_count=0,
                    parents=((root, gfn),),
                    spt=(NO_PAGE,) * cfg.spt_width,
                    tdp=True,
                    scheduled=False,
                    link=LINK_NONE,
                    freed=False,
                    epoch=w.vm.epoch,
                )
            )
            spt = list(sp.spt)
            spt[gfn] = child
            w.set_page(root, sp._replace(spt=tuple(spt)))
        else:
            child = kvm_mmu_get_shadow_page(w, cfg, gfn, child_role(sp.role))
            link_shadow_page(w, root, gfn, child)
        text = f"map gfn {gfn} with sp#{child} under root sp#{root}"
    mmu_unlock(w, tid, write)
    _set(w, tid, pc=CHECK, wait=0, prepared=0)
    return text


def kvm_tdp_mmu_get_vcpu_root(w: Work, cfg: Config) -> int:
    """``kvm_tdp_mmu_alloc_root()``: reuse a valid root with an equal role, else create one
    with a reference for the vCPU and one for the TDP MMU itself."""
    role = root_role(cfg)
    for pid in w.vm.tdp_roots:
        sp = w.page(pid, "kvm_tdp_mmu_alloc_root")
        if sp.role == role and not sp.invalid:
            w.set_page(pid, sp._replace(root_count=sp.root_count + 1))
            return pid
    pid = w.new_page(
        Page(
            gfn=0,
            role=role,
            gen=0,
            root_count=2,
            parents=(),
            spt=(NO_PAGE,) * cfg.spt_width,
            tdp=True,
            scheduled=False,
            link=LINK_TDP_ROOTS,
            freed=False,
            epoch=w.vm.epoch,
        )
    )
    w.vm = w.vm._replace(tdp_roots=(pid, *w.vm.tdp_roots))
    return pid
