"""specmodel: a documentation-linked spec checker for the Linux KVM x86 shadow MMU.

Pydantic models of ``struct kvm_mmu_page`` and ``union kvm_mmu_page_role``, an executable
model of KVM's generation-based fast zap and page reclaim, and an explorer that runs every
interleaving of a scenario and checks invariants in every state.
"""

from specmodel.errors import (
    BadParameterError,
    BudgetExceededError,
    ClaimDefinitionError,
    InvariantExpressionError,
    SpecmodelError,
    UnknownNameError,
    UseAfterFree,
)
from specmodel.explore import Exploration, ProgressInfo, Violation, explore, replay
from specmodel.kernel import (
    BATCH_ZAP_PAGES,
    EXITING_GUEST_MODE,
    IN_GUEST_MODE,
    KVM_MIN_FREE_MMU_PAGES,
    KVM_REFILL_PAGES,
    KVM_REQ_MMU_FREE_OBSOLETE_ROOTS,
    OUTSIDE_GUEST_MODE,
    KvmRequest,
    VcpuMode,
)
from specmodel.mutants import MUTANTS
from specmodel.page import KvmMmuPage
from specmodel.role import KvmMmuPageRole
from specmodel.scenarios import scenario_names
from specmodel.trace import Step, Trace
from specmodel.vm import Kvm, KvmArch, KvmVcpu, is_obsolete_sp

__version__ = "0.1.0"

__all__ = [
    "BATCH_ZAP_PAGES",
    "EXITING_GUEST_MODE",
    "IN_GUEST_MODE",
    "KVM_MIN_FREE_MMU_PAGES",
    "KVM_REFILL_PAGES",
    "KVM_REQ_MMU_FREE_OBSOLETE_ROOTS",
    "MUTANTS",
    "OUTSIDE_GUEST_MODE",
    "BadParameterError",
    "BudgetExceededError",
    "ClaimDefinitionError",
    "Exploration",
    "InvariantExpressionError",
    "Kvm",
    "KvmArch",
    "KvmMmuPage",
    "KvmMmuPageRole",
    "KvmRequest",
    "KvmVcpu",
    "ProgressInfo",
    "SpecmodelError",
    "Step",
    "Trace",
    "UnknownNameError",
    "UseAfterFree",
    "VcpuMode",
    "Violation",
    "__version__",
    "explore",
    "is_obsolete_sp",
    "replay",
    "scenario_names",
]
