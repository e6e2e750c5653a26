"""The generation-based fast zap: ``kvm_mmu_zap_all_fast()`` as a thread (arch/x86/kvm/mmu/mmu.c,
~v6.9 as read at torvalds/linux 56ea38e436ea).

One thread is a memslot deletion (``kvm_invalidate_memslot()`` holding ``slots_lock``) that
calls ``kvm_mmu_zap_all_fast()`` and, with the TDP MMU, ``kvm_tdp_mmu_zap_invalidated_roots()``.
Steps: the lock operations, the generation toggle, the TDP root invalidation, the request
and its acknowledgement, ``kvm_zap_obsolete_pages()`` up to its next batch boundary (then
each further page, after the decision of ``cond_resched_rwlock_write()``), the yield's
unlock and relock, the TLB flush and its wait. Simplifications: the pages zapped between two
possible yields are one step (no other thread can run meanwhile: ``mmu_lock`` is held for
write); ``kvm_tdp_mmu_zap_invalidated_roots()`` zaps one whole root per step without inner
yields; the final ``write_unlock`` and ``slots_lock`` release run in the step that ends the
commit (``Config.atomic_sections``; a Lipton reduction that changes no verdict).
"""

from __future__ import annotations

from collections.abc import Sequence

from specmodel.kernel.config import Config
from specmodel.kernel.locks import mmu_unlock, mmu_waiters, slots_unlock
from specmodel.kernel.mmu import (
    MODE_OUTSIDE,
    REQ_FREE_OBSOLETE_ROOTS,
    REQ_TLB_FLUSH,
    V_MODE,
    V_PREPARED,
    V_WAIT,
    is_obsolete,
    kvm_make_all_cpus_request,
    kvm_mmu_commit_zap_page,
    kvm_mmu_prepare_zap_page,
    tdp_mmu_free_root,
)
from specmodel.kernel.program import PC_CRASHED, Locals, Successor, lock_mmu, lock_slots, run
from specmodel.kernel.state import (
    HAZARD_SWITCH_WROTE_PAGE,
    NO_PAGE,
    ROLE_INVALID,
    Page,
    State,
    VmState,
    Work,
)

# Zapper locals: (pc, batch, cursor, kicked, invalid_list, hold_zapped, epoch, requested)
Z_PC, Z_BATCH, Z_CURSOR, Z_KICKED, Z_LIST, Z_HOLD, Z_EPOCH, Z_REQUESTED = range(8)

(
    SLOTS_LOCK,
    MMU_LOCK,
    TOGGLE,
    TDP_INVALIDATE,
    REQUEST,
    WAIT_ACK,
    ZAP,
    YIELD,
    RELOCK,
    COMMIT,
    COMMIT_WAIT,
    UNLOCK,
    TDP_LOCK,
    TDP_ZAP,
    TDP_UNLOCK,
    DONE,
) = range(16)

#: Cursor value: start the walk at the tail of active_mmu_pages.
FROM_TAIL = -1
#: Cursor value: the walk has reached the head.
WALK_DONE = -3  # not -2: hash(-2) == hash(-1) == hash(FROM_TAIL) in CPython

ZAPPER_INITIAL: tuple[int | tuple[int, ...], ...] = (SLOTS_LOCK, 0, FROM_TAIL, 0, (), 0, 0, 0)


def in_fast_zap(z: tuple[object, ...]) -> bool:
    """True from the generation switch until ``kvm_mmu_zap_all_fast()`` returns; a zapper
    that crashed the host (a poisoned pointer, a use-after-free) never returned."""
    pc = z[Z_PC]
    assert isinstance(pc, int)
    return TOGGLE < pc < TDP_LOCK or pc == PC_CRASHED


_LOCALS = Locals("pc", "batch", "cursor", "kicked", "invalid_list", "hold", "epoch", "requested")
_set = _LOCALS.set


