"""``struct kvm_mmu_page`` (arch/x86/kvm/mmu/mmu_internal.h): the newest layout the model knows.

The members are those of the ~v6.9 source (89ea60c2c7b5) plus the later ones FACTS section A
records (``external_spt`` ~v6.14, ``has_mapped_host_mmio`` ~v6.16); each member's ``since`` /
``until`` (``specmodel.structs.versions``) says which kernels have it, and
:data:`FORMER_MEMBERS` lists what older kernels had instead (~v5.10 source, 02c00b3a2f7e).
Each member carries a :class:`~specmodel.structs.bits.CField` (C type, mmu.rst coverage, which MMU
uses it, allowed values) that docs and lint read back from the model.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal, NoReturn, Self

from pydantic import BaseModel, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from specmodel.structs.bits import (
    ERROR_TYPE,
    S32,
    U8,
    U32,
    U64,
    ZERO_SPT,
    Bitmap512,
    CField,
    Former,
    Spt,
    SptePointer,
    StrictBool,
)
from specmodel.structs.role import KvmMmuPageRole

__all__ = ["KvmMmuPage", "ListName", "SptePointer"]

#: The kernel lists a page's ``link`` can be on.
ListName = Literal["active_mmu_pages", "invalid_list", "tdp_mmu_roots"]

#: Union members each MMU leaves unset (``None``), and what it holds in the other's place.
_UNION_FOR_SHADOW: Final = ("mmu_valid_gen", "root_count", "parent_ptes")
_UNION_FOR_TDP: Final = ("tdp_mmu_scheduled_root_to_zap", "tdp_mmu_root_count")
#: Fields only the shadow MMU changes: a TDP page keeps them at these values.
_SHADOW_ONLY_AT_REST: Final[dict[str, object]] = {
    "hash_link": False,
    "unsync": False,
    "unsync_children": 0,
    "unsync_child_bitmap": 0,
    "write_flooding_count": 0,
    "clear_spte_count": 0,
}


#: Members older kernels had that the newest layout does not (renamed or removed).
FORMER_MEMBERS: Final[tuple[Former, ...]] = (
    Former(
        "lpage_disallowed_link",
        "struct list_head",
        until="v6.0",
        used_by="both",
        documented=False,
        renamed_to="possible_nx_huge_page_link",
        description="same list, renamed with lpage_disallowed (a July 2022 patch, v6.0 or v6.1)",
    ),
    Former(
        "mmio_cached",
        "bool",
        until="v6.9",  # present in ~v5.10, gone by the ~v6.9 snapshot
        used_by="shadow",
        documented=False,
        description="some SPTE of the page caches an MMIO access; removed",
    ),
    Former(
        "lpage_disallowed",
        "bool",
        until="v6.0",
        used_by="both",
        documented=False,
        renamed_to="nx_huge_page_disallowed",
        description="same meaning (no huge page because of the NX huge page mitigation); "
        "renamed with lpage_disallowed_link (v6.0 or v6.1)",
    ),
    Former(
        "gfns",
        "gfn_t *",
        until="v6.0",
        used_by="shadow",
        documented=True,
        renamed_to="shadowed_translation",
        description="the array of gfns became an array of gfn plus guest access (ACC_* in "
        "the low bits): type gfn_t * -> u64 *",
    ),
)


class KvmMmuPage(BaseModel, validate_assignment=True, extra="forbid"):
    """``struct kvm_mmu_page``: one page table page that KVM builds for the hardware.

    Union members are exclusive: a shadow page (``tdp_mmu_page=False``) has ``mmu_valid_gen``,
    ``root_count`` and ``parent_ptes`` and leaves the TDP members ``None``; a TDP page the
    reverse. Members not given take what a newly allocated page holds: a shadow page starts on
    ``active_mmu_pages`` and in the hash, generation 0, no roots, no parents, and (when
    indirect) a zeroed ``shadowed_translation``; a TDP page starts on no list with a root count
    of 0. List heads are modelled as the name of the list the page is on, pointers as page ids.
    Assignments are validated like construction (``page.root_count = 2**32`` raises and
    leaves the page unchanged), the page's rules included; ints and bools are strict
    (``level=True`` or ``gfn="12"`` is rejected) and each int member is bounded by its C type
    (``C_RANGES`` in ``bits``). ``model_construct()`` skips both the checks and the filling of
    union members.
    """

    link: Annotated[
        ListName | None,
        CField("struct list_head", documented=False, used_by="both"),
        Field(
            description="The list the page is on: the VM's active_mmu_pages (shadow pages, "
            "newest first), a local invalid_list while being zapped, or tdp_mmu_roots (TDP "
            "roots); None when on none."
        ),
    ] = None
    hash_link: Annotated[
        StrictBool,
        CField("struct hlist_node", documented=False, used_by="shadow"),
        Field(description="The page is in the VM's mmu_page_hash bucket for its gfn."),
    ] = False
    tdp_mmu_page: Annotated[
        StrictBool,
        CField("bool", documented=True, used_by="both", documented_since="v6.7"),
        Field(description="The page belongs to the TDP MMU rather than the shadow MMU."),
    ] = False
    unsync: Annotated[
        StrictBool,
        CField("bool", documented=True, used_by="shadow"),
        Field(
            description="The guest may have changed the table this page shadows without a "
            "fault, so the SPTEs can be stale; only indirect level-1 pages."
        ),
    ] = False
    mmu_valid_gen: Annotated[
        U8 | None,
        CField(
            "u8",
            documented=True,
            used_by="shadow",
            values="0, 1",
            documented_since="v6.7",
            union="tdp_mmu_scheduled_root_to_zap",
        ),
        Field(
            description="The VM's generation when the page was created; a page whose value "
            "differs from the VM's is obsolete. Shadow pages only; None on TDP pages."
        ),
    ] = None
    tdp_mmu_scheduled_root_to_zap: Annotated[
        StrictBool | None,
        CField("bool", documented=False, used_by="tdp", union="mmu_valid_gen", since="v6.6"),
        Field(
            description="A TDP root invalidated by the fast zap and still waiting to be "
            "zapped; None on shadow pages."
        ),
    ] = None
    nx_huge_page_disallowed: Annotated[
        StrictBool,
        CField("bool", documented=False, used_by="both", since="v6.0"),
        Field(
            description="A huge page may not replace this page because it maps executable "
            "memory under the NX huge page mitigation."
        ),
    ] = False
    role: Annotated[
        KvmMmuPageRole,
        CField("union kvm_mmu_page_role", documented=True, used_by="both"),
        Field(description="The page's role; with gfn, the key KVM looks pages up by."),
    ]
    gfn: Annotated[
        U64,
        CField("gfn_t", documented=True, used_by="both"),
        Field(
            description="For a page shadowing a guest table, that table's gfn; for a direct "
            "page, the first gfn of the range it maps; 0 for TDP roots."
        ),
    ]
    spt: Annotated[
        Spt,
        CField("u64 *", documented=True, used_by="both"),
        Field(description="The 512 SPTEs of the page, as the hardware walks them."),
    ] = ZERO_SPT
    shadowed_translation: Annotated[
        Spt | None,
        CField("u64 *", documented=True, used_by="shadow", documented_since="v6.7", since="v6.0"),
        Field(
            description="For each SPTE, the guest gfn (above bit 12) and guest access (ACC_* "
            "in the low bits) it stands for; present only on indirect shadow pages."
        ),
    ] = None
    root_count: Annotated[
        S32 | None,
        CField(
            "int",
            documented=True,
            used_by="shadow",
            values="0..2147483647",
            union="tdp_mmu_root_count",
        ),
        Field(
            description="How many vCPU root slots (current, cached previous, PAE) point at "
            "the page; it is not freed while above 0 and never goes below it. None on TDP "
            "pages."
        ),
    ] = None
    tdp_mmu_root_count: Annotated[
        S32 | None,
        CField(
            "refcount_t",
            documented=True,
            used_by="tdp",
            values="0..2147483647",
            documented_since="v6.7",
            union="root_count",
            since="v5.13",
        ),
        Field(
            description="References to a TDP root (a new root holds one for its vCPU and one "
            "for the TDP MMU); None on shadow pages."
        ),
    ] = None
    has_mapped_host_mmio: Annotated[
        StrictBool,
        CField("bool", documented=False, used_by="both", since="v6.16"),
        Field(
            description="Some SPTE of the page has mapped host MMIO memory, which the "
            "mitigation of MMIO stale data needs to know (later kernels)."
        ),
    ] = False
    unsync_children: Annotated[
        U32,
        CField("unsigned int", documented=True, used_by="shadow", union="external_spt"),
        Field(description="How many bits of unsync_child_bitmap are set."),
    ] = 0
    write_flooding_count: Annotated[
        S32,
        CField(
            "atomic_t",
            documented=True,
            used_by="shadow",
            values="0..2147483647",
            union="external_spt",
        ),
        Field(
            description="Emulated guest writes to the shadowed table since the page was last "
            "used; upper-level pages are zapped when it reaches 3."
        ),
    ] = 0
    external_spt: Annotated[
        StrictBool,
        CField(
            "void *",
            documented=False,
            used_by="tdp",
            union="unsync_children, write_flooding_count",
            since="v6.14",
        ),
        Field(
            description="The page has an external page table page (TDX: the copy the TDX "
            "module keeps for a mirror page); shares storage with unsync_children and "
            "write_flooding_count, so TDP pages only (later kernels)."
        ),
    ] = False
    parent_ptes: Annotated[
        tuple[SptePointer, ...] | None,
        CField("struct kvm_rmap_head", documented=True, used_by="shadow", union="ptep"),
        Field(
            description="Every SPTE, as (page id, index), that points at this page; None on "
            "TDP pages."
        ),
    ] = None
    ptep: Annotated[
        SptePointer | None,
        CField(
            "tdp_ptep_t",
            documented=True,
            used_by="tdp",
            documented_since="v6.7",
            union="parent_ptes",
            since="v6.9",  # first seen in the ~v6.9 snapshot; absent in ~v5.10
        ),
        Field(
            description="The one SPTE, as (page id, index), that points at this TDP page; "
            "None for roots and on shadow pages."
        ),
    ] = None
    unsync_child_bitmap: Annotated[
        Bitmap512,
        CField("unsigned long[BITS_TO_LONGS(512)]", documented=True, used_by="shadow"),
        Field(
            description="Bit i set: SPTE i leads, possibly through lower pages, to an unsync page."
        ),
    ] = 0
    possible_nx_huge_page_link: Annotated[
        Literal["possible_nx_huge_pages"] | None,
        CField("struct list_head", documented=False, used_by="both", since="v6.0"),
        Field(
            description="possible_nx_huge_pages when zapping this page could let KVM map an "
            "NX huge page in its place; None otherwise."
        ),
    ] = None
    clear_spte_count: Annotated[
        S32,
        CField("int", documented=True, used_by="shadow", config="CONFIG_X86_32"),
        Field(
            description="Bumped when a present SPTE is cleared, so lockless readers on 32-bit "
            "hosts notice a torn read and retry; only compared for change, so any int."
        ),
    ] = 0
    rcu_head: Annotated[
        StrictBool,
        CField(
            "struct rcu_head",
            documented=False,
            used_by="tdp",
            config="CONFIG_X86_64",
            since="v5.13",
        ),
        Field(description="The page is queued to be freed after an RCU grace period."),
    ] = False

    def __setattr__(self, name: str, value: object) -> None:
        """Validate the assignment (field and page rules); on an error the page is unchanged.

        Pydantic stores the new value before the page's rules run; restore the old state so a
        rejected assignment leaves no half-changed page behind.
        """
        before = dict(self.__dict__)
        fields_set = set(self.__pydantic_fields_set__)
        try:
            super().__setattr__(name, value)
        except ValidationError:
            self.__dict__.clear()
            self.__dict__.update(before)
            object.__setattr__(self, "__pydantic_fields_set__", fields_set)
            raise

    @property
    def is_root(self) -> bool:
        """Whether some root reference holds the page (``root_count`` or TDP refcount > 0)."""
        return bool(self.tdp_mmu_root_count if self.tdp_mmu_page else self.root_count)

    @model_validator(mode="after")
    def _fill_and_check(self) -> Self:
        """Fill unset union members for the page's MMU, then check the page's invariants."""
        given = self.model_fields_set
        fresh: dict[str, object]
        if self.tdp_mmu_page:
            fresh = {"tdp_mmu_scheduled_root_to_zap": False, "tdp_mmu_root_count": 0}
        else:
            fresh = {"mmu_valid_gen": 0, "root_count": 0, "parent_ptes": ()}
            fresh |= {"link": "active_mmu_pages", "hash_link": True}
            if not self.role.direct:
                fresh["shadowed_translation"] = ZERO_SPT
        for name, value in fresh.items():
            if name not in given:
                # Bypass __setattr__ so model_fields_set still shows what the caller gave.
                self.__dict__[name] = value
        if self.tdp_mmu_page:
            self._check_tdp()
        else:
            self._check_shadow()
        self._check_common()
        return self

    def _check_shadow(self) -> None:
        for name in (*_UNION_FOR_TDP, "ptep"):
            if getattr(self, name) is not None:
                _fail(f"{name} must be None on a shadow page, tdp_mmu_page=False", self, name)
        for name in _UNION_FOR_SHADOW:
            if getattr(self, name) is None:
                _fail(f"{name} must be set on a shadow page, tdp_mmu_page=False", self, name)
        if self.link == "tdp_mmu_roots":
            _fail("link must not be tdp_mmu_roots on a shadow page", self, "link")
        if self.rcu_head:
            _fail("rcu_head must be False on a shadow page", self, "rcu_head")
        if self.external_spt:
            _fail(
                "external_spt must be False on a shadow page (its storage holds "
                "unsync_children and write_flooding_count)",
                self,
                "external_spt",
            )
        indirect = not self.role.direct
        if indirect and self.shadowed_translation is None:
            _fail(
                "shadowed_translation must be a tuple of 512 u64 on an indirect page, "
                "role.direct=0",
                self,
                "shadowed_translation",
            )
        if self.unsync and (self.role.level != 1 or self.role.direct):
            _fail(
                "unsync=True requires role.level=1 and role.direct=0 "
                f"(got level={self.role.level}, direct={int(self.role.direct)})"
            )
        if self.root_count and self.role.direct and self.role.has_4_byte_gpte:
            _fail(
                f"a direct root (root_count={self.root_count}, role.direct=1) requires "
                "role.has_4_byte_gpte=0 (got has_4_byte_gpte=1)"
            )

    def _check_tdp(self) -> None:
        for name in _UNION_FOR_SHADOW:
            if getattr(self, name) is not None:
                _fail(f"{name} must be None on a TDP page, tdp_mmu_page=True", self, name)
        for name in _UNION_FOR_TDP:
            if getattr(self, name) is None:
                _fail(f"{name} must be set on a TDP page, tdp_mmu_page=True", self, name)
        for name, rest in _SHADOW_ONLY_AT_REST.items():
            if getattr(self, name) != rest:
                _fail(f"{name} must be {rest} on a TDP page, tdp_mmu_page=True", self, name)
        if self.link in ("active_mmu_pages", "invalid_list"):
            _fail("link must be None or tdp_mmu_roots on a TDP page", self, "link")
        if not self.role.direct or self.role.has_4_byte_gpte:
            _fail(
                "tdp_mmu_page=True requires role.direct=1 and role.has_4_byte_gpte=0 (got "
                f"direct={int(self.role.direct)}, has_4_byte_gpte={int(self.role.has_4_byte_gpte)})"
            )
        if self.tdp_mmu_root_count and self.ptep is not None:
            _fail(
                f"a TDP root (tdp_mmu_root_count={self.tdp_mmu_root_count}) requires ptep=None",
                self,
                "ptep",
            )

    def _check_common(self) -> None:
        if self.role.direct and self.shadowed_translation is not None:
            _fail(
                "shadowed_translation must be None on a direct page, role.direct=1",
                self,
                "shadowed_translation",
            )
        if self.unsync_children != self.unsync_child_bitmap.bit_count():
            _fail(
                "unsync_children must equal the bits set in unsync_child_bitmap "
                f"({self.unsync_child_bitmap.bit_count()})",
                self,
                "unsync_children",
            )


def _fail(message: str, page: KvmMmuPage | None = None, name: str | None = None) -> NoReturn:
    """Raise a rule violation; with ``name``, append the value ``page`` has there."""
    if page is not None and name is not None:
        value = getattr(page, name)
        long = isinstance(value, tuple) and len(value) > 4
        shown = f"a tuple of {len(value)}" if long else repr(value)
        message = f"{message} (got {name}={shown})"
    raise PydanticCustomError(ERROR_TYPE, "{message}", {"message": message})
