"""specmodel: a documentation-linked spec checker for the Linux KVM x86 shadow MMU.

Pydantic models of ``struct kvm_mmu_page`` and ``union kvm_mmu_page_role``, an executable
model of KVM's generation-based fast zap and page reclaim, and an explorer that runs every
interleaving of a scenario and checks invariants in every state.
"""

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Where each public name lives; importing ``specmodel`` loads none of them until used, so
#: ``specmodel.sphinxext`` and ``specmodel lint`` start without the model (PEP 562).
_LAZY: dict[str, str] = {
    "BATCH_ZAP_PAGES": "specmodel.kernel",
    "BadParameterError": "specmodel.errors",
    "BudgetExceededError": "specmodel.errors",
    "ClaimDefinitionError": "specmodel.errors",
    "EXITING_GUEST_MODE": "specmodel.kernel",
    "Exploration": "specmodel.explorer",
    "IN_GUEST_MODE": "specmodel.kernel",
    "InvariantExpressionError": "specmodel.errors",
    "KVM_MIN_FREE_MMU_PAGES": "specmodel.kernel",
    "KVM_REFILL_PAGES": "specmodel.kernel",
    "KVM_REQ_MMU_FREE_OBSOLETE_ROOTS": "specmodel.kernel",
    "Kvm": "specmodel.kernel.vm",
    "KvmArch": "specmodel.kernel.vm",
    "KvmMmuPage": "specmodel.structs.page",
    "KvmMmuPageRole": "specmodel.structs.role",
    "KvmRequest": "specmodel.kernel",
    "KvmVcpu": "specmodel.kernel.vm",
    "MUTANTS": "specmodel.kernel.mutants",
    "OUTSIDE_GUEST_MODE": "specmodel.kernel",
    "ProgressInfo": "specmodel.explorer",
    "SpecmodelError": "specmodel.errors",
    "Step": "specmodel.explorer.trace",
    "Trace": "specmodel.explorer.trace",
    "UnknownNameError": "specmodel.errors",
    "UseAfterFree": "specmodel.errors",
    "VcpuMode": "specmodel.kernel",
    "Violation": "specmodel.explorer",
    "explore": "specmodel.explorer",
    "is_obsolete_sp": "specmodel.kernel.vm",
    "replay": "specmodel.explorer",
    "scenario_names": "specmodel.kernel.scenarios",
}

if TYPE_CHECKING:
    from specmodel.errors import (
        BadParameterError,
        BudgetExceededError,
        ClaimDefinitionError,
        InvariantExpressionError,
        SpecmodelError,
        UnknownNameError,
        UseAfterFree,
    )
    from specmodel.explorer import Exploration, ProgressInfo, Violation, explore, replay
    from specmodel.explorer.trace import Step, Trace
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
    from specmodel.kernel.mutants import MUTANTS
    from specmodel.kernel.scenarios import scenario_names
    from specmodel.kernel.vm import Kvm, KvmArch, KvmVcpu, is_obsolete_sp
    from specmodel.structs.page import KvmMmuPage
    from specmodel.structs.role import KvmMmuPageRole

    #: Whether the installed model is the mypyc-compiled build (docs/guide/install.rst).
    compiled: bool


def _compiled() -> bool:
    """The model's modules are extension modules (a compiled wheel), not ``.py`` files."""
    import importlib.machinery
    import importlib.util

    spec = importlib.util.find_spec("specmodel.kernel.state")
    return spec is not None and isinstance(spec.loader, importlib.machinery.ExtensionFileLoader)


def __getattr__(name: str) -> Any:
    if name == "compiled":
        globals()[name] = value = _compiled()
        return value
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'specmodel' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY, "compiled"])


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
    "compiled",
    "explore",
    "is_obsolete_sp",
    "replay",
    "scenario_names",
]
