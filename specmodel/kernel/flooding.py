"""Write flooding: emulated guest writes to a shadowed page table (arch/x86/kvm/mmu/mmu.c,
~v6.9: ``kvm_mmu_track_write``, ``detect_write_flooding``, ``detect_write_misaligned``,
``__clear_sp_write_flooding_count``).

When a write to a write-protected guest page table cannot unsync it (the gfn is
write-tracked by an upper-level page), KVM emulates the instruction and
``kvm_mmu_track_write()`` updates each shadow page of the gfn: a misaligned write, or a
third write since the page was last used (``write_flooding_count`` reaches 3), zaps the whole
page; otherwise the written SPTE is zapped (the next access faults it in again). Level-1
pages skip the flood counter, since they can go unsync instead. The counter is reset when a
lookup finds the page or a fault walks through it.
"""

from __future__ import annotations

from specmodel.kernel.config import Config
from specmodel.kernel.mmu import is_obsolete, kvm_mmu_commit_zap_page
from specmodel.kernel.shadow import kvm_mmu_prepare_zap_page, mmu_page_zap_pte
from specmodel.kernel.state import Work
from specmodel.kernel.unsync import for_each_gfn_valid_sp_with_gptes

#: detect_write_flooding() zaps a page once its count reaches this.
WRITE_FLOODING_THRESHOLD = 3
PAGE_SIZE = 4096


def detect_write_flooding(w: Work, cfg: Config, pid: int) -> bool:
    """``detect_write_flooding()``: count one more emulated write; True once flooded."""
    sp = w.page(pid, "detect_write_flooding")
    if sp.level == 1 and cfg.switches.flood_skips_leaf_pages:
        return False
    count = sp.write_flooding_count + 1
    w.set_page(pid, sp._replace(write_flooding_count=count))
    return count >= WRITE_FLOODING_THRESHOLD


def detect_write_misaligned(gpa: int, nbytes: int, has_4_byte_gpte: bool) -> bool:
    """``detect_write_misaligned()``: a write that is not one whole gpte (a single byte at a
    gpte's start is allowed: guests update status bits that way)."""
    offset = gpa % PAGE_SIZE
    pte_size = 4 if has_4_byte_gpte else 8
    if not offset & (pte_size - 1) and nbytes == 1:
        return False
    misaligned = bool((offset ^ (offset + nbytes - 1)) & ~(pte_size - 1))
    return misaligned or nbytes < 4


def kvm_mmu_track_write(w: Work, cfg: Config, gfn: int, index: int) -> str:
    """``kvm_mmu_track_write()`` for an aligned 8-byte write of gpte ``index`` in ``gfn``
    (``mmu_lock`` held for write by the caller)."""
    invalid_list: list[int] = []
    done = []
    gpa = gfn * PAGE_SIZE + index * 8
    for pid in for_each_gfn_valid_sp_with_gptes(w, gfn):
        sp = w.pages[pid]
        if sp.freed or is_obsolete(sp, w.vm.mmu_valid_gen):
            continue  # zapped by an earlier iteration
        w.set_page(pid, sp._replace(emulated_writes=sp.emulated_writes + 1))  # ghost
        flooded = detect_write_misaligned(gpa, 8, False) or detect_write_flooding(w, cfg, pid)
        if flooded and cfg.switches.write_flooding_zap:
            done.append(f"sp#{pid} flooded: zap it")
            kvm_mmu_prepare_zap_page(w, cfg, pid, invalid_list)
            continue
        if mmu_page_zap_pte(w, pid, index):
            done.append(f"zap sp#{pid}.spt[{index}]")
    kvm_mmu_commit_zap_page(w, invalid_list)  # kvm_mmu_remote_flush_or_zap
    return "; ".join(done) if done else "no SPTE to zap"
