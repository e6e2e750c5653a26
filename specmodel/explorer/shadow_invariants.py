"""Invariants of the shadow-page fields the guest_pt_writes scenario tracks: unsync and the
unsync bitmaps, ``parent_ptes``, ``write_flooding_count``, direct pages and root counts
(FACTS F, invariants 5 and 8; mmu.c ~v6.9).

They apply to pages whose ``parent_ptes`` encoding is tracked (``Page.parent_ptes`` is not
None), which only a scenario with guest page tables in ``VmState.guest_memory`` has; with
none they return at once, so the explorer checks them in every scenario at no real cost.
Each returns None when it holds, or a sentence saying what was expected and what was found.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from pydantic import ValidationError

from specmodel.kernel import ACC_ALL
from specmodel.kernel.config import Config
from specmodel.kernel.direct import SPTE_LEVEL_BITS
from specmodel.kernel.flooding import WRITE_FLOODING_THRESHOLD
from specmodel.kernel.guest_memory import translate
from specmodel.kernel.guest_pt import shadow_translate
from specmodel.kernel.mmu import MODE_IN_GUEST, V_MODE, V_REQ, V_ROOT
from specmodel.kernel.rmap import (
    MODEL_PTE_LIST_EXT,
    is_desc,
    pte_list_check,
    pte_list_sptes,
    spte_address,
    spte_at,
)
from specmodel.kernel.spte import spte_frame
from specmodel.kernel.state import LINK_ACTIVE, LINK_INVALID_LIST, ROLE_DIRECT, Page, State
from specmodel.structs.page import KvmMmuPage
from specmodel.structs.role import KvmMmuPageRole

Check = Callable[[Config, State], str | None]

#: Positions in guest_pt_writes' vCPU locals: the addresses a vCPU owes a flush, and the
#: addresses an emulated write of the vCPU changed before its instruction retired.
_V_PENDING, _V_INFLIGHT = 6, 8


def _tracked(s: State) -> list[tuple[int, Page]]:
    if not s.vm.guest_memory:
        return []
    return [
        (pid, sp) for pid, sp in enumerate(s.pages) if not sp.freed and sp.parent_ptes is not None
    ]


def unsync_only_on_leaf_pages(cfg: Config, s: State) -> str | None:
    """Only indirect level-1 shadow pages are ever unsync (FACTS F8)."""
    for pid, sp in _tracked(s):
        if sp.unsync and (sp.level != 1 or sp.role & ROLE_DIRECT or sp.tdp):
            return (
                f"expected unsync only on indirect level-1 pages, found sp#{pid} unsync at "
                f"level {sp.level}{' (direct)' if sp.role & ROLE_DIRECT else ''}"
            )
    return None


def unsync_children_match_bitmap(cfg: Config, s: State) -> str | None:
    """unsync_children is the number of bits set in unsync_child_bitmap (FACTS F8)."""
    for pid, sp in _tracked(s):
        if sp.unsync_children != sp.unsync_child_bitmap.bit_count():
            return (
                f"expected sp#{pid}.unsync_children == popcount(unsync_child_bitmap) == "
                f"{sp.unsync_child_bitmap.bit_count()}, found {sp.unsync_children}"
            )
    return None


def unsync_reported_to_parents(cfg: Config, s: State) -> str | None:
    """A page that is unsync or has unsync children has its bit set in the
    unsync_child_bitmap of every parent SPTE's page, so the sync walk finds it."""
    for pid, sp in _tracked(s):
        if sp.invalid or not (sp.unsync or sp.unsync_children):
            continue
        for parent, index in sp.parents:
            if not s.pages[parent].unsync_child_bitmap & (1 << index):
                what = "unsync" if sp.unsync else f"{sp.unsync_children} unsync children"
                return (
                    f"expected bit {index} of sp#{parent}.unsync_child_bitmap set (it points "
                    f"at sp#{pid}, {what}), found it clear"
                )
    return None


def parent_ptes_match_sptes(cfg: Config, s: State) -> str | None:
    """parent_ptes is well formed and holds exactly the present SPTEs that point at the
    page: bit 0 clear = one pointer, set = a pte_list_desc chain with full tails."""
    if not s.vm.guest_memory:
        return None
    pointing: dict[int, list[int]] = {}
    for pid, sp in enumerate(s.pages):
        if sp.freed:
            continue
        for index, child in enumerate(sp.spt):
            if child >= 0:
                pointing.setdefault(child, []).append(spte_address(pid, index))
    for pid, sp in _tracked(s):
        assert sp.parent_ptes is not None
        bad = pte_list_check(sp.parent_ptes, MODEL_PTE_LIST_EXT)
        if bad:
            return f"expected a well-formed sp#{pid}.parent_ptes, found: {bad}"
        have = sorted(pte_list_sptes(sp.parent_ptes))
        want = sorted(pointing.get(pid, ()))
        if have != want:
            return (
                f"expected sp#{pid}.parent_ptes to hold the SPTEs pointing at it "
                f"{[spte_at(a) for a in want]}, found {[spte_at(a) for a in have]}"
            )
        if sorted(sp.parents) != [spte_at(a) for a in want]:
            return f"expected sp#{pid}.parents to match its parent_ptes, found {sp.parents}"
    return None


