"""Nested paging under the page budget: the ``page_reclaim`` scenario (FACTS H).

L0 runs on EPT/NPT (``tdp_enabled``) and one VM's vCPUs run an L1 guest that uses nested
paging, so KVM shadows L1's tables with ``role.guest_mode`` pages. The guest's actions are
free choices within the bounds: load a nested root of any allowed level at any gfn
(``kvm_mmu_new_pgd``), drop the root, or take a nested fault that walks any path of gfns.
KVM does the rest: ``kvm_mmu_load`` and the fault paths call ``make_mmu_pages_available``,
which may reclaim the oldest pages, recursively zapping parentless nested pages.
A PGD switch keeps ``Config.prev_roots`` cached roots pinned (``kvm_mmu_new_pgd()``), and
``kvm_mmu_free_obsolete_roots()`` checks them all. ``fast_zap_nested`` adds a memslot
deletion (zap.py) to the same guest, so that ``kvm_zap_obsolete_pages()`` meets the recursive
zap of parentless nested pages. Simplifications: root levels are scaled down (2 and 3 stand
for 4 and 5), one SPTE per gfn, no write-protection, unsync or leaf SPTEs.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping
from typing import Any

from specmodel.kernel import BATCH_ZAP_PAGES
from specmodel.kernel.config import Config
from specmodel.kernel.locks import mmu_unlock
from specmodel.kernel.mmu import (
    MODE_IN_GUEST,
    MODE_OUTSIDE,
    REQ_FREE_OBSOLETE_ROOTS,
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
from specmodel.kernel.mutants import Switches
from specmodel.kernel.program import Locals, Program, Successor, lock_mmu, run
from specmodel.kernel.scenario import Param, ParamValue, Scenario
from specmodel.kernel.state import (
    NO_PAGE,
    ROLE_INVALID,
    Pages,
    State,
    Work,
    empty_vm,
    role_word,
)
from specmodel.kernel.zap import ZAPPER_INITIAL, zapper_step

# vCPU locals: (pc, mode, requests, root, prepared, wait, steps left, eptp, arg, prev_roots)
V_STEPS, V_EPTP, V_ARG, V_PREV = 6, 7, 8, 9  # the rest of the layout is shared (mmu.py)
(
    CHECK,
    FREE_LOCK,
    FREE,
    LOAD_LOCK,
    LOAD,
    ENTER,
    GUEST,
    PGD_LOCK,
    PGD,
    FAULT_LOCK,
    RECLAIM,
    STALE,
    MAP,
    DONE,
) = range(14)
NO_EPTP = -1


def _eptp(level: int, gfn: int) -> int:
    return level * 64 + gfn


def nested_role(level: int) -> int:
    """Role of a shadow-EPT page for L2 (``kvm_calc_shadow_ept_root_page_role``)."""
    return role_word(level, direct=False, guest_mode=True, ept=True)


_LOCALS = Locals("pc", "mode", "req", "root", "prepared", "wait", "steps", "eptp", "arg", "prev")
_set = _LOCALS.set
_goto = _LOCALS.goto


class _Guest:
    """The free choices of the L1 guest, fixed by the scenario's bounds."""

    def __init__(self, gfns: int, levels: tuple[int, ...]) -> None:
        self.gfns = gfns
        self.levels = levels
        self.paths = {lvl: tuple(itertools.product(range(gfns), repeat=lvl - 1)) for lvl in levels}


def _encode_path(path: tuple[int, ...]) -> int:
    code = 0
    for g in path:
        code = code * 16 + g + 1
    return code


def _decode_path(code: int) -> tuple[int, ...]:
    out = []
    while code:
        out.append(code % 16 - 1)
        code //= 16
    return tuple(reversed(out))