def _all_outside(state: State, kicked: int, cfg: Config) -> bool:
    return all(state.threads[t][V_MODE] == MODE_OUTSIDE for t in cfg.vcpu_tids if kicked & (1 << t))


def zapper_step(state: State, tid: int, cfg: Config) -> list[Successor]:
    """Successors of one memslot-deletion thread."""
    z = state.threads[tid]
    pc = z[Z_PC]
    sw = cfg.switches

    if pc == SLOTS_LOCK:
        if not sw.slots_lock:
            return [
                run(
                    state,
                    tid,
                    "kvm_invalidate_memslot (no slots_lock)",
                    lambda w: _set(w, tid, pc=MMU_LOCK),
                )
            ]
        return lock_slots(state, tid, lambda w: _set(w, tid, pc=MMU_LOCK))

    if pc == MMU_LOCK:
        return lock_mmu(
            state, tid, True, lambda w: _set(w, tid, pc=TOGGLE, hold=0), "kvm_mmu_zap_all_fast"
        )

    if pc == TOGGLE:

        def toggle(w: Work) -> str:
            old = w.vm.mmu_valid_gen
            new = old ^ 1 if sw.toggle_generation else old + 1
            w.vm = w.vm._replace(mmu_valid_gen=new, epoch=w.vm.epoch + 1)
            if not sw.switch_touches_no_page:
                for pid in w.vm.active:
                    sp = w.page(pid, "mark page")
                    w.set_page(pid, sp._replace(role=sp.role | ROLE_INVALID))
                    w.hazard(HAZARD_SWITCH_WROTE_PAGE)
            nxt = TDP_INVALIDATE if cfg.tdp_mmu else REQUEST
            _set(w, tid, pc=nxt, epoch=w.vm.epoch)
            return f"mmu_valid_gen {old} -> {new}"

        return [run(state, tid, "kvm_mmu_zap_all_fast: toggle", toggle)]

    if pc == TDP_INVALIDATE:

        def invalidate(w: Work) -> str:
            done = []
            if sw.invalidate_tdp_roots:
                for pid in w.vm.tdp_roots:
                    sp = w.page(pid, "kvm_tdp_mmu_invalidate_all_roots")
                    if not sp.invalid:
                        w.set_page(pid, sp._replace(role=sp.role | ROLE_INVALID, scheduled=True))
                        done.append(f"sp#{pid}")
            _set(w, tid, pc=REQUEST)
            return "invalid: " + (", ".join(done) or "none")

        return [run(state, tid, "kvm_tdp_mmu_invalidate_all_roots", invalidate)]

    if pc == REQUEST:

        def request(w: Work) -> str:
            if not sw.reload_request:
                _set(w, tid, pc=ZAP, requested=1, batch=0, cursor=FROM_TAIL)
                return "skipped (mutant)"
            kicked = kvm_make_all_cpus_request(w, cfg, REQ_FREE_OBSOLETE_ROOTS)
            _set(w, tid, pc=WAIT_ACK, kicked=kicked)
            names = [f"vcpu{t - len(cfg.zapper_tids)}" for t in cfg.vcpu_tids if kicked & (1 << t)]
            return "kick " + (", ".join(names) or "none")

        return [
            run(state, tid, "kvm_make_all_cpus_request(KVM_REQ_MMU_FREE_OBSOLETE_ROOTS)", request)
        ]

    if pc == WAIT_ACK:
        if not _all_outside(state, int(z[Z_KICKED]), cfg):
            return []
        return [
            run(
                state,
                tid,
                "kvm_make_all_cpus_request: IPIs acknowledged",
                lambda w: _set(w, tid, pc=ZAP, requested=1, kicked=0, batch=0, cursor=FROM_TAIL),
            )
        ]

    if pc == ZAP:
        return _zap_obsolete_step(state, tid, cfg)

    if pc == YIELD:

        def unlock(w: Work) -> None:
            mmu_unlock(w, tid, True)
            _set(w, tid, pc=RELOCK)

        return [run(state, tid, "cond_resched_rwlock_write: write_unlock", unlock)]

    if pc == RELOCK:
        return lock_mmu(
            state,
            tid,
            True,
            lambda w: _set(w, tid, pc=ZAP, hold=0, batch=0, cursor=FROM_TAIL),
            "cond_resched_rwlock_write",
        )

    if pc == COMMIT:
        invalid_list = _zapped_list(state.vm, z, cfg)
        if not invalid_list:

            def nothing(w: Work) -> None:
                _unlock_and_return(w, tid, cfg)

            return [
                run(
                    state,
                    tid,
                    _then_unlock("kvm_mmu_commit_zap_page: nothing to free", cfg),
                    nothing,
                )
            ]

        def flush(w: Work) -> str:
            kicked = kvm_make_all_cpus_request(w, cfg, REQ_TLB_FLUSH)
            _set(w, tid, pc=COMMIT_WAIT, kicked=kicked)
            return f"{len(invalid_list)} page(s) to free"

        return [run(state, tid, "kvm_mmu_commit_zap_page: kvm_flush_remote_tlbs", flush)]

    if pc == COMMIT_WAIT:
        if not _all_outside(state, int(z[Z_KICKED]), cfg):
            return []

        def free(w: Work) -> str:
            kvm_mmu_commit_zap_page(w, list(_zapped_list(w.vm, z, cfg)))
            _store_zapped_list(w, tid, cfg, ())
            _set(w, tid, kicked=0)
            _unlock_and_return(w, tid, cfg)
            # what the commit did, then the releases that follow it
            done = "; ".join(w.notes)
            w.notes.clear()
            return f"{done}; {_releases(cfg)}" if cfg.atomic_sections else done

        return [run(state, tid, "TLB flush acknowledged", free)]

    if pc == UNLOCK:  # only with cfg.atomic_sections False

        def unlock_final(w: Work) -> None:
            _unlock_and_return(w, tid, cfg, now=True)

        return [run(state, tid, f"kvm_mmu_zap_all_fast: {_releases(cfg)}", unlock_final)]

    if pc == TDP_LOCK:
        return lock_mmu(
            state,
            tid,
            False,
            lambda w: _set(w, tid, pc=TDP_ZAP),
            "kvm_tdp_mmu_zap_invalidated_roots",
        )

    if pc == TDP_ZAP:
        return [run(state, tid, "kvm_tdp_mmu_zap_invalidated_roots", lambda w: _tdp_zap(w, tid))]

    if pc == TDP_UNLOCK:

        def tdp_unlock(w: Work) -> None:
            mmu_unlock(w, tid, False)
            _return(w, tid, cfg)

        return [
            run(
                state,
                tid,
                "kvm_tdp_mmu_zap_invalidated_roots: read_unlock; return; "
                "mutex_unlock(&kvm->slots_lock)",
                tdp_unlock,
            )
        ]

    return []  # DONE or crashed


