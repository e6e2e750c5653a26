"""Kernel constants and names the model mirrors, with where they live in the kernel.

Values are those of ~v6.9 as read (arch/x86/kvm/mmu/mmu.c at torvalds/linux 56ea38e436ea,
arch/x86/include/asm/kvm_host.h ~v6.8); the model follows that mmu.c, and the mutants
pre_2abd5287f083 and pre_v6_0_child_role stand for older kernels.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

#: Pages ``kvm_zap_obsolete_pages()`` zaps before it may yield ``mmu_lock`` (mmu.c).
BATCH_ZAP_PAGES: Final = 10
#: ``make_mmu_pages_available()`` reclaims when fewer pages than this are free (kvm_host.h).
KVM_MIN_FREE_MMU_PAGES: Final = 5
#: ...and then reclaims up to this many free pages (kvm_host.h).
KVM_REFILL_PAGES: Final = 25
#: SPTEs in one page table page (``SPTE_ENT_PER_PAGE``).
SPTE_ENT_PER_PAGE: Final = 512
#: Cached previous roots per MMU (``KVM_MMU_NUM_PREV_ROOTS``).
KVM_MMU_NUM_PREV_ROOTS: Final = 3
#: Buckets of ``kvm->arch.mmu_page_hash`` is ``1 << KVM_MMU_HASH_SHIFT``.
KVM_MMU_HASH_SHIFT: Final = 12

#: Guest access bits of ``role.access`` (``ACC_*`` in mmu.h / spte.h).
ACC_EXEC_MASK: Final = 1
ACC_WRITE_MASK: Final = 2
ACC_USER_MASK: Final = 4
ACC_ALL: Final = 7

#: Paging levels (``PG_LEVEL_4K`` .. ``PT64_ROOT_5LEVEL``).
PG_LEVEL_4K: Final = 1
PT32_ROOT_LEVEL: Final = 2
PT32E_ROOT_LEVEL: Final = 3
PT64_ROOT_4LEVEL: Final = 4
PT64_ROOT_5LEVEL: Final = 5


class VcpuMode(StrEnum):
    """``vcpu->mode`` (include/linux/kvm_host.h)."""

    OUTSIDE_GUEST_MODE = "OUTSIDE_GUEST_MODE"
    IN_GUEST_MODE = "IN_GUEST_MODE"
    EXITING_GUEST_MODE = "EXITING_GUEST_MODE"


OUTSIDE_GUEST_MODE: Final = VcpuMode.OUTSIDE_GUEST_MODE
IN_GUEST_MODE: Final = VcpuMode.IN_GUEST_MODE
EXITING_GUEST_MODE: Final = VcpuMode.EXITING_GUEST_MODE


class KvmRequest(StrEnum):
    """The vCPU requests the model uses (arch/x86/include/asm/kvm_host.h)."""

    #: Drop obsolete roots before the next entry; flags KVM_REQUEST_WAIT | KVM_REQUEST_NO_WAKEUP.
    KVM_REQ_MMU_FREE_OBSOLETE_ROOTS = "KVM_REQ_MMU_FREE_OBSOLETE_ROOTS"
    #: Flush this vCPU's TLB; made by ``kvm_flush_remote_tlbs()`` with KVM_REQUEST_WAIT.
    KVM_REQ_TLB_FLUSH = "KVM_REQ_TLB_FLUSH"


KVM_REQ_MMU_FREE_OBSOLETE_ROOTS: Final = KvmRequest.KVM_REQ_MMU_FREE_OBSOLETE_ROOTS
KVM_REQ_TLB_FLUSH: Final = KvmRequest.KVM_REQ_TLB_FLUSH

#: Constants the docs may render with ``:spec:value:``.
CONSTANTS: Final[dict[str, int]] = {
    "BATCH_ZAP_PAGES": BATCH_ZAP_PAGES,
    "KVM_MIN_FREE_MMU_PAGES": KVM_MIN_FREE_MMU_PAGES,
    "KVM_REFILL_PAGES": KVM_REFILL_PAGES,
    "SPTE_ENT_PER_PAGE": SPTE_ENT_PER_PAGE,
    "KVM_MMU_NUM_PREV_ROOTS": KVM_MMU_NUM_PREV_ROOTS,
    "KVM_MMU_HASH_SHIFT": KVM_MMU_HASH_SHIFT,
    "ACC_EXEC_MASK": ACC_EXEC_MASK,
    "ACC_WRITE_MASK": ACC_WRITE_MASK,
    "ACC_USER_MASK": ACC_USER_MASK,
    "ACC_ALL": ACC_ALL,
    "PG_LEVEL_4K": PG_LEVEL_4K,
    "PT64_ROOT_4LEVEL": PT64_ROOT_4LEVEL,
    "PT64_ROOT_5LEVEL": PT64_ROOT_5LEVEL,
}