def reclaim_vcpu_step(state: State, tid: int, cfg: Config) -> list[Successor]:
    v = state.threads[tid]
    pc = v[V_PC]
    guest: _Guest = _GUESTS[(cfg.spt_width, cfg.root_levels)]

    if pc == CHECK:
        if v[V_REQ] & REQ_FREE_OBSOLETE_ROOTS:
            return [
                run(
                    state,
                    tid,
                    "vcpu_enter_guest: KVM_REQ_MMU_FREE_OBSOLETE_ROOTS",
                    lambda w: _set(w, tid, pc=FREE_LOCK, req=0),
                )
            ]
        nxt = LOAD_LOCK if v[V_ROOT] == NO_PAGE and v[V_EPTP] != NO_EPTP else ENTER
        return [
            run(
                state,
                tid,
                "vcpu_enter_guest: kvm_mmu_reload",
                lambda w: _set(w, tid, pc=nxt, req=0),
            )
        ]

    if pc == FREE_LOCK:
        return lock_mmu(
            state,
            tid,
            True,
            lambda w: _set(w, tid, pc=FREE, wait=0, prepared=0),
            "kvm_mmu_free_obsolete_roots",
        )

    if pc == FREE:

        def free(w: Work) -> str:
            root, prev = w.threads[tid][V_ROOT], w.threads[tid][V_PREV]
            freed: list[str] = []
            invalid_list: list[int] = []

            def obsolete(pid: int) -> bool:
                return pid != NO_PAGE and is_obsolete(
                    w.page(pid, "is_obsolete_root"), w.vm.mmu_valid_gen
                )

            # kvm_mmu_free_obsolete_roots(): the current root and every previous root
            kept = []
            for pid in prev:
                if obsolete(pid):
                    freed.append(f"sp#{pid} (previous)")
                    mmu_free_root_page(w, cfg, pid, invalid_list)
                    pid = NO_PAGE
                kept.append(pid)
            if obsolete(root):
                freed.append(f"sp#{root}")
                mmu_free_root_page(w, cfg, root, invalid_list)
                root = NO_PAGE
            kvm_mmu_commit_zap_page(w, invalid_list)
            mmu_unlock(w, tid, True)
            _set(w, tid, pc=CHECK, root=root, prev=tuple(kept))
            return "mmu_free_root_page(" + ", ".join(freed) + ")" if freed else "no obsolete root"

        return [run(state, tid, "kvm_mmu_free_obsolete_roots", free)]

    if pc == LOAD_LOCK:
        return lock_mmu(
            state, tid, True, lambda w: _set(w, tid, pc=LOAD, wait=0, prepared=0), "kvm_mmu_load"
        )

    if pc == LOAD:

        def load(w: Work) -> str:
            eptp = w.threads[tid][V_EPTP]
            level, gfn = divmod(eptp, 64)
            if not make_mmu_pages_available(w, cfg):
                mmu_unlock(w, tid, True)
                _set(w, tid, pc=CHECK, steps=w.threads[tid][V_STEPS] - 1)
                return "make_mmu_pages_available: -ENOSPC"
            pid = kvm_mmu_get_shadow_page(w, cfg, gfn, nested_role(level))
            sp = w.page(pid, "mmu_alloc_root")
            w.set_page(pid, sp._replace(root_count=sp.root_count + 1))
            mmu_unlock(w, tid, True)
            _set(w, tid, pc=ENTER, root=pid)
            return f"root sp#{pid} (gfn {gfn}, level {level})"

        return [run(state, tid, "kvm_mmu_load: mmu_alloc_shadow_roots", load)]

    if pc == ENTER:

        def enter(w: Work) -> str:
            if w.threads[tid][V_REQ]:
                _set(w, tid, pc=CHECK, mode=MODE_OUTSIDE)
                return "request pending, entry cancelled"
            _set(w, tid, pc=GUEST, mode=MODE_IN_GUEST)
            return "enter L1"

        return [run(state, tid, "vcpu_enter_guest: vcpu->mode = IN_GUEST_MODE", enter)]

    if pc == GUEST:
        if v[V_STEPS] == 0:
            return [
                run(
                    state,
                    tid,
                    "L1 exits to userspace (no guest actions left)",
                    _goto(tid, pc=DONE, mode=MODE_OUTSIDE),
                )
            ]
        out = []
        steps = v[V_STEPS] - 1
        for level in guest.levels:
            for gfn in range(guest.gfns):
                out.append(
                    run(
                        state,
                        tid,
                        f"L1 loads nested root (level {level}, gfn {gfn})",
                        _goto(
                            tid, pc=PGD_LOCK, mode=MODE_OUTSIDE, arg=_eptp(level, gfn), steps=steps
                        ),
                    )
                )
        if v[V_ROOT] != NO_PAGE:
            out.append(
                run(
                    state,
                    tid,
                    "L1 drops the nested root",
                    lambda w: _set(
                        w, tid, pc=PGD_LOCK, mode=MODE_OUTSIDE, arg=NO_EPTP, steps=steps
                    ),
                )
            )
            level = state.pages[v[V_ROOT]].level
            for path in guest.paths.get(level, ()):
                out.append(
                    run(
                        state,
                        tid,
                        f"L2 nested page fault, L1 tables at gfns {list(path)}",
                        _goto(
                            tid,
                            pc=FAULT_LOCK,
                            mode=MODE_OUTSIDE,
                            arg=_encode_path(path),
                            steps=steps,
                        ),
                    )
                )
        return out

    if pc == PGD_LOCK:
        return lock_mmu(
            state, tid, True, lambda w: _set(w, tid, pc=PGD, wait=0, prepared=0), "kvm_mmu_new_pgd"
        )

    if pc == PGD:

        def new_pgd(w: Work) -> str:
            vv = w.threads[tid]
            text = _new_pgd(w, tid, cfg, vv[V_ARG])
            mmu_unlock(w, tid, True)
            return text

        return [run(state, tid, "kvm_mmu_new_pgd", new_pgd)]

    if pc == FAULT_LOCK:
        first = RECLAIM if cfg.switches.reclaim_before_stale_check else STALE
        return lock_mmu(
            state,
            tid,
            True,
            lambda w: _set(w, tid, pc=first, wait=0, prepared=0),
            "FNAME(page_fault)",
        )

    if pc == RECLAIM:

        def reclaim(w: Work) -> str:
            before = w.vm.n_used_mmu_pages
            ok = make_mmu_pages_available(w, cfg)
            if not ok:
                mmu_unlock(w, tid, True)
                _set(w, tid, pc=CHECK)
                return "-ENOSPC, fault fails"
            nxt = STALE if cfg.switches.reclaim_before_stale_check else MAP
            _set(w, tid, pc=nxt)
            zapped = before - w.vm.n_used_mmu_pages
            return f"reclaimed {zapped} page(s)" if zapped else "enough free pages"

        return [run(state, tid, "make_mmu_pages_available", reclaim)]

    if pc == STALE:

        def stale(w: Work) -> str:
            root = w.threads[tid][V_ROOT]
            if is_obsolete(w.page(root, "is_page_fault_stale"), w.vm.mmu_valid_gen):
                mmu_unlock(w, tid, True)
                _set(w, tid, pc=CHECK)
                return f"root sp#{root} is obsolete, retry the fault"
            nxt = MAP if cfg.switches.reclaim_before_stale_check else RECLAIM
            _set(w, tid, pc=nxt)
            return f"root sp#{root} is valid"

        return [run(state, tid, "is_page_fault_stale", stale)]

    if pc == MAP:
        return [run(state, tid, "FNAME(fetch)", lambda w: _fetch(w, tid, cfg))]

    return []


