"""Root lifetime in the shadow MMU (arch/x86/kvm/mmu/mmu.c, ~v6.9: ``mmu_alloc_root``,
``mmu_free_root_page``, ``kvm_mmu_free_roots``, ``kvm_mmu_free_obsolete_roots``).

A vCPU that makes a page its root takes a ``root_count`` reference; a page with a non-zero
count is never freed (a zap takes it off ``active_mmu_pages`` and marks it invalid
instead); when the last reference to an invalid root is dropped the page is zapped again and
freed by the commit. The shared ``mmu.mmu_free_root_page`` is the fast-zap scenarios'
version; this one also keeps the fields guest_pt_writes tracks (shadow.py).
"""

from __future__ import annotations

from specmodel.kernel.config import Config
from specmodel.kernel.mmu import is_obsolete, kvm_mmu_commit_zap_page
from specmodel.kernel.shadow import kvm_mmu_get_shadow_page, kvm_mmu_prepare_zap_page
from specmodel.kernel.state import NO_PAGE, Work


def mmu_alloc_root(w: Work, cfg: Config, gfn: int, role: int) -> int:
    """``mmu_alloc_root()``: find or create the page, then ``++sp->root_count``."""
    pid = kvm_mmu_get_shadow_page(w, cfg, gfn, role)
    if cfg.switches.root_count_ref:
        sp = w.pages[pid]
        w.set_page(pid, sp._replace(root_count=sp.root_count + 1))
    return pid


def mmu_free_root_page(w: Work, cfg: Config, pid: int, invalid_list: list[int]) -> None:
    """``mmu_free_root_page()`` (shadow page): drop one reference; an invalid page whose
    count reaches 0 is zapped onto ``invalid_list``."""
    sp = w.page(pid, "mmu_free_root_page")
    sp = sp._replace(root_count=max(0, sp.root_count - 1))
    w.set_page(pid, sp)
    if sp.root_count == 0 and sp.invalid and cfg.switches.free_invalid_root_at_zero:
        w.notes.append(f"last reference to invalid sp#{pid}: zap it")
        kvm_mmu_prepare_zap_page(w, cfg, pid, invalid_list)


def kvm_mmu_free_roots(w: Work, cfg: Config, root: int) -> None:
    """``kvm_mmu_free_roots()`` of the current root (``mmu_lock`` held for write by the
    caller): free it, then commit what that zapped."""
    if root == NO_PAGE:
        return
    invalid_list: list[int] = []
    mmu_free_root_page(w, cfg, root, invalid_list)
    kvm_mmu_commit_zap_page(w, invalid_list)


def is_obsolete_root(w: Work, root: int) -> bool:
    """``is_obsolete_root()``."""
    return root != NO_PAGE and is_obsolete(w.page(root, "is_obsolete_root"), w.vm.mmu_valid_gen)