def write_flooding_below_threshold(cfg: Config, s: State) -> str | None:
    """No valid page has write_flooding_count >= 3: the third emulated write since the page
    was last used zaps it."""
    for pid, sp in _tracked(s):
        if not sp.invalid and sp.write_flooding_count >= WRITE_FLOODING_THRESHOLD:
            return (
                f"expected sp#{pid} zapped once write_flooding_count reached "
                f"{WRITE_FLOODING_THRESHOLD}, found it valid with {sp.write_flooding_count}"
            )
    return None


def leaf_pages_not_flood_counted(cfg: Config, s: State) -> str | None:
    """Level-1 pages skip the flood counter (they can go unsync instead)."""
    for pid, sp in _tracked(s):
        if sp.level == 1 and sp.write_flooding_count:
            return (
                f"expected write_flooding_count 0 on level-1 sp#{pid}, found "
                f"{sp.write_flooding_count}"
            )
    return None


def direct_pages_untranslated(cfg: Config, s: State) -> str | None:
    """shadowed_translation is allocated for indirect pages only."""
    for pid, sp in _tracked(s):
        direct = bool(sp.role & ROLE_DIRECT)
        if direct and sp.shadowed_translation is not None:
            return f"expected no shadowed_translation on direct sp#{pid}, found one allocated"
        if not direct and sp.shadowed_translation is None:
            return f"expected a shadowed_translation on indirect sp#{pid}, found none"
    return None


def direct_entries_linear(cfg: Config, s: State) -> str | None:
    """Entry i of a direct page maps gfn + i * 512^(level - 1) (the linear range starting at
    gfn); entry i of an indirect page maps the gfn its shadowed_translation records."""
    for pid, sp in _tracked(s):
        for index, spte in enumerate(sp.spt):
            frame = spte_frame(spte)
            if frame is None:
                continue
            if sp.role & ROLE_DIRECT:
                want = sp.gfn + index * (1 << (SPTE_LEVEL_BITS * (sp.level - 1)))
                source = f"gfn {sp.gfn} + {index} at level {sp.level}"
            else:
                assert sp.shadowed_translation is not None
                want = sp.shadowed_translation[index]
                source = "its shadowed_translation"
            if frame != want:
                return (
                    f"expected sp#{pid}.spt[{index}] to map gfn {want} ({source}), "
                    f"found gfn {frame}"
                )
    return None


def guest_tlb_coherent(cfg: Config, s: State) -> str | None:
    """A vCPU in the guest sees every address it has flushed (INVLPG or a whole flush)
    since the last write that changed it as its page tables say: the shadow SPTE is not
    present or maps the guest's translation. A write counts once its instruction retired
    (an emulated write retires after kvm_mmu_track_write())."""
    memory = s.vm.guest_memory
    if not memory:
        return None
    width = cfg.spt_width
    inflight = 0
    for t in cfg.vcpu_tids:
        inflight |= s.threads[t][_V_INFLIGHT]
    for t in cfg.vcpu_tids:
        v = s.threads[t]
        if v[V_MODE] != MODE_IN_GUEST or v[V_REQ]:
            continue
        root = v[V_ROOT]
        for a in range(width * width):
            if (v[_V_PENDING] | inflight) & (1 << a):
                continue
            j, i = divmod(a, width)
            shadow = shadow_translate(s.pages, root, j, i)
            guest = translate(memory, j, i, width)
            if shadow is not None and shadow != guest:
                return (
                    f"expected vcpu{t} (flushed since the last change) to see address "
                    f"({j}, {i}) as its page tables say, frame {guest}; found the shadow "
                    f"tables map frame {shadow}"
                )
    return None


def root_count_matches_roots(cfg: Config, s: State) -> str | None:
    """root_count of a shadow page is the number of vCPUs that hold it as their root."""
    if not s.vm.guest_memory:
        return None
    held: dict[int, int] = {}
    for t in cfg.vcpu_tids:
        root = s.threads[t][V_ROOT]
        if root >= 0:
            held[root] = held.get(root, 0) + 1
    for pid, sp in _tracked(s):
        if sp.root_count != held.get(pid, 0):
            return (
                f"expected sp#{pid}.root_count == {held.get(pid, 0)} (vCPUs using it as "
                f"their root), found {sp.root_count}"
            )
    return None