def _new_pgd(w: Work, tid: int, cfg: Config, eptp: int) -> str:
    """``kvm_mmu_new_pgd()`` -> ``fast_pgd_switch()`` (mmu.c ~v6.9) with
    ``Config.prev_roots`` cached roots (the kernel keeps KVM_MMU_NUM_PREV_ROOTS = 3).

    With a current root, ``cached_root_find_and_keep_current()`` rotates it into the cache
    (swapping it with each previous root in turn) until a usable one (same gfn, same role
    word: an invalid page never matches) is current; on a miss the root that fell off the
    end is freed with ``kvm_mmu_free_roots(KVM_MMU_ROOT_CURRENT)``. Without one,
    ``cached_root_find_without_current()`` takes a usable previous root and moves the rest
    up. L1 dropping its nested root (``eptp`` NO_EPTP) stands for a flush of every root
    (``kvm_mmu_free_roots(KVM_MMU_ROOTS_ALL)``, e.g. INVEPT of all contexts)."""
    vv = w.threads[tid]
    root, prev = vv[V_ROOT], list(vv[V_PREV])
    invalid_list: list[int] = []
    freed: list[int] = []
    if eptp == NO_EPTP:
        for pid in (*prev, root):
            if pid != NO_PAGE:
                freed.append(pid)
                mmu_free_root_page(w, cfg, pid, invalid_list)
        kvm_mmu_commit_zap_page(w, invalid_list)
        _set(w, tid, pc=CHECK, root=NO_PAGE, prev=(NO_PAGE,) * len(prev), eptp=NO_EPTP)
        names = ", ".join(f"sp#{p}" for p in freed)
        return f"kvm_mmu_free_roots(ALL): mmu_free_root_page({names})" if freed else "no root"
    level, gfn = divmod(eptp, 64)
    role = nested_role(level)

    def usable(pid: int) -> bool:
        if pid == NO_PAGE:
            return False
        sp = w.page(pid, "is_root_usable")
        return sp.gfn == gfn and sp.role == role

    text = "no cached root matches"
    if root != NO_PAGE:
        if usable(root):
            text = f"current root sp#{root} matches"
        else:
            found = False
            for i in range(len(prev)):
                root, prev[i] = prev[i], root
                if usable(root):
                    found = True
                    text = f"cached root sp#{root} becomes current"
                    break
            if not found:
                if root != NO_PAGE:
                    freed.append(root)
                    mmu_free_root_page(w, cfg, root, invalid_list)
                    kvm_mmu_commit_zap_page(w, invalid_list)
                    text = f"kvm_mmu_free_roots(CURRENT): mmu_free_root_page(sp#{root})"
                root = NO_PAGE
    else:
        for i, pid in enumerate(prev):
            if usable(pid):
                root = pid
                prev = [*prev[:i], *prev[i + 1 :], NO_PAGE]
                text = f"cached root sp#{root} becomes current"
                break
    _set(w, tid, pc=CHECK, root=root, prev=tuple(prev), eptp=eptp)
    return text


