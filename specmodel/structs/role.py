"""``union kvm_mmu_page_role`` (arch/x86/include/asm/kvm_host.h): the newest bit layout known.

That is the ~v6.8 layout (004a0aa56ede) plus ``is_mirror`` at bit 19 (~v6.14, FACTS A and B);
each bit's ``since``/``until`` says which kernels have it, and :data:`FORMER_BITS` lists the
bits older kernels named differently.

Each bit field declares its width and position once, with :class:`~specmodel.structs.bits.Bits`;
``word`` and ``from_word`` read the layout back from the field metadata.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Final, NoReturn, Self

from pydantic import BaseModel, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from specmodel.kernel import ACC_ALL, ACC_EXEC_MASK, ACC_USER_MASK, ACC_WRITE_MASK
from specmodel.structs.bits import ERROR_TYPE, Bits, Former, StrictBool, StrictInt

__all__ = [
    "ACC_ALL",
    "ACC_EXEC_MASK",
    "ACC_USER_MASK",
    "ACC_WRITE_MASK",
    "UNUSED_BITS",
    "KvmMmuPageRole",
    "role_bits",
]

#: Bits 20-23 of the word belong to no field (bit 19 is ``is_mirror`` since ~v6.14).
UNUSED_BITS: Final = tuple(range(20, 24))
#: Role bits older kernels had under another name (the same bit, read differently).
FORMER_BITS: Final[tuple[Former, ...]] = (
    Former(
        "role.gpte_is_8_bytes",
        "unsigned int:1",
        until="v5.18",
        used_by="shadow",
        renamed_to="role.has_4_byte_gpte",
        description="inverted sense: the old bit was 1 for 8-byte gptes, the new one is 1 "
        "for 4-byte gptes",
    ),
    Former(
        "role.nxe",
        "unsigned int:1",
        until="v5.18",
        used_by="both",
        renamed_to="role.efer_nx",
        description="same meaning; version approximate",
    ),
)
_WORD_MAX: Final = 2**32 - 1
#: Levels a page with 4-byte gptes can have: 1 (page tables) and 2 (the PAE roots that shadow
#: a 32-bit guest's page directory).
_MAX_4_BYTE_GPTE_LEVEL: Final = 2
#: The only level passthrough marks: a 5-level root shadowing L1's 4-level NPT
#: (``kvm_init_shadow_npt_mmu``, FACTS B correction); never level 4.
_PASSTHROUGH_LEVEL: Final = 5


class KvmMmuPageRole(BaseModel, frozen=True, extra="forbid"):
    """``union kvm_mmu_page_role``: the part of the MMU mode that decides whether a shadow
    page can be shared; KVM finds a page by ``(gfn, role.word)``, so the model is hashable.

    The model restricts ``smm`` to 0 and 1 (the kernel stores 8 bits but only ever uses these
    two) and treats bits 20-23 as unused. Ints and bools are strict: ``level=True`` and
    ``direct=1`` are rejected (``from_word`` converts the bits it unpacks). The model is frozen
    (it is a hash key), so assigning to a bit raises ``ValidationError``.
    """

    ACC_EXEC_MASK: ClassVar[int] = ACC_EXEC_MASK
    ACC_WRITE_MASK: ClassVar[int] = ACC_WRITE_MASK
    ACC_USER_MASK: ClassVar[int] = ACC_USER_MASK
    ACC_ALL: ClassVar[int] = ACC_ALL

    level: Annotated[
        StrictInt,
        Bits(4, 0, values="1..5"),
        Field(description="Paging level of the page: 1 holds 4K PTEs, 4 and 5 are 64-bit roots."),
    ]
    has_4_byte_gpte: Annotated[
        StrictBool,
        Bits(1, 4, used_by="shadow", since="v5.18"),
        Field(
            description="The guest uses 32-bit page table entries (no PAE); direct children "
            "inherit it from their parent."
        ),
    ] = False
    quadrant: Annotated[
        StrictInt,
        Bits(2, 5, used_by="shadow"),
        Field(
            description="Which slice of a 4-byte-gpte guest table this page shadows: a half "
            "for level 1, a quarter for the level-2 PAE roots; 0 otherwise."
        ),
    ] = 0
    direct: Annotated[
        StrictBool,
        Bits(1, 7),
        Field(
            description="The page maps a linear range of gfns rather than shadowing a guest "
            "page table (TDP, guest paging off, or a guest huge page split into small ones)."
        ),
    ] = False
    access: Annotated[
        StrictInt,
        Bits(3, 8),
        Field(
            description="Guest permissions granted by the parent entries, as ACC_* bits "
            "(exec 1, write 2, user 4); roots and TDP pages use ACC_ALL."
        ),
    ] = 0
    invalid: Annotated[
        StrictBool,
        Bits(1, 11),
        Field(
            description="Set once the page is zapped, or once a TDP root is invalidated; never "
            "cleared, and it keeps lookups from matching the page."
        ),
    ] = False
    efer_nx: Annotated[
        StrictBool,
        Bits(1, 12, since="v5.18"),
        Field(
            description="The NX bit may be used in this page's entries; forced on for ordinary "
            "shadow paging and TDP, L1's EFER.NX for nested NPT, off for shadow EPT."
        ),
    ] = False
    cr0_wp: Annotated[
        StrictBool,
        Bits(1, 13),
        Field(
            description="Guest CR0.WP under shadow paging; forced to 1 for TDP and 0 for "
            "shadow EPT."
        ),
    ] = False
    smep_andnot_wp: Annotated[
        StrictBool,
        Bits(1, 14, used_by="shadow"),
        Field(description="Guest CR4.SMEP is on while CR0.WP is off; needs cr0_wp = 0."),
    ] = False
    smap_andnot_wp: Annotated[
        StrictBool,
        Bits(1, 15, used_by="shadow"),
        Field(description="Guest CR4.SMAP is on while CR0.WP is off; needs cr0_wp = 0."),
    ] = False
    ad_disabled: Annotated[
        StrictBool,
        Bits(1, 16),
        Field(
            description="Accessed/dirty bits are unavailable (EPT without A/D, or shadow EPT "
            "where L1 turned them off)."
        ),
    ] = False
    guest_mode: Annotated[
        StrictBool,
        Bits(1, 17, documented_since="v6.7"),
        Field(description="The page belongs to an MMU used while L2 (a nested guest) runs."),
    ] = False
    passthrough: Annotated[
        StrictBool,
        Bits(1, 18, used_by="shadow", documented_since="v5.19", since="v5.19"),
        Field(
            description="A level-5 root with no guest table of its own whose first entry "
            "leads to the guest's root (5-level NPT over L1's 4-level NPT); never level 4, "
            "and children never have it."
        ),
    ] = False
    is_mirror: Annotated[
        StrictBool,
        Bits(1, 19, used_by="tdp", documented=False, since="v6.14"),
        Field(
            description="The page belongs to a TDX mirror page table, whose changes KVM "
            "forwards to the external copy the TDX module keeps (later kernels)."
        ),
    ] = False
    smm: Annotated[
        StrictInt,
        Bits(8, 24, values="0, 1"),
        Field(
            description="1 when the page serves System Management Mode, which picks the "
            "memslot address space; the top byte so it is read with a shift."
        ),
    ] = 0

    @property
    def word(self) -> int:
        """The role packed into the kernel's 32-bit ``role.word``."""
        word = 0
        for name, bits in role_bits().items():
            word |= int(getattr(self, name)) << bits.shift
        return word

    @classmethod
    def from_word(cls, word: int) -> KvmMmuPageRole:
        """Unpack a 32-bit ``role.word``; a bad word raises ``pydantic.ValidationError``."""
        if isinstance(word, bool) or not isinstance(word, int):
            _reject(word, f"role.word must be an int (got {word!r})")
        if not 0 <= word <= _WORD_MAX:
            _reject(
                word, f"role.word must be 0..0xffffffff (got {word if word < 0 else hex(word)})"
            )
        unused = [bit for bit in UNUSED_BITS if word >> bit & 1]
        if unused:
            _reject(
                word,
                f"role.word must leave unused bits {UNUSED_BITS[0]}-{UNUSED_BITS[-1]} clear "
                f"(got {word:#010x}, bits {', '.join(map(str, unused))} set)",
            )
        values: dict[str, int | bool] = {}
        for name, bits in role_bits().items():
            value = bits.extract(word)
            # strict bools: a one-bit field unpacks to False/True, not 0/1
            values[name] = bool(value) if _BOOL_FIELDS[name] else value
        return cls.model_validate(values)

    @model_validator(mode="after")
    def _cross_bit_rules(self) -> Self:
        """The rules between bits that a role alone can check (FACTS F, invariant 9)."""
        four = int(self.has_4_byte_gpte)
        if self.quadrant and not four:
            _fail(
                f"role.quadrant={self.quadrant} requires role.has_4_byte_gpte=1 "
                "(got has_4_byte_gpte=0)"
            )
        if four and self.level > _MAX_4_BYTE_GPTE_LEVEL:
            _fail(f"role.has_4_byte_gpte=1 requires role.level <= 2 (got level={self.level})")
        if four and self.level == 1 and self.quadrant > 1:
            _fail(
                "role.has_4_byte_gpte=1 with role.level=1 requires role.quadrant 0..1 "
                f"(got quadrant={self.quadrant})"
            )
        for name in ("smep_andnot_wp", "smap_andnot_wp"):
            if getattr(self, name) and self.cr0_wp:
                _fail(f"role.{name}=1 requires role.cr0_wp=0 (got cr0_wp=1)")
        if self.passthrough and (self.level != _PASSTHROUGH_LEVEL or self.direct):
            _fail(
                "role.passthrough=1 requires a level-5 shadow root: role.level=5 and "
                f"role.direct=0 (got level={self.level}, direct={int(self.direct)})"
            )
        return self


def role_bits() -> dict[str, Bits]:
    """Each role field's :class:`Bits`, in bit order, read from the model's field metadata."""
    return _ROLE_BITS


def _read_role_bits() -> dict[str, Bits]:
    found = {
        name: next(meta for meta in info.metadata if isinstance(meta, Bits))
        for name, info in KvmMmuPageRole.model_fields.items()
    }
    return dict(sorted(found.items(), key=lambda item: item[1].shift))


_ROLE_BITS: Final = _read_role_bits()
_BOOL_FIELDS: Final = {
    name: KvmMmuPageRole.model_fields[name].annotation is bool for name in _ROLE_BITS
}


def _fail(message: str) -> NoReturn:
    raise PydanticCustomError(ERROR_TYPE, "{message}", {"message": message})


def _reject(word: object, message: str) -> NoReturn:
    error = PydanticCustomError(ERROR_TYPE, "{message}", {"message": message})
    detail = InitErrorDetails(type=error, loc=("word",), input=word)
    raise ValidationError.from_exception_data(KvmMmuPageRole.__name__, [detail])