# -- a KvmMmuPage view of a tracked page --------------------------------------------------

_LINKS = {LINK_ACTIVE: "active_mmu_pages", LINK_INVALID_LIST: "invalid_list"}


@lru_cache(maxsize=1 << 14)
def tracked_page_view(sp: Page) -> KvmMmuPage:
    """The ``KvmMmuPage`` a tracked page stands for (validated; raises ValidationError)."""
    spt = [0] * 512
    for i, spte in enumerate(sp.spt):
        if spte >= 0:
            spt[i] = ((spte + 1) << 12) | ACC_ALL
        elif (frame := spte_frame(spte)) is not None:
            spt[i] = (frame << 12) | ACC_ALL
    translation = None
    if sp.shadowed_translation is not None:
        translation = [0] * 512
        for i, gfn in enumerate(sp.shadowed_translation):
            translation[i] = (gfn << 12) | ACC_ALL if gfn else 0
    return KvmMmuPage(
        role=KvmMmuPageRole.from_word(sp.role),
        gfn=sp.gfn,
        spt=tuple(spt),
        shadowed_translation=None if translation is None else tuple(translation),
        link=_LINKS.get(sp.link),
        tdp_mmu_page=False,
        hash_link=True,
        mmu_valid_gen=sp.gen,
        root_count=sp.root_count,
        parent_ptes=sp.parents,
        unsync=sp.unsync,
        unsync_children=sp.unsync_children,
        unsync_child_bitmap=sp.unsync_child_bitmap,
        write_flooding_count=sp.write_flooding_count,
    )


def tracked_pages_validate(cfg: Config, s: State) -> str | None:
    """Every tracked page validates as a KvmMmuPage (the field models' own rules)."""
    for pid, sp in _tracked(s):
        try:
            tracked_page_view(sp)
        except ValidationError as exc:
            return f"expected sp#{pid} to be a valid KvmMmuPage, found: {exc.errors()[0]['msg']}"
    return None


# -- wordings the kernel refutes (checked only on request) --------------------------------


def desc_means_several_parents(cfg: Config, s: State) -> str | None:
    """(Refuted by the kernel) parent_ptes bit 0 set means several SPTEs point at the page."""
    for pid, sp in _tracked(s):
        assert sp.parent_ptes is not None
        if is_desc(sp.parent_ptes) and len(pte_list_sptes(sp.parent_ptes)) < 2:
            return (
                f"expected several parent SPTEs behind sp#{pid}'s pte_list_desc (bit 0 set), "
                f"found {len(pte_list_sptes(sp.parent_ptes))}"
            )
    return None


def bit0_clear_means_one_parent(cfg: Config, s: State) -> str | None:
    """(Refuted by the kernel) parent_ptes bit 0 clear means exactly one SPTE points at the
    page."""
    for pid, sp in _tracked(s):
        assert sp.parent_ptes is not None
        if not is_desc(sp.parent_ptes) and len(sp.parent_ptes) != 1:
            return (
                f"expected exactly one parent SPTE of sp#{pid} (parent_ptes bit 0 clear), "
                f"found {len(sp.parent_ptes)}"
            )
    return None


def unsync_children_exact(cfg: Config, s: State) -> str | None:
    """(Refuted by the kernel) unsync_children is the number of SPTEs that point at pages
    that are unsync or have unsync children (bits are cleared lazily, so it is only an upper
    bound)."""
    for pid, sp in _tracked(s):
        if sp.invalid:
            continue
        exact = 0
        for child in sp.spt:
            if child >= 0:
                c = s.pages[child]
                exact += bool(c.unsync or c.unsync_children)
        if sp.unsync_children != exact:
            return (
                f"expected sp#{pid}.unsync_children == {exact} (SPTEs leading to unsync "
                f"pages), found {sp.unsync_children}"
            )
    return None


#: name -> (check, pages_only), registered in explorer/invariants.py.
SHADOW_INVARIANTS: tuple[tuple[Check, bool], ...] = (
    (unsync_only_on_leaf_pages, True),
    (unsync_children_match_bitmap, True),
    (unsync_reported_to_parents, True),
    (parent_ptes_match_sptes, True),
    (write_flooding_below_threshold, True),
    (leaf_pages_not_flood_counted, True),
    (direct_pages_untranslated, True),
    (direct_entries_linear, True),
    (tracked_pages_validate, True),
    (guest_tlb_coherent, False),
    (root_count_matches_roots, False),
)
SHADOW_REFUTABLE: tuple[tuple[Check, bool], ...] = (
    (desc_means_several_parents, True),
    (bit0_clear_means_one_parent, True),
    (unsync_children_exact, True),
)