def child_role(cfg: Config, parent_role: int) -> int:
    """``kvm_mmu_child_role()`` (~v6.0 on): the parent's role one level down, ``invalid``
    included. Before (``child_inherits_invalid`` off), ``kvm_mmu_get_page()`` took the
    vCPU's MMU role and set the level, so the child is valid whatever its parent is."""
    if not cfg.switches.child_inherits_invalid:
        parent_role &= ~ROLE_INVALID
    return parent_role - 1


def _fetch(w: Work, tid: int, cfg: Config) -> str:
    """``FNAME(fetch)``: walk down from the root, finding or creating each level's page
    with ``kvm_mmu_child_role()`` (which copies ``role.invalid``); no root re-check."""
    vv = w.threads[tid]
    pid = vv[V_ROOT]
    made = []
    for gfn in _decode_path(vv[V_ARG]):
        sp = w.page(pid, "FNAME(fetch)")
        child = sp.spt[gfn]
        if child == NO_PAGE:
            child = kvm_mmu_get_shadow_page(w, cfg, gfn, child_role(cfg, sp.role))
            link_shadow_page(w, pid, gfn, child)
            c = w.pages[child]
            made.append(
                f"sp#{child} (gfn {gfn}, level {c.level}" + (", INVALID" if c.invalid else "") + ")"
            )
        pid = child
    mmu_unlock(w, tid, True)
    _set(w, tid, pc=CHECK)
    return "linked " + ", ".join(made) if made else "nothing new to map"


_GUESTS: dict[tuple[int, tuple[int, ...]], _Guest] = {}