def _zapped_list(vm: VmState, z: tuple[object, ...], cfg: Config) -> tuple[int, ...]:
    """The list the walk zaps onto: ``kvm->arch.zapped_obsolete_pages`` when a shrinker
    can see it (``cfg.shrinker_tids``), else the zapper's own copy of it (the same pages;
    keeping them in the thread leaves the state space of shrinker-less scenarios as it was)."""
    if cfg.shrinker_tids:
        return vm.zapped
    pages = z[Z_LIST]
    assert isinstance(pages, tuple)
    return pages


def _store_zapped_list(w: Work, tid: int, cfg: Config, pages: tuple[int, ...]) -> None:
    if cfg.shrinker_tids:
        w.vm = w.vm._replace(zapped=pages)
    else:
        _set(w, tid, invalid_list=pages)


def _releases(cfg: Config) -> str:
    tail = "write_unlock(&kvm->mmu_lock)"
    if not cfg.tdp_mmu:
        tail += "; return; mutex_unlock(&kvm->slots_lock)"
    return tail


def _then_unlock(label: str, cfg: Config) -> str:
    """The label of a step that ends with the zap's final releases (when it does)."""
    return f"{label}; {_releases(cfg)}" if cfg.atomic_sections else label


def _unlock_and_return(w: Work, tid: int, cfg: Config, *, now: bool = False) -> None:
    """The end of ``kvm_mmu_zap_all_fast()``: ``write_unlock(&kvm->mmu_lock)`` and, without
    the TDP MMU, the return and the memslot update's ``mutex_unlock(&kvm->slots_lock)``.

    These releases run in the step that ends the commit: a release only lets other threads
    run sooner, so every interleaving of the kernel still has an equivalent one here
    (Lipton's left movers). The states lost are the ones in which the zapper has finished
    its work but still holds a lock, and no invariant depends on those. Without
    ``cfg.atomic_sections`` the releases are a step of their own (``UNLOCK``)."""
    if not (cfg.atomic_sections or now):
        _set(w, tid, pc=UNLOCK)
        return
    mmu_unlock(w, tid, True)
    if cfg.tdp_mmu:
        _set(w, tid, pc=TDP_LOCK)
    else:
        _return(w, tid, cfg)


