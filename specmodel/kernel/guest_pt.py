"""A shadow-paging guest that writes its own page tables and flushes: ``guest_pt_writes``.

KVM shadows a two-level guest page table (guest_memory.py): the top-level table (gfn 0,
the vCPUs' CR3) with a level-2 shadow page as every vCPU's root, a leaf table (gfn 1) with
level-1 pages, and guest large pages with direct level-1 pages. Each vCPU runs the guest for
``steps`` actions, each a free choice:

- touch an address whose SPTE is not present: ``FNAME(page_fault)`` walks the guest tables
  and ``FNAME(fetch)`` builds the shadow path (lookup, ``link_shadow_page``, the leaf SPTE,
  ``direct_pte_prefetch`` on direct pages), clearing ``write_flooding_count`` on the way;
- write a gpte (each entry steps through a fixed cycle of values): if the table's gfn is
  write-protected the write faults and ``mmu_try_to_unsync_pages()`` either unsyncs the leaf
  pages (the write then goes through) or refuses, and the instruction is emulated: the write
  lands in guest memory, then ``kvm_mmu_track_write()`` (write flooding, zapping SPTEs);
  otherwise the write goes straight to memory;
- INVLPG an address it wrote since its last flush (``kvm_mmu_invalidate_addr``);
- flush its TLB or reload CR3 with the same value (``kvm_mmu_sync_roots``).

A zapped root makes every vCPU drop it (``KVM_REQ_MMU_FREE_OBSOLETE_ROOTS``,
``kvm_mmu_free_roots``) and load a new one (``mmu_alloc_root``). Every KVM step runs with
``mmu_lock`` held for write, as the shadow MMU takes it. Ghost state: per vCPU the addresses
whose translation changed since its last flush of them (the TLB semantics the guest relies
on: after INVLPG or a flush, the vCPU sees its page tables as they are).

Simplifications (each documented in docs/shadow_pages.rst): page-table writes fault through
a mapping the model does not shadow, so they clear no flood counter (in a real 4-level guest
that holds for the upper-level tables below the root; here the level-2 page is also the
root); a write that unsyncs its pages lands in the same step as the unsync; no previous-root
cache (a CR3 reload to the same value is a flush); syncs never fail or yield; aligned 8-byte
writes only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from specmodel.kernel.config import Config
from specmodel.kernel.direct import direct_pte_prefetch
from specmodel.kernel.flooding import kvm_mmu_track_write
from specmodel.kernel.guest_memory import (
    GPTE_LARGE,
    GPTE_TABLE,
    LEAF_GFN,
    TABLE_GFNS,
    TOP_GFN,
    gpte_frame,
    gpte_index,
    read_gpte,
    translate,
    translations,
)
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
)
from specmodel.kernel.mutants import Switches
from specmodel.kernel.program import Locals, Program, Successor, lock_mmu, run
from specmodel.kernel.roots import is_obsolete_root, kvm_mmu_free_roots, mmu_alloc_root
from specmodel.kernel.scenario import Param, ParamValue, Scenario
from specmodel.kernel.shadow import (
    clear_sp_write_flooding_count,
    kvm_mmu_get_shadow_page,
    link_shadow_page,
)
from specmodel.kernel.spte import leaf_spte, spte_frame
from specmodel.kernel.state import (
    NO_PAGE,
    ROLE_DIRECT,
    Page,
    Pages,
    State,
    Work,
    empty_vm,
    role_word,
)
from specmodel.kernel.unsync import (
    EPERM,
    gfn_write_protected,
    is_unsync_root,
    kvm_mmu_invalidate_addr,
    mmu_sync_children,
    mmu_try_to_unsync_pages,
)

#: Level of the root (the top-level table's shadow page).
TOP_LEVEL = 2
# vCPU locals: (pc, mode, requests, root, steps left, wait, pending, arg, in flight)
V_STEPS, V_PENDING, V_ARG, V_INFLIGHT = 4, 6, 7, 8  # the rest is shared (mmu.py)
(CHECK, GUEST, FAULT, WFAULT, EMULATE, TRACK, INVLPG, FLUSH, DONE) = range(9)

_LOCALS = Locals("pc", "mode", "req", "root", "steps", "wait", "pending", "arg", "inflight")
_set = _LOCALS.set
_goto = _LOCALS.goto


def top_role() -> int:
    """Role of the root: an indirect level-2 page (``mmu_alloc_shadow_roots``)."""
    return role_word(TOP_LEVEL, direct=False)


def child_role(parent_role: int, *, direct: bool) -> int:
    """``kvm_mmu_child_role()``: one level down, ``direct`` as the gpte asks."""
    role = parent_role - 1
    return role | ROLE_DIRECT if direct else role & ~ROLE_DIRECT


def large_base(j: int, width: int) -> int:
    """First frame of the guest large page top-level entry ``j`` may map."""
    return 32 + 8 * j


def gpte_cycle(gfn: int, index: int, width: int) -> tuple[int, ...]:
    """The values gpte ``index`` of table ``gfn`` takes, in order (the guest's writes)."""
    if gfn == TOP_GFN:
        return (
            GPTE_TABLE | LEAF_GFN,
            GPTE_TABLE | TOP_GFN,  # recursive: the top table also serves as a leaf table
            GPTE_LARGE | large_base(index, width),
            0,
        )
    return (16 + 2 * index, 17 + 2 * index, 0)


def initial_memory(width: int) -> tuple[int, ...]:
    memory = [0] * (len(TABLE_GFNS) * width)
    for j in range(width):
        # entry 0 points at the leaf table; the others map large pages
        value = GPTE_TABLE | LEAF_GFN if j == 0 else GPTE_LARGE | large_base(j, width)
        memory[gpte_index(TOP_GFN, j, width)] = value
    memory[gpte_index(LEAF_GFN, 0, width)] = gpte_cycle(LEAF_GFN, 0, width)[0]
    return tuple(memory)


def shadow_translate(pages: Sequence[Page], root: int, j: int, i: int) -> int | None:
    """The frame the hardware walk of the shadow tables from ``root`` gives for (j, i)."""
    child = pages[root].spt[j]
    if child < 0:
        return None
    return spte_frame(pages[child].spt[i])


def _write_gpte(w: Work, cfg: Config, slot: int) -> tuple[str, int]:
    """The guest's write of gpte ``slot`` lands in memory: every vCPU now owes a flush for
    each address whose translation changed. Returns the label and those addresses."""
    width = cfg.spt_width
    gfn, index = divmod(slot, width)
    memory = list(w.vm.guest_memory)
    cycle = gpte_cycle(gfn, index, width)
    old = memory[slot]
    new = cycle[(cycle.index(old) + 1) % len(cycle)] if old in cycle else cycle[0]
    before = translations(memory, width)
    memory[slot] = new
    after = translations(memory, width)
    w.vm = w.vm._replace(guest_memory=tuple(memory))
    changed = 0
    for a, (x, y) in enumerate(zip(before, after, strict=True)):
        if x != y:
            changed |= 1 << a
    _owe_flush(w, cfg, changed)
    return f"gpte {index} of gfn {gfn}: {old:#x} -> {new:#x}", changed


def _owe_flush(w: Work, cfg: Config, changed: int) -> None:
    if changed:
        for t in cfg.vcpu_tids:
            v = w.threads[t]
            w.threads[t] = (*v[:V_PENDING], v[V_PENDING] | changed, *v[V_PENDING + 1 :])


def guest_pt_vcpu_step(state: State, tid: int, cfg: Config) -> list[Successor]:
    v = state.threads[tid]
    pc = v[V_PC]
    width = cfg.spt_width

    if pc == CHECK:
        if v[V_REQ] & REQ_FREE_OBSOLETE_ROOTS:

            def free(w: Work) -> str:
                root = w.threads[tid][V_ROOT]
                text = "root still valid"
                if is_obsolete_root(w, root):
                    kvm_mmu_free_roots(w, cfg, root)
                    root, text = NO_PAGE, f"kvm_mmu_free_roots(sp#{root})"
                mmu_unlock(w, tid, True)
                _set(w, tid, pc=CHECK, req=0, root=root, wait=0)
                return text

            return lock_mmu(
                state,
                tid,
                True,
                free,
                "vcpu_enter_guest: kvm_mmu_free_obsolete_roots",
                section=True,
            )
        if v[V_ROOT] == NO_PAGE:

            def load(w: Work) -> str:
                pid = mmu_alloc_root(w, cfg, TOP_GFN, top_role())
                if is_unsync_root(w.pages[pid]):
                    mmu_sync_children(w, cfg, pid)  # kvm_mmu_sync_roots()
                mmu_unlock(w, tid, True)
                _set(w, tid, pc=CHECK, root=pid, wait=0)
                return f"mmu_alloc_root: sp#{pid} (root_count {w.pages[pid].root_count})"

            return lock_mmu(state, tid, True, load, "kvm_mmu_load", section=True)
        if v[V_STEPS] == 0:
            return [run(state, tid, "vcpu_run: return to userspace", _goto(tid, pc=DONE))]

        def enter(w: Work) -> str:
            _set(w, tid, pc=GUEST, mode=MODE_IN_GUEST)
            return f"enter guest on root sp#{w.threads[tid][V_ROOT]}"

        return [run(state, tid, "vcpu_enter_guest: vcpu->mode = IN_GUEST_MODE", enter)]

    if pc == GUEST:
        if v[V_MODE] == MODE_EXITING or v[V_REQ]:
            return [
                run(
                    state,
                    tid,
                    "VM-exit (kicked by a request)",
                    _goto(tid, pc=CHECK, mode=MODE_OUTSIDE),
                )
            ]
        if v[V_STEPS] == 0:
            return [
                run(
                    state,
                    tid,
                    "guest has no actions left: VM-exit",
                    _goto(tid, pc=CHECK, mode=MODE_OUTSIDE),
                )
            ]
        return _guest_actions(state, tid, cfg)

    if pc == FAULT:
        return lock_mmu(
            state, tid, True, lambda w: _page_fault(w, tid, cfg), "FNAME(page_fault)", section=True
        )

    if pc == WFAULT:

        def write_fault(w: Work) -> str:
            slot = w.threads[tid][V_ARG]
            gfn = slot // width
            r = mmu_try_to_unsync_pages(w, cfg, gfn)
            mmu_unlock(w, tid, True)
            if r == EPERM:
                _set(w, tid, pc=EMULATE, wait=0)
                return f"mmu_try_to_unsync_pages(gfn {gfn}): -EPERM, emulate the write"
            text, _ = _write_gpte(w, cfg, slot)
            _set(w, tid, pc=CHECK, wait=0)
            return f"mmu_try_to_unsync_pages(gfn {gfn}): unsync; the write retires: {text}"

        return lock_mmu(state, tid, True, write_fault, "FNAME(page_fault) (write)", section=True)

    if pc == EMULATE:

        def emulate(w: Work) -> str:
            # the store is visible now, but the instruction retires only after
            # kvm_mmu_track_write(): until then the guest cannot rely on it (see
            # guest_tlb_coherent), and at retirement every vCPU owes a flush again
            text, changed = _write_gpte(w, cfg, w.threads[tid][V_ARG])
            _set(w, tid, pc=TRACK, inflight=changed)
            return text

        return [run(state, tid, "x86_emulate_instruction: emulator_write_phys", emulate)]

    if pc == TRACK:

        def track(w: Work) -> str:
            gfn, index = divmod(w.threads[tid][V_ARG], width)
            text = kvm_mmu_track_write(w, cfg, gfn, index)
            mmu_unlock(w, tid, True)
            _owe_flush(w, cfg, w.threads[tid][V_INFLIGHT])
            _set(w, tid, pc=CHECK, wait=0, inflight=0)
            return text

        return lock_mmu(state, tid, True, track, "kvm_mmu_track_write", section=True)

    if pc == INVLPG:

        def invlpg(w: Work) -> str:
            vv = w.threads[tid]
            j, i = divmod(vv[V_ARG], width)
            text = "nothing to sync"
            if cfg.switches.sync_on_invlpg and vv[V_ROOT] != NO_PAGE:
                text = kvm_mmu_invalidate_addr(w, cfg, vv[V_ROOT], j, i)
            mmu_unlock(w, tid, True)
            _set(w, tid, pc=CHECK, wait=0, pending=vv[V_PENDING] & ~(1 << vv[V_ARG]))
            return text

        return lock_mmu(state, tid, True, invlpg, "kvm_mmu_invlpg", section=True)

    if pc == FLUSH:
        root = v[V_ROOT]
        # is_unsync_root() is read before taking mmu_lock
        if (
            not cfg.switches.sync_on_guest_flush
            or root == NO_PAGE
            or not is_unsync_root(state.pages[root])
        ):
            return [
                run(
                    state,
                    tid,
                    "kvm_vcpu_flush_tlb_guest: kvm_mmu_sync_roots",
                    _goto(tid, pc=CHECK, pending=0),
                )
            ]

        def sync(w: Work) -> str:
            synced = mmu_sync_children(w, cfg, w.threads[tid][V_ROOT])
            mmu_unlock(w, tid, True)
            _set(w, tid, pc=CHECK, wait=0, pending=0)
            return "mmu_sync_children: synced " + (
                ", ".join(f"sp#{p}" for p in synced) if synced else "nothing"
            )

        return lock_mmu(
            state, tid, True, sync, "kvm_vcpu_flush_tlb_guest: kvm_mmu_sync_roots", section=True
        )

    return []


def _guest_actions(state: State, tid: int, cfg: Config) -> list[Successor]:
    v = state.threads[tid]
    width = cfg.spt_width
    steps = v[V_STEPS] - 1
    memory = state.vm.guest_memory
    root = v[V_ROOT]
    out = []
    for a in range(width * width):
        j, i = divmod(a, width)
        if shadow_translate(state.pages, root, j, i) is None and translate(memory, j, i, width):
            out.append(
                run(
                    state,
                    tid,
                    f"guest touches address ({j}, {i}): VM-exit, page fault",
                    _goto(tid, pc=FAULT, mode=MODE_OUTSIDE, arg=a, steps=steps),
                )
            )
    for gfn in TABLE_GFNS:
        protected = _write_protected(state, gfn)
        for index in range(width):
            slot = gpte_index(gfn, index, width)
            if protected:
                out.append(
                    run(
                        state,
                        tid,
                        f"guest writes gpte {index} of gfn {gfn}: write-protected, VM-exit",
                        _goto(tid, pc=WFAULT, mode=MODE_OUTSIDE, arg=slot, steps=steps),
                    )
                )
            else:

                def direct_write(w: Work, slot: int = slot) -> str:
                    _set(w, tid, steps=steps)
                    return _write_gpte(w, cfg, slot)[0]

                out.append(run(state, tid, f"guest writes gpte {index} of gfn {gfn}", direct_write))
    for a in range(width * width):
        if v[V_PENDING] & (1 << a):
            j, i = divmod(a, width)
            out.append(
                run(
                    state,
                    tid,
                    f"guest INVLPG ({j}, {i}): VM-exit",
                    _goto(tid, pc=INVLPG, mode=MODE_OUTSIDE, arg=a, steps=steps),
                )
            )
    out.append(
        run(
            state,
            tid,
            "guest flushes its TLB (MOV CR3, same value): VM-exit",
            _goto(tid, pc=FLUSH, mode=MODE_OUTSIDE, steps=steps),
        )
    )
    return out


def _write_protected(state: State, gfn: int) -> bool:
    w = Work(state, -1)
    return gfn_write_protected(w, gfn)


def _page_fault(w: Work, tid: int, cfg: Config) -> str:
    """``FNAME(page_fault)`` -> ``FNAME(walk_addr)`` + ``FNAME(fetch)`` for the address in
    the vCPU's arg (``mmu_lock`` held for write)."""
    width = cfg.spt_width
    vv = w.threads[tid]
    root, (j, i) = vv[V_ROOT], divmod(vv[V_ARG], width)

    def done(text: str) -> str:
        mmu_unlock(w, tid, True)
        _set(w, tid, pc=CHECK, wait=0)
        return text

    if root == NO_PAGE or is_obsolete_root(w, root):
        return done("is_page_fault_stale: retry")
    memory = w.vm.guest_memory
    top = read_gpte(memory, TOP_GFN, j, width)
    frame = translate(memory, j, i, width)
    if frame is None:
        return done("FNAME(walk_addr): not present, inject #PF")
    clear_sp_write_flooding_count(w, cfg, root)
    r = w.pages[root]
    made = ""
    if r.spt[j] == NO_PAGE:
        large = bool(top & GPTE_LARGE)
        gfn = gpte_frame(top)
        assert gfn is not None
        child = kvm_mmu_get_shadow_page(w, cfg, gfn, child_role(r.role, direct=large))
        link_shadow_page(w, cfg, root, j, child)
        made = f"link sp#{child} ({'direct, ' if large else ''}gfn {gfn}) at spt[{j}]; "
    child = w.pages[root].spt[j]
    clear_sp_write_flooding_count(w, cfg, child)
    c = w.pages[child]
    spt = list(c.spt)
    spt[i] = leaf_spte(frame)
    changes: dict[str, object] = {"spt": tuple(spt)}
    if c.shadowed_translation is not None:
        translation = list(c.shadowed_translation)
        translation[i] = frame  # kvm_mmu_page_set_translation() in rmap_add()
        changes["shadowed_translation"] = tuple(translation)
    w.set_page(child, c._replace(**changes))
    extra = ""
    if c.role & ROLE_DIRECT:
        filled = direct_pte_prefetch(w, cfg, child, i)
        if filled:
            extra = f"; direct_pte_prefetch filled spt{filled}"
    return done(f"{made}sp#{child}.spt[{i}] maps frame {frame}{extra}")


def _build(
    p: Mapping[str, ParamValue], sw: Switches
) -> tuple[Config, State, tuple[Program, ...], tuple[str, ...]]:
    vcpus, width = int(p["vcpus"]), int(p["width"])
    cfg = Config(switches=sw, vcpu_tids=tuple(range(vcpus)), spt_width=width)
    vm = empty_vm(guest_memory=initial_memory(width))
    threads = tuple(
        (CHECK, MODE_OUTSIDE, 0, NO_PAGE, int(p["steps"]), 0, 0, 0, 0) for _ in range(vcpus)
    )
    names = tuple(f"vcpu{i}" for i in range(vcpus))
    return cfg, State(vm, Pages(), threads), (guest_pt_vcpu_step,) * vcpus, names


GUEST_PT_WRITES = Scenario(
    "guest_pt_writes",
    "a shadow-paging guest writes its page tables, INVLPGs and flushes: unsync pages, "
    "write flooding, parent_ptes, direct pages and root lifetime",
    (
        Param("vcpus", 1, 1, 2, "vCPUs running the guest"),
        Param("width", 2, 1, 3, "gptes per guest table and SPTEs per shadow page"),
        Param("steps", 3, 1, 6, "guest actions per vCPU"),
    ),
    _build,
)