def _build(
    p: Mapping[str, ParamValue], sw: Switches, *, zapper: bool = False
) -> tuple[Config, State, tuple[Program, ...], tuple[str, ...]]:
    fix = int(p["fix_7a2c70e777a0"])
    if fix != 2:  # 2 = as the kernel variant has it
        sw = dataclasses.replace(sw, preserve_nested_roots=bool(fix))
    vcpus, gfns = int(p["vcpus"]), int(p["gfns"])
    top = int(p["root_levels"]) + 1
    levels = tuple(range(2, top + 1))
    first = 1 if zapper else 0
    extra = {}
    if zapper:
        extra = {
            "zapper_tids": (0,),
            "batch": int(p["batch"]),
            "preemptible": bool(p["preemptible"]),
        }
    cfg = Config(
        switches=sw,
        tdp_enabled=True,
        vcpu_tids=tuple(range(first, first + vcpus)),
        n_max_mmu_pages=int(p["max_pages"]),
        min_free=int(p["min_free"]),
        refill=int(p["refill"]),
        spt_width=gfns,
        root_levels=levels,
        prev_roots=int(p["prev_roots"]),
        **extra,  # type: ignore[arg-type]
    )
    _GUESTS.setdefault((gfns, levels), _Guest(gfns, levels))
    vm = empty_vm()
    prev = (NO_PAGE,) * int(p["prev_roots"])
    vcpu: tuple[Any, ...] = (
        CHECK,
        MODE_OUTSIDE,
        0,
        NO_PAGE,
        0,
        0,
        int(p["steps"]),
        NO_EPTP,
        0,
        prev,
    )
    threads: tuple[tuple[Any, ...], ...] = tuple([vcpu] * vcpus)
    names = tuple(f"vcpu{i}" for i in range(vcpus))
    programs: tuple[Program, ...] = (reclaim_vcpu_step,) * vcpus
    if zapper:
        threads = (ZAPPER_INITIAL, *threads)
        names = ("zapper", *names)
        programs = (zapper_step, *programs)
    return cfg, State(vm, Pages(), threads), programs, names


_FIX_HELP = "companion fix: 1 on, 0 off, 2 as the kernel variant (off for pre_2abd5287f083)"

PAGE_RECLAIM = Scenario(
    "page_reclaim",
    "nested paging under the page budget: reclaim, recursive zaps, roots that are children",
    (
        Param("vcpus", 1, 1, 2, "vCPUs running L1"),
        Param("gfns", 2, 1, 3, "guest frames L1 may use for its nested page tables"),
        Param("root_levels", 2, 1, 2, "nested root levels offered (2 and 3 stand for 4 and 5)"),
        Param("steps", 5, 1, 8, "guest actions per vCPU"),
        Param("max_pages", 4, 1, 16, "n_max_mmu_pages"),
        Param("min_free", 1, 0, 8, "KVM_MIN_FREE_MMU_PAGES, scaled"),
        Param("refill", 2, 0, 16, "KVM_REFILL_PAGES, scaled"),
        Param("prev_roots", 0, 0, 3, "cached previous roots per vCPU (KVM_MMU_NUM_PREV_ROOTS)"),
        Param("fix_7a2c70e777a0", 2, 0, 2, _FIX_HELP),
    ),
    _build,
    redirects={
        "pages": "page_reclaim starts with no page and the guest builds them; bound them "
        "with max_pages (n_max_mmu_pages) or steps (guest actions)",
        "batch": "page_reclaim runs no fast zap, so BATCH_ZAP_PAGES plays no part; bound "
        "reclaim with refill (KVM_REFILL_PAGES), or run fast_zap_nested, which takes batch",
    },
)

FAST_ZAP_NESTED = Scenario(
    "fast_zap_nested",
    "a memslot deletion's fast zap while nested vCPUs build, switch and pin nested roots",
    (
        Param("vcpus", 1, 1, 2, "vCPUs running L1"),
        Param("batch", BATCH_ZAP_PAGES, 1, 64, "BATCH_ZAP_PAGES"),
        Param("preemptible", True, 0, 1, "CONFIG_PREEMPTION: a queued waiter forces a yield"),
        Param("gfns", 2, 1, 3, "guest frames L1 may use for its nested page tables"),
        Param("root_levels", 2, 1, 2, "nested root levels offered (2 and 3 stand for 4 and 5)"),
        Param("steps", 3, 1, 8, "guest actions per vCPU (the chain needs 5)"),
        Param("max_pages", 16, 1, 16, "n_max_mmu_pages (the default puts no pressure on it)"),
        Param("min_free", 1, 0, 8, "KVM_MIN_FREE_MMU_PAGES, scaled"),
        Param("refill", 2, 0, 16, "KVM_REFILL_PAGES, scaled"),
        Param("prev_roots", 1, 0, 3, "cached previous roots per vCPU (KVM_MMU_NUM_PREV_ROOTS)"),
        Param("fix_7a2c70e777a0", 2, 0, 2, _FIX_HELP),
    ),
    lambda p, sw: _build(p, sw, zapper=True),
    redirects={
        "pages": "fast_zap_nested starts with no page and the nested guest builds them; "
        "bound them with steps (guest actions) or max_pages (n_max_mmu_pages)",
    },
)