def _return(w: Work, tid: int, cfg: Config) -> None:
    """``kvm_mmu_zap_all_fast()`` returns and the memslot update drops ``slots_lock``
    (in the same step as the release before it: see ``_unlock_and_return``)."""
    if cfg.switches.slots_lock:
        slots_unlock(w)
    _set(w, tid, pc=DONE)


def _tdp_zap(w: Work, tid: int) -> str:
    """One scheduled root: clear the flag, zap everything below it, put the TDP MMU's
    reference (``kvm_tdp_mmu_put_root``)."""
    for pid in w.vm.tdp_roots:
        sp = w.page(pid, "kvm_tdp_mmu_zap_invalidated_roots")
        if not sp.scheduled:
            continue
        for child in sp.spt:
            if child >= 0:
                c = w.page(child, "tdp_mmu_zap_root")
                w.set_page(child, c._replace(freed=True, parents=()))
        sp = sp._replace(
            scheduled=False, spt=(NO_PAGE,) * len(sp.spt), root_count=sp.root_count - 1
        )
        w.set_page(pid, sp)
        if sp.root_count == 0:
            tdp_mmu_free_root(w, pid)
        return f"zapped root sp#{pid}"
    _set(w, tid, pc=TDP_UNLOCK)
    return "no scheduled root left"


def _next_target(
    vm: VmState, pages: Sequence[Page], cursor: int, w: Work | None = None
) -> tuple[int, int, list[int]]:
    """Where the walk of ``kvm_zap_obsolete_pages()`` goes next from ``cursor``: the page to
    zap (or ``WALK_DONE`` when it reached the head or a valid page), the page before it,
    and the invalid pages it skips (with a WARN) on the way."""
    active = vm.active
    pid = active[-1] if cursor == FROM_TAIL and active else cursor
    skipped: list[int] = []
    while pid not in (WALK_DONE, FROM_TAIL):
        if pid not in active:
            if w is None:  # deciding whether to yield: the zap step itself will report it
                return pid, WALK_DONE, skipped
            w.list_position(pid, "kvm_zap_obsolete_pages")
        i = active.index(pid)
        prev = active[i - 1] if i > 0 else WALK_DONE
        sp = pages[pid]
        if not sp.freed and not is_obsolete(sp, vm.mmu_valid_gen):
            return WALK_DONE, WALK_DONE, skipped  # the first valid page: stop
        if sp.invalid and not sp.freed:
            skipped.append(pid)
            pid = prev
            continue
        return pid, prev, skipped
    return WALK_DONE, WALK_DONE, skipped


