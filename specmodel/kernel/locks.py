"""``kvm->slots_lock`` (a mutex) and ``kvm->mmu_lock`` (a fair reader-writer lock).

A thread that cannot take a lock joins the lock's FIFO queue in one step and takes the
lock in a later step, once it is at the head and the lock is free for it. Waiting is
therefore visible in the state, which the ``preemptible`` yield rule and the
``max_vcpu_mmu_lock_wait`` metric need. The queue models the kernel's queued rwlock and
mutex hand-off order; spinning versus sleeping is not modelled.
"""

from __future__ import annotations

from enum import Enum

from specmodel.kernel.state import VmState, Work


class LockStep(Enum):
    ACQUIRE = "acquire"  # takes the lock in this step
    ENQUEUE = "enqueue"  # starts waiting in this step
    BLOCKED = "blocked"  # is waiting and cannot take it yet: no step


def _mmu_free_for(vm: VmState, write: bool) -> bool:
    if write:
        return vm.mmu_writer < 0 and vm.mmu_readers == 0
    return vm.mmu_writer < 0


def mmu_lock_step(vm: VmState, tid: int, write: bool) -> LockStep:
    queue = vm.mmu_queue
    if queue and queue[0][0] == tid:
        return LockStep.ACQUIRE if _mmu_free_for(vm, write) else LockStep.BLOCKED
    if any(t == tid for t, _ in queue):
        return LockStep.BLOCKED
    if not queue and _mmu_free_for(vm, write):
        return LockStep.ACQUIRE
    return LockStep.ENQUEUE


def mmu_lock(w: Work, tid: int, write: bool, step: LockStep | None = None) -> bool:
    """``write_lock``/``read_lock(&kvm->mmu_lock)``; True once held, False if now waiting.
    ``step`` is ``mmu_lock_step()`` of the current state, if the caller has it already."""
    if step is None:
        step = mmu_lock_step(w.vm, tid, write)
    vm = w.vm
    if step is LockStep.ENQUEUE:
        w.vm = vm._replace(mmu_queue=(*vm.mmu_queue, (tid, write)))
        return False
    assert step is LockStep.ACQUIRE
    queue = vm.mmu_queue[1:] if vm.mmu_queue and vm.mmu_queue[0][0] == tid else vm.mmu_queue
    if write:
        w.vm = vm._replace(mmu_writer=tid, mmu_queue=queue)
    else:
        w.vm = vm._replace(mmu_readers=vm.mmu_readers | (1 << tid), mmu_queue=queue)
    return True


def mmu_unlock(w: Work, tid: int, write: bool) -> None:
    vm = w.vm
    if write:
        w.vm = vm._replace(mmu_writer=-1)
    else:
        w.vm = vm._replace(mmu_readers=vm.mmu_readers & ~(1 << tid))


def slots_lock_step(vm: VmState, tid: int) -> LockStep:
    queue = vm.slots_queue
    if queue and queue[0] == tid:
        return LockStep.ACQUIRE if vm.slots_lock < 0 else LockStep.BLOCKED
    if tid in queue:
        return LockStep.BLOCKED
    if not queue and vm.slots_lock < 0:
        return LockStep.ACQUIRE
    return LockStep.ENQUEUE


def slots_lock(w: Work, tid: int) -> bool:
    """``mutex_lock(&kvm->slots_lock)``; True once held, False if now waiting."""
    step = slots_lock_step(w.vm, tid)
    vm = w.vm
    if step is LockStep.ENQUEUE:
        w.vm = vm._replace(slots_queue=(*vm.slots_queue, tid))
        return False
    assert step is LockStep.ACQUIRE
    queue = vm.slots_queue[1:] if vm.slots_queue and vm.slots_queue[0] == tid else vm.slots_queue
    w.vm = vm._replace(slots_lock=tid, slots_queue=queue)
    return True


def slots_unlock(w: Work) -> None:
    w.vm = w.vm._replace(slots_lock=-1)


def holds(vm: VmState, tid: int) -> tuple[str, ...]:
    """Locks ``tid`` holds, as trace labels."""
    held: list[str] = []
    if vm.slots_lock == tid:
        held.append("slots_lock")
    if vm.mmu_writer == tid:
        held.append("mmu_lock(write)")
    if vm.mmu_readers & (1 << tid):
        held.append("mmu_lock(read)")
    return tuple(held)


def waits(vm: VmState, tid: int) -> str | None:
    """The lock ``tid`` is queued for, as a trace label."""
    for t, write in vm.mmu_queue:
        if t == tid:
            return "mmu_lock(write)" if write else "mmu_lock(read)"
    if tid in vm.slots_queue:
        return "slots_lock"
    return None


def mmu_waiters(vm: VmState) -> tuple[int, ...]:
    return tuple(t for t, _ in vm.mmu_queue)
