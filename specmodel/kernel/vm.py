"""Read-only views of an explored state with the kernel's attribute paths: ``Kvm``
(``struct kvm``), ``KvmArch`` (``kvm->arch``) and ``KvmVcpu`` (``struct kvm_vcpu``).

Pages are ``KvmMmuPage`` values, so every field invariant of the page model is checked on
every page a view shows. SPTEs that point at a child page are encoded as
``((child id + 1) << 12) | ACC_ALL``; page ids are positions in ``Kvm.pages``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from specmodel.kernel import ACC_ALL, KvmRequest, VcpuMode
from specmodel.kernel.config import Config
from specmodel.kernel.mmu import REQ_FREE_OBSOLETE_ROOTS, REQ_TLB_FLUSH, V_MODE, V_REQ, V_ROOT
from specmodel.kernel.state import (
    LINK_ACTIVE,
    LINK_INVALID_LIST,
    LINK_TDP_ROOTS,
    NO_PAGE,
    Page,
    State,
)
from specmodel.structs.page import KvmMmuPage
from specmodel.structs.role import KvmMmuPageRole

_LINKS = {
    LINK_ACTIVE: "active_mmu_pages",
    LINK_INVALID_LIST: "invalid_list",
    LINK_TDP_ROOTS: "tdp_mmu_roots",
}
_MODES = (VcpuMode.OUTSIDE_GUEST_MODE, VcpuMode.IN_GUEST_MODE, VcpuMode.EXITING_GUEST_MODE)


@lru_cache(maxsize=4096)
def _role(word: int) -> KvmMmuPageRole:
    return KvmMmuPageRole.from_word(word)


def spte_to_child(spte: int) -> int:
    """The page id an SPTE of a view points at, or -1."""
    return (spte >> 12) - 1 if spte else NO_PAGE


@lru_cache(maxsize=1 << 16)
def page_view(sp: Page) -> KvmMmuPage:
    """The ``KvmMmuPage`` a model page stands for (validated; raises ValidationError)."""
    spt = [0] * 512
    for i, child in enumerate(sp.spt):
        if child >= 0:
            spt[i] = ((child + 1) << 12) | ACC_ALL
    common = {
        "role": _role(sp.role),
        "gfn": sp.gfn,
        "spt": tuple(spt),
        "link": _LINKS.get(sp.link),
        "tdp_mmu_page": sp.tdp,
    }
    if sp.tdp:
        return KvmMmuPage(
            **common,
            tdp_mmu_root_count=sp.root_count,
            tdp_mmu_scheduled_root_to_zap=sp.scheduled,
            ptep=sp.parents[0] if sp.parents else None,
        )
    return KvmMmuPage(
        **common,
        hash_link=True,
        mmu_valid_gen=sp.gen,
        root_count=sp.root_count,
        parent_ptes=sp.parents,
    )


def is_obsolete_sp(kvm: Kvm, sp: KvmMmuPage) -> bool:
    """``is_obsolete_sp()``: a page is obsolete if ``role.invalid`` is set or, for shadow
    pages, if its ``mmu_valid_gen`` differs from ``kvm->arch.mmu_valid_gen``."""
    if sp.role.invalid:
        return True
    return not sp.tdp_mmu_page and sp.mmu_valid_gen != kvm.arch.mmu_valid_gen


@dataclass(frozen=True)
class KvmArch:
    """``struct kvm_arch`` (the fields the model tracks)."""

    mmu_valid_gen: int
    active_mmu_pages: tuple[KvmMmuPage, ...]  # newest first
    tdp_mmu_roots: tuple[KvmMmuPage, ...]
    n_used_mmu_pages: int


@dataclass(frozen=True)
class KvmVcpu:
    """``struct kvm_vcpu``: its id, ``mode``, pending requests and current root."""

    vcpu_id: int
    mode: VcpuMode
    requests: frozenset[KvmRequest]
    root: KvmMmuPage | None


@dataclass(frozen=True)
class Kvm:
    """``struct kvm``: ``arch``, ``vcpus`` and every live page by id."""

    arch: KvmArch
    vcpus: tuple[KvmVcpu, ...]
    pages: dict[int, KvmMmuPage]
    #: Thread holding ``slots_lock`` and ``mmu_lock`` (``None`` when free).
    slots_lock_owner: str | None
    mmu_lock_writer: str | None


#: The page part of recent views, by page set (identity) and list heads: an exploration meets
#: few page sets, and hashing every page of a state again for page_view's cache was most of
#: the cost of a view. Each entry keeps its page set alive, so an id is not reused meanwhile.
_PAGE_PARTS: dict[
    tuple[int, tuple[int, ...], tuple[int, ...]],
    tuple[object, dict[int, KvmMmuPage], tuple[KvmMmuPage, ...], tuple[KvmMmuPage, ...]],
] = {}


def _page_part(
    state: State,
) -> tuple[dict[int, KvmMmuPage], tuple[KvmMmuPage, ...], tuple[KvmMmuPage, ...]]:
    vm = state.vm
    key = (id(state.pages), vm.active, vm.tdp_roots)
    hit = _PAGE_PARTS.get(key)
    if hit is None or hit[0] is not state.pages:
        pages = {pid: page_view(sp) for pid, sp in enumerate(state.pages) if not sp.freed}
        active = tuple(pages[p] for p in vm.active if p in pages)
        roots = tuple(pages[p] for p in vm.tdp_roots if p in pages)
        if len(_PAGE_PARTS) >= 1 << 12:
            _PAGE_PARTS.clear()  # a cache; bounded
        hit = _PAGE_PARTS[key] = (state.pages, pages, active, roots)
    # a copy of the dict: a caller's expression must not change what later views show
    return dict(hit[1]), hit[2], hit[3]


def kvm_view(cfg: Config, state: State, names: tuple[str, ...]) -> Kvm:
    """Build the public view of ``state``."""
    pages, active, roots = _page_part(state)
    vm = state.vm
    vcpus = []
    for n, tid in enumerate(cfg.vcpu_tids):
        v = state.threads[tid]
        reqs = set()
        if v[V_REQ] & REQ_FREE_OBSOLETE_ROOTS:
            reqs.add(KvmRequest.KVM_REQ_MMU_FREE_OBSOLETE_ROOTS)
        if v[V_REQ] & REQ_TLB_FLUSH:
            reqs.add(KvmRequest.KVM_REQ_TLB_FLUSH)
        root = v[V_ROOT]
        vcpus.append(
            KvmVcpu(
                n, _MODES[v[V_MODE]], frozenset(reqs), pages.get(root) if root != NO_PAGE else None
            )
        )
    arch = KvmArch(
        mmu_valid_gen=vm.mmu_valid_gen,
        active_mmu_pages=active,
        tdp_mmu_roots=roots,
        n_used_mmu_pages=vm.n_used_mmu_pages,
    )
    return Kvm(
        arch=arch,
        vcpus=tuple(vcpus),
        pages=pages,
        slots_lock_owner=names[vm.slots_lock] if vm.slots_lock >= 0 else None,
        mmu_lock_writer=names[vm.mmu_writer] if vm.mmu_writer >= 0 else None,
    )