def _zap_obsolete_step(state: State, tid: int, cfg: Config) -> list[Successor]:
    """``kvm_zap_obsolete_pages()`` up to its next possible yield: walk from the tail, stop
    at the first valid page, skip invalid ones, and once ``BATCH_ZAP_PAGES`` pages are
    zapped let ``cond_resched_rwlock_write()`` decide, before each further page.

    The pages zapped between two possible yields form one step: mmu_lock is held for write
    all along, so no other thread can observe the pages in between.
    """
    z = state.threads[tid]
    sw = cfg.switches
    batch = int(z[Z_BATCH])
    if batch < cfg.batch:
        return [run(state, tid, "kvm_zap_obsolete_pages", lambda w: _zap_pages(w, tid, cfg, 0))]
    target, _, _ = _next_target(state.vm, state.pages, int(z[Z_CURSOR]))
    if target == WALK_DONE:
        return [run(state, tid, "kvm_zap_obsolete_pages", lambda w: _zap_pages(w, tid, cfg, 0))]
    if not sw.zap_until_done:
        return [
            run(
                state,
                tid,
                "kvm_zap_obsolete_pages: batch done, return (mutant)",
                lambda w: _set(w, tid, pc=COMMIT),
            )
        ]
    out: list[Successor] = []
    # cond_resched_rwlock_write() yields when rwlock_needbreak() || should_resched().
    # rwlock_needbreak() is "a waiter is queued" under CONFIG_PREEMPTION and 0 otherwise;
    # should_resched() (a tick, another task) can be true on any kernel at any time. So a
    # preemptible kernel with a waiter must yield; every other case is a free choice.
    contended = bool(state.vm.mmu_queue)
    if sw.zap_yields:
        forced = cfg.preemptible and contended
        why = "mmu_lock contended" if forced else "need_resched"
        out.append(
            run(
                state,
                tid,
                f"cond_resched_rwlock_write: yield ({why})",
                lambda w: _set(w, tid, pc=YIELD),
            )
        )
        if forced:
            return out
    out.append(run(state, tid, "kvm_zap_obsolete_pages", lambda w: _zap_pages(w, tid, cfg, 1)))
    return out


def _zap_pages(w: Work, tid: int, cfg: Config, at_most: int) -> str:
    """Zap pages from the cursor until a possible yield (``at_most`` 0), or one page."""
    zapped: list[str] = []
    done = 0
    while True:
        z = w.threads[tid]
        batch = int(z[Z_BATCH])
        target, prev, skipped = _next_target(w.vm, w.pages, int(z[Z_CURSOR]), w)
        for pid in skipped:
            w.notes.append(f"WARN: invalid sp#{pid} on active_mmu_pages, skipped")
        if target == WALK_DONE:
            _set(w, tid, pc=COMMIT)
            zapped.append("reached a valid page or the head: done")
            break
        if (at_most and done == at_most) or (not at_most and batch >= cfg.batch):
            _set(w, tid, cursor=target)
            break
        sp = w.pages[target]
        invalid_list = list(_zapped_list(w.vm, z, cfg))
        before = w.prepared
        nr, unstable = kvm_mmu_prepare_zap_page(w, cfg, target, invalid_list)
        prepared = w.prepared - before
        for waiter in mmu_waiters(w.vm):
            if waiter in cfg.vcpu_tids:
                v = list(w.threads[waiter])
                v[V_WAIT] += nr
                v[V_PREPARED] += prepared
                w.threads[waiter] = tuple(v)
        _store_zapped_list(w, tid, cfg, tuple(invalid_list))
        _set(
            w,
            tid,
            batch=batch + nr,
            hold=int(z[Z_HOLD]) + nr,
            cursor=FROM_TAIL if unstable else prev,
        )
        zapped.append(f"zap sp#{target} (gfn {sp.gfn}, level {sp.level})")
        done += 1
    return "; ".join(zapped)
