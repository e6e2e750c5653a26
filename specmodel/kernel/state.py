"""The explorer's compact, hashable state of the model, and a mutable working copy of it.

States are nested tuples of ints and bools only (no strings or enums), so that hashing is
deterministic across runs and states can be deduplicated exactly. ``Work`` is the mutable
copy a step edits; ``Work.freeze()`` turns it back into a ``State``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final, NamedTuple, overload

from mypy_extensions import mypyc_attr

from specmodel.errors import UseAfterFree

# Bits of the role word used by the model (positions as in union kvm_mmu_page_role).
ROLE_LEVEL_MASK = 0xF
ROLE_DIRECT = 1 << 7
ROLE_ACCESS_SHIFT = 8
ROLE_INVALID = 1 << 11
ROLE_EFER_NX = 1 << 12
ROLE_CR0_WP = 1 << 13
ROLE_GUEST_MODE = 1 << 17

# Where ``sp->link`` is linked.
LINK_NONE = 0
LINK_ACTIVE = 1  # kvm->arch.active_mmu_pages
LINK_INVALID_LIST = 2  # a local invalid_list awaiting kvm_mmu_commit_zap_page()
LINK_TDP_ROOTS = 3  # kvm->arch.tdp_mmu_roots

NO_PAGE = -1
#: spt entry value for a leaf SPTE (maps guest memory, no child page).
LEAF = -3  # not -2: CPython hashes -1 and -2 alike, and states are fingerprinted

# Ghost hazard bits recorded in ``VmState.hazard`` by transitions (see invariants.py).
HAZARD_LOOKUP_OBSOLETE = 1  # lookup returned an obsolete page
HAZARD_LOOKUP_STALE = 2  # lookup returned a page created before the latest generation switch
HAZARD_CREATED_OLD_GEN = 4  # a page was created with a generation other than the VM's
HAZARD_USE_AFTER_FREE = 16  # a list or pointer operation touched a freed page
HAZARD_FREED_PINNED = 32  # kvm_mmu_commit_zap_page() freed a page with root_count > 0
HAZARD_SWITCH_WROTE_PAGE = 64  # the generation switch wrote a page
HAZARD_ENTERED_OBSOLETE = 128  # a vCPU entered the guest on an obsolete root
#: A list walk or list_del followed a pointer that list_del had set to LIST_POISON: in the
#: kernel a general protection fault (a host oops), not a use of freed memory.
HAZARD_POISONED_POINTER = 256


@mypyc_attr(native_class=False)  # mypyc: a native class cannot subclass UseAfterFree
class PoisonedPointer(UseAfterFree):
    """A dereference of LIST_POISON1/2 (``list_del`` poisons an entry's ``next``/``prev``).

    A subclass of UseAfterFree so that a step stops the same way; invariants and traces
    tell the two apart (a poisoned pointer faults at once, a freed page may be reused)."""


#: Stands for None in a Page's hash (any fixed value that no field takes).
_NONE_HASH: Final = -0x6E6F6E65


class Page(NamedTuple):
    """One ``struct kvm_mmu_page`` as the explorer stores it (see vm.py for the full view)."""

    gfn: int
    role: int  # role.word
    gen: int  # mmu_valid_gen (shadow pages)
    root_count: int  # root_count (shadow) or tdp_mmu_root_count (TDP)
    parents: tuple[tuple[int, int], ...]  # parent_ptes (shadow) / ptep (TDP): (page id, index)
    spt: tuple[int, ...]  # child page id, LEAF or NO_PAGE per modelled SPTE
    tdp: bool  # tdp_mmu_page
    scheduled: bool  # tdp_mmu_scheduled_root_to_zap
    link: int  # LINK_*
    freed: bool
    epoch: int  # ghost: generation switches started before this page was allocated
    # Fields only the guest_pt_writes scenario tracks (kernel/unsync.py, flooding.py,
    # rmap.py, direct.py); every other scenario leaves these defaults.
    unsync: bool = False
    unsync_children: int = 0
    unsync_child_bitmap: int = 0
    write_flooding_count: int = 0
    #: parent_ptes as the kernel encodes it (rmap.py); None: the scenario does not track it.
    parent_ptes: tuple[int, ...] | None = None
    #: shadowed_translation: per SPTE the gfn it stands for; None when not allocated.
    shadowed_translation: tuple[int, ...] | None = None
    #: ghost: emulated guest writes to the page's gfn while the page was valid.
    emulated_writes: int = 0

    def __hash__(self) -> int:
        # hash(None) is the address of None in CPython 3.11, so it differs between processes;
        # fingerprints must not (a swarm merges the states its Ray workers saw)
        # the same tuple as mapping None to _NONE_HASH in every field, built without a
        # generator: only these two fields can be None, and this runs for every new page set
        ptes = self[15]
        sts = self[16]
        if ptes is None or sts is None:
            return hash(
                (
                    *self[:15],
                    _NONE_HASH if ptes is None else ptes,
                    _NONE_HASH if sts is None else sts,
                    *self[17:],
                )
            )
        return tuple.__hash__(self)

    @property
    def level(self) -> int:
        return self.role & ROLE_LEVEL_MASK

    @property
    def invalid(self) -> bool:
        return bool(self.role & ROLE_INVALID)


# Page.__hash__ indexes the two fields that may be None
assert Page._fields.index("parent_ptes") == 15
assert Page._fields.index("shadowed_translation") == 16


class VmState(NamedTuple):
    """``struct kvm`` / ``kvm->arch`` fields the model tracks, plus the locks."""

    mmu_valid_gen: int
    active: tuple[int, ...]  # active_mmu_pages, newest first
    tdp_roots: tuple[int, ...]  # tdp_mmu_roots
    slots_lock: int  # owning thread id, or -1
    mmu_writer: int  # thread holding mmu_lock for write, or -1
    mmu_readers: int  # bitmask of threads holding mmu_lock for read
    mmu_queue: tuple[tuple[int, bool], ...]  # waiters: (thread id, wants write)
    slots_queue: tuple[int, ...]  # waiters for slots_lock
    n_used_mmu_pages: int
    epoch: int  # ghost: generation switches started so far
    hazard: int  # ghost: HAZARD_* bits
    #: kvm->arch.zapped_obsolete_pages (v6.9), where the fast zap collects its pages when
    #: the scenario runs the MMU shrinker (Config.shrinker); otherwise the zapper keeps them.
    zapped: tuple[int, ...] = ()
    #: Guest memory holding the guest's page tables (guest_pt.py); empty elsewhere.
    guest_memory: tuple[int, ...] = ()


def _fast_replace(cls: type[Any]) -> None:
    """Give a NamedTuple a ``_replace`` several times cheaper than the generic one (the
    explorer calls it for nearly every step)."""
    index = {name: i for i, name in enumerate(cls._fields)}
    new = tuple.__new__

    def _replace(self: tuple[Any, ...], **changes: Any) -> Any:
        values = list(self)
        for name, value in changes.items():
            values[index[name]] = value
        return new(cls, values)

    cls._replace = _replace


_fast_replace(Page)


class Pages(Sequence[Page]):
    """The pages of a state: an immutable sequence that computes its hash once.

    Most steps leave the pages alone and share this object with the previous state, so
    hashing a state for deduplication does not walk every page again.
    """

    __slots__ = ("_hash", "_items")

    def __init__(self, items: Iterable[Page] = ()) -> None:
        self._items: tuple[Page, ...] = tuple(items)
        self._hash: int | None = None

    @overload
    def __getitem__(self, index: int) -> Page: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[Page, ...]: ...
    def __getitem__(self, index: int | slice) -> Page | tuple[Page, ...]:
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Page]:
        return iter(self._items)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(self._items)
        return self._hash

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, Pages):
            return NotImplemented
        return hash(self) == hash(other) and self._items == other._items

    def __lt__(self, other: Pages) -> bool:
        return self._items < other._items

    def __repr__(self) -> str:
        return f"Pages({list(self._items)!r})"


_fast_replace(VmState)


#: One object per distinct page set. An exploration meets few of them (64 in fast_zap with
#: 2 vCPUs and 16 pages, against 100k states), so sharing them saves memory in the search
#: frontier and lets caches keyed by the page set hit.
_INTERNED: dict[Pages, Pages] = {}


#: The same for VmState values (about 1,200 distinct ones in that exploration).
_VMS: dict[VmState, VmState] = {}

#: The same for a thread's locals: states in the search frontier differ in one thread's
#: locals at a time, so sharing the others' tuples keeps a frontier state to the few refs
#: that are its own (measured: 153 -> 93 bytes a state in concurrent_zaps, 2 vCPUs, 24 pages).
_LOCALS: dict[tuple[Any, ...], tuple[Any, ...]] = {}


def intern_pages(pages: Pages) -> Pages:
    """The shared object equal to ``pages``."""
    shared = _INTERNED.get(pages)
    if shared is None:
        if len(_INTERNED) >= 1 << 16:
            _INTERNED.clear()  # bounded: losing it only loses sharing
        _INTERNED[pages] = shared = pages
    return shared


class State(NamedTuple):
    vm: VmState
    pages: Pages
    #: Per-thread locals; each program owns its layout (ints, and tuples of ints).
    threads: tuple[tuple[Any, ...], ...]


class Work:
    """A mutable working copy of a ``State`` that one step edits."""

    __slots__ = (
        "_pages_list",
        "_threads0",
        "_vm0",
        "notes",
        "pages",
        "prepared",
        "threads",
        "tid",
        "vm",
    )

    def __init__(self, state: State, tid: int) -> None:
        self.vm = self._vm0 = state.vm
        #: Read-only until the first write (copy on write keeps unchanged page tuples shared
        #: between states, which makes hashing and the invariant cache cheaper).
        self.pages: Sequence[Page] = state.pages
        self._pages_list: list[Page] | None = None
        self._threads0 = state.threads
        self.threads = list(state.threads)
        self.tid = tid
        #: What kernel functions did during the step, for the trace.
        self.notes: list[str] = []
        #: __kvm_mmu_prepare_zap_page() calls made in this step (for the wait metrics).
        self.prepared = 0

    def freeze(self) -> State:
        pages = self.pages if self._pages_list is None else intern_pages(Pages(self._pages_list))
        assert isinstance(pages, Pages)
        vm = self.vm
        if vm is not self._vm0:
            vm = _VMS.setdefault(vm, vm)
            if len(_VMS) >= 1 << 16:
                _VMS.clear()
        threads = self.threads
        for i, (old, new) in enumerate(zip(self._threads0, threads, strict=True)):
            if new is not old:
                shared = _LOCALS.get(new)
                if shared is None:
                    if len(_LOCALS) >= 1 << 16:
                        _LOCALS.clear()
                    _LOCALS[new] = shared = new
                threads[i] = shared
        return State(vm, pages, tuple(threads))

    def _writable(self) -> list[Page]:
        if self._pages_list is None:
            self._pages_list = list(self.pages)
            self.pages = self._pages_list
        return self._pages_list

    # -- pages -------------------------------------------------------------------------
    def page(self, pid: int, op: str) -> Page:
        """Dereference ``pid`` for ``op``; touching a freed page is a use-after-free."""
        sp = self.pages[pid]
        if sp.freed:
            self.hazard(HAZARD_USE_AFTER_FREE)
            raise UseAfterFree(f"{op} touched freed sp#{pid}")
        return sp

    def set_page(self, pid: int, sp: Page) -> None:
        self._writable()[pid] = sp

    def adopt_pages(self, pages: Pages) -> Pages:
        """Make ``pages`` (an equal or successor page set) this copy's pages, unwritten."""
        self.pages = pages
        self._pages_list = None
        return pages

    def new_page(self, sp: Page) -> int:
        pages = self._writable()
        pages.append(sp)
        return len(pages) - 1

    def hazard(self, bit: int) -> None:
        self.vm = self.vm._replace(hazard=self.vm.hazard | bit)

    # -- kvm->arch.active_mmu_pages as a doubly linked list ------------------------------
    def list_position(self, pid: int, op: str) -> int:
        """Where a list walk's saved next entry is (``list_for_each_entry_safe_reverse``
        saved it before the body ran). If something took it off the list meanwhile,
        list_del has set its ``prev`` to LIST_POISON2: the walk reads the entry (invalid, so
        skipped) and then follows that pointer, a general protection fault in the host."""
        try:
            return self.vm.active.index(pid)
        except ValueError:
            self.hazard(HAZARD_POISONED_POINTER)
            raise PoisonedPointer(
                f"{op} walked on from sp#{pid}, which list_del took off active_mmu_pages: "
                "its prev pointer is LIST_POISON2 (poisoned list pointers)"
            ) from None

    def list_add_head(self, pid: int) -> None:
        """``list_add(&sp->link, &kvm->arch.active_mmu_pages)``: writes the old head's prev."""
        active = self.vm.active
        if active:
            self.page(active[0], "list_add(active_mmu_pages)")
        self.vm = self.vm._replace(active=(pid, *active))

    def list_add_tail(self, pid: int) -> None:
        active = self.vm.active
        if active:
            self.page(active[-1], "list_add_tail(active_mmu_pages)")
        self.vm = self.vm._replace(active=(*active, pid))

    def list_del(self, pid: int) -> None:
        """``list_del(&sp->link)``: writes both neighbours' pointers. On an entry that a
        first list_del already took off, both pointers are LIST_POISON: writing through
        them is a general protection fault (recorded, not skipped)."""
        active = self.vm.active
        if pid not in active:
            self.hazard(HAZARD_POISONED_POINTER)
            raise PoisonedPointer(
                f"list_del(&sp#{pid}->link) a second time: sp#{pid} is already off "
                "active_mmu_pages, its pointers are LIST_POISON (poisoned list pointers)"
            )
        i = active.index(pid)
        if i > 0:
            self.page(active[i - 1], "list_del(active_mmu_pages)")
        if i + 1 < len(active):
            self.page(active[i + 1], "list_del(active_mmu_pages)")
        self.vm = self.vm._replace(active=active[:i] + active[i + 1 :])


def role_word(level: int, *, direct: bool, guest_mode: bool = False, ept: bool = False) -> int:
    """Role word of the pages the model builds: access ACC_ALL; efer_nx and cr0_wp set,
    except for shadow EPT (``ept``), whose role has both clear (FACTS B)."""
    word = level | (7 << ROLE_ACCESS_SHIFT)
    if not ept:
        word |= ROLE_EFER_NX | ROLE_CR0_WP
    if direct:
        word |= ROLE_DIRECT
    if guest_mode:
        word |= ROLE_GUEST_MODE
    return word


def empty_vm(**fields: Any) -> VmState:
    """A VM before any page exists: generation 0, no lock held or waited for; ``fields``
    override (a scenario's pages, budget or guest memory)."""
    base: dict[str, Any] = {
        "mmu_valid_gen": 0,
        "active": (),
        "tdp_roots": (),
        "slots_lock": -1,
        "mmu_writer": -1,
        "mmu_readers": 0,
        "mmu_queue": (),
        "slots_queue": (),
        "n_used_mmu_pages": 0,
        "epoch": 0,
        "hazard": 0,
    }
    return VmState(**{**base, **fields})
