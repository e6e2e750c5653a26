"""Reusable constraint types and field metadata for the field models.

``Bits`` marks a bit field of ``union kvm_mmu_page_role``; ``CField`` marks a member of
``struct kvm_mmu_page``. Both are declared once per field, enforce the field's allowed values,
reword validation errors as "<field> must be <allowed> (got <value>)", and are read back from
``model_fields[...].metadata`` by :mod:`specmodel.structs.fields`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal

from pydantic import Field, GetCoreSchemaHandler, ValidationError
from pydantic_core import PydanticCustomError, core_schema

#: Which MMU uses a field: the legacy shadow MMU, the TDP MMU, or both.
UsedBy = Literal["shadow", "tdp", "both"]

#: Largest value of a C ``u64``.
U64_MAX: Final = 2**64 - 1
#: Range of a C ``int`` (and of ``atomic_t``/``refcount_t``, which wrap one) on x86.
INT_MIN: Final = -(2**31)
INT_MAX: Final = 2**31 - 1
#: Largest value of a C ``unsigned int`` on x86.
UINT_MAX: Final = 2**32 - 1

#: Inclusive value range of each scalar C type the struct uses, as the C type allows it
#: (x86: 32-bit ``int``, 64-bit ``gfn_t``). ``refcount_t`` wraps an ``atomic_t``, which wraps
#: an ``int``. Types without a single scalar range (pointers, lists) are absent.
C_RANGES: Final[Mapping[str, tuple[int, int]]] = {
    "bool": (0, 1),
    "u8": (0, 255),
    "int": (INT_MIN, INT_MAX),
    "atomic_t": (INT_MIN, INT_MAX),
    "refcount_t": (INT_MIN, INT_MAX),
    "unsigned int": (0, UINT_MAX),
    "u64": (0, U64_MAX),
    "gfn_t": (0, U64_MAX),
}


def c_range_text(c_type: str) -> str | None:
    """The C type's range in :func:`parse_values` form (``"-2**31..2**31-1"``), or None."""
    bounds = C_RANGES.get(c_type)
    if bounds is None:
        return None
    return f"{bounds[0]}..{bounds[1]}"


def c_range_words(c_type: str) -> str | None:
    """The C type's range for messages (``-2**31..2**31-1``; ``false, true`` for bool)."""
    bounds = C_RANGES.get(c_type)
    if bounds is None:
        return None
    if c_type == "bool":
        return "0, 1 (false, true)"
    return f"{format_int(bounds[0])}..{format_int(bounds[1])}"


#: SPTEs per page table page; the length of ``spt`` and ``shadowed_translation``.
SPTES_PER_PAGE: Final = 512

#: Error type of every rewritten field error (``ValidationError.errors()[i]["type"]``).
ERROR_TYPE: Final = "specmodel_value"

_RANGE = re.compile(r"^\s*(-?(?:0x[0-9a-fA-F]+|\d+))\s*\.\.\s*(-?(?:0x[0-9a-fA-F]+|\d+))\s*$")
_BOOL_WORDS: Final[Mapping[str, int]] = {"false": 0, "true": 1}


def parse_values(text: str) -> frozenset[int] | range:
    """Parse the human form of a set of allowed values.

    ``"1..5"`` (both ends included) gives ``range(1, 6)``; ``"0, 1"`` gives ``frozenset({0, 1})``.
    Items may be decimal or ``0x`` hex; ``true`` and ``false`` (any case) stand for 1 and 0,
    because Python's ``True == 1``. Raises ``ValueError`` naming the text otherwise.
    """
    match = _RANGE.match(text)
    if match:
        low, high = int(match[1], 0), int(match[2], 0)
        if low > high:
            raise ValueError(f"values {text!r}: range start {low} is above its end {high}")
        return range(low, high + 1)
    items = [item.strip() for item in text.split(",")]
    if not text.strip() or any(not item for item in items):
        raise ValueError(f"values {text!r}: expected 'A..B' or a comma-separated list like '0, 1'")
    result: set[int] = set()
    for item in items:
        word = _BOOL_WORDS.get(item.lower())
        if word is not None:
            result.add(word)
            continue
        try:
            result.add(int(item, 0))
        except ValueError:
            raise ValueError(
                f"values {text!r}: {item!r} is not an integer, true or false"
            ) from None
    return frozenset(result)


def _bounds(allowed: frozenset[int] | range) -> tuple[int, int]:
    """Return the inclusive ends of a contiguous value set; ``ValueError`` if it has gaps."""
    if isinstance(allowed, range):
        return allowed.start, allowed.stop - 1
    low, high = min(allowed), max(allowed)
    if len(allowed) != high - low + 1:
        raise ValueError(f"values {sorted(allowed)} have gaps; only contiguous sets are supported")
    return low, high


def format_int(n: int) -> str:
    """Render a bound readably: powers of two as ``2**k``, other large numbers in hex."""
    if n < 0:
        if -n >= 2**16 and -n & (-n - 1) == 0:
            return f"-2**{(-n).bit_length() - 1}"
        return str(n) if n > -(2**32) else "-" + format_int(-n)
    if n >= 2**16 and n & (n - 1) == 0:
        return f"2**{n.bit_length() - 1}"
    if n >= 2**16 and (n + 1) & n == 0:
        return f"2**{n.bit_length()}-1"
    return hex(n) if n >= 2**32 else str(n)


def _short(value: object, limit: int = 60) -> str:
    """``repr`` of a given value, big ints as in :func:`format_int`, cut to ``limit``."""
    text = repr(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**16:
        text = format_int(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _expected(error: Mapping[str, Any]) -> tuple[str, str]:
    """What an error says was allowed, and how to show the value given."""
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind in ("too_short", "too_long"):
        # pydantic-core reports only the bound that was crossed.
        bound = f"at least {ctx.get('min_length')}" if kind == "too_short" else "at most"
        if kind == "too_long":
            bound += f" {ctx.get('max_length')}"
        return f"{bound} items", f"{ctx.get('actual_length')} items"
    shown = _short(error["input"])
    bound_words = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<="}
    if kind in bound_words or kind == "less_than":
        op = bound_words.get(kind, "<")
        return f"{op} {format_int(next(iter(ctx.values())))}", shown
    words = {"int": "an int", "bool": "a bool", "tuple": "a tuple", "literal": "one of "}
    for prefix, word in words.items():
        if kind.startswith(prefix):
            return word + str(ctx.get("expected", "")), shown
    return str(error["msg"]).removeprefix("Input should be ").removeprefix("Value error, "), shown


def _where(name: str, loc: tuple[int | str, ...]) -> str:
    return name + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)


def _reworded(name: str, values: str | None) -> Callable[[Any, Any], Any]:
    """A wrap validator that turns the inner schema's errors into one field-naming message."""

    def validate(value: Any, handler: Callable[[Any], Any]) -> Any:
        try:
            return handler(value)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            first = errors[0]
            if first["type"] in (ERROR_TYPE, "value_error", "assertion_error"):
                raise  # already ours (e.g. a nested role's rule): keep its location
            loc = tuple(first["loc"])
            allowed, given = _expected(first)
            if values is not None and not loc:
                # strict types: True is not 1 and "12" is not 12; say which type, then the range
                kind = str(first["type"])
                if kind.endswith("_type") or kind.endswith("_parsing"):
                    allowed = f"{allowed} in {values}" if allowed != "a bool" else allowed
                else:
                    allowed = values
            message = f"{_where(name, loc)} must be {allowed} (got {given})"
            if len(errors) > 1:
                message += f"; {len(errors) - 1} more error(s) in {name}"
            raise PydanticCustomError(ERROR_TYPE, "{message}", {"message": message}) from None

    return validate


def _int_schema(schema: core_schema.CoreSchema) -> core_schema.CoreSchema | None:
    """The int or bool schema inside ``schema`` (through ``nullable``), else None."""
    if schema["type"] == "nullable":
        return _int_schema(schema["schema"])
    return schema if schema["type"] in ("int", "bool") else None


def _constrain(schema: core_schema.CoreSchema, values: str) -> core_schema.CoreSchema:
    """Return ``schema`` restricted to the values in ``values`` (checked in pydantic-core).

    ``values`` must lie inside the bounds the schema already has (the C type's range): a
    model restriction narrows the type, it never widens it.
    """
    low, high = _bounds(parse_values(values))
    if schema["type"] == "nullable":
        return {**schema, "schema": _constrain(schema["schema"], values)}
    if schema["type"] == "int":
        ge, le = schema.get("ge"), schema.get("le")
        if (ge is not None and low < ge) or (le is not None and high > le):
            raise TypeError(f"values {values!r} lie outside the type's range {ge}..{le}")
        return {**schema, "ge": low, "le": high}
    if schema["type"] == "bool" and 0 <= low <= high <= 1:
        return schema
    raise TypeError(f"values {values!r} cannot constrain a {schema['type']} field")


def _checked(
    schema: core_schema.CoreSchema, name: str, values: str | None, shown: str | None = None
) -> core_schema.CoreSchema:
    if values is not None:
        schema = _constrain(schema, values)
    return core_schema.no_info_wrap_validator_function(
        _reworded(name, shown if shown is not None else values), schema
    )


def _check_c_range(c_type: str, schema: core_schema.CoreSchema, name: str) -> None:
    """Fail at class creation if an int member's bounds are not its C type's range."""
    bounds = C_RANGES.get(c_type)
    inner = _int_schema(schema)
    if bounds is None or inner is None or inner["type"] != "int":
        return
    if (inner.get("ge"), inner.get("le")) != bounds or not inner.get("strict"):
        raise TypeError(
            f"{name}: a {c_type} member must be a strict int {bounds[0]}..{bounds[1]}; the "
            f"annotation gives {inner.get('ge')}..{inner.get('le')} "
            f"(strict={inner.get('strict', False)})"
        )


@dataclass(frozen=True, slots=True)
class Bits:
    """Width and position of one bit field of ``union kvm_mmu_page_role``.

    :param values: allowed values in human form; defaults to all the width holds
        (``"0, 1"`` for one bit).
    :param documented_since: first mmu.rst version that documents the bit, ``None`` when every
        version in the corpus does.
    :param since: first kernel version with the bit (``None``: every version the model knows).
    :param until: first kernel version without it (``None``: still there).
    """

    width: int
    shift: int
    values: str | None = None
    documented: bool = True
    documented_since: str | None = None
    used_by: UsedBy = "both"
    since: str | None = None
    until: str | None = None

    def __post_init__(self) -> None:
        if not (self.width >= 1 and self.shift >= 0 and self.shift + self.width <= 32):
            raise ValueError(f"Bits({self.width}, {self.shift}) does not fit in a 32-bit word")

    @property
    def mask(self) -> int:
        """The field's bits in place within the 32-bit word."""
        return ((1 << self.width) - 1) << self.shift

    @property
    def allowed_text(self) -> str:
        """``values``, or every value the width can hold."""
        if self.values is not None:
            return self.values
        return "0, 1" if self.width == 1 else f"0..{(1 << self.width) - 1}"

    def extract(self, word: int) -> int:
        """This field's value in ``word``."""
        return (word & self.mask) >> self.shift

    def pack(self, value: int) -> int:
        """``value`` shifted into place (``ValueError`` if it does not fit the width)."""
        if not 0 <= value < 1 << self.width:
            raise ValueError(f"{value} does not fit in {self.width} bits")
        return value << self.shift

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return _checked(
            handler(source), "role." + (handler.field_name or "value"), self.allowed_text
        )


@dataclass(frozen=True, slots=True)
class CField:
    """C facts about one member of ``struct kvm_mmu_page``.

    :param c_type: the member's C type as declared (``"u8"``, ``"struct list_head"``).
    :param documented: whether mmu.rst as of v6.7 describes the member.
    :param documented_since: first mmu.rst version describing it (``None``: every version).
    :param used_by: the MMU that reads and writes it.
    :param values: allowed values in human form (enforced), ``None`` for any of the type.
    :param union: the other member sharing its storage, if any.
    :param config: the Kconfig symbol it depends on, if any.
    :param since: first kernel version with the member (``None``: every version the model
        knows, see ``specmodel.structs.versions``).
    :param until: first kernel version without it (``None``: still there).

    An int member's annotation must give exactly its C type's range (``C_RANGES``),
    strictly; the model fails to build otherwise.
    """

    c_type: str
    documented: bool
    used_by: UsedBy
    values: str | None = None
    documented_since: str | None = None
    union: str | None = None
    config: str | None = None
    since: str | None = None
    until: str | None = None

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        schema = handler(source)
        name = handler.field_name or "value"
        _check_c_range(self.c_type, schema, name)
        shown = self.values if self.values is not None else c_range_words(self.c_type)
        return _checked(schema, name, self.values, shown)


@dataclass(frozen=True, slots=True)
class Former:
    """A member ``struct kvm_mmu_page`` had in older kernels and no longer has.

    It is not a field of :class:`~specmodel.structs.page.KvmMmuPage` (which states the newest
    layout); :func:`specmodel.structs.fields.field_specs` lists it for the versions that had
    it. ``renamed_to`` names the member that took its place, if any.
    """

    name: str
    c_type: str
    until: str
    used_by: UsedBy
    description: str
    documented: bool = True
    renamed_to: str | None = None
    since: str | None = None


#: A C ``u64``; the range is checked by pydantic-core, with no Python call per value. Strict:
#: ``True`` and ``"12"`` are not integers here.
U64 = Annotated[int, Field(strict=True, ge=0, le=U64_MAX)]
#: A C ``u8``.
U8 = Annotated[int, Field(strict=True, ge=0, le=255)]
#: A C ``int`` (also ``atomic_t`` and ``refcount_t``, which wrap one): signed 32 bits.
S32 = Annotated[int, Field(strict=True, ge=INT_MIN, le=INT_MAX)]
#: A C ``unsigned int``.
U32 = Annotated[int, Field(strict=True, ge=0, le=UINT_MAX)]
#: A C ``bool``: ``True`` or ``False`` only (no 0, 1 or "yes").
StrictBool = Annotated[bool, Field(strict=True)]
#: An int that is not a bool or a string (``True`` and ``"12"`` are rejected).
StrictInt = Annotated[int, Field(strict=True)]
#: One page table page's worth of u64 entries (``spt``, ``shadowed_translation``).
Spt = Annotated[tuple[U64, ...], Field(min_length=SPTES_PER_PAGE, max_length=SPTES_PER_PAGE)]
#: Index of an SPTE within its page.
SpteIndex = Annotated[int, Field(strict=True, ge=0, le=SPTES_PER_PAGE - 1)]
#: The model's id of a ``kvm_mmu_page``.
PageId = Annotated[int, Field(strict=True, ge=0)]
#: A pointer to an SPTE: (id of the page holding it, index of the SPTE in that page).
SptePointer = tuple[PageId, SpteIndex]
#: ``DECLARE_BITMAP(..., 512)`` as one int.
Bitmap512 = Annotated[int, Field(strict=True, ge=0, lt=2**SPTES_PER_PAGE)]

#: A page table page of zeros, what a freshly allocated page holds.
ZERO_SPT: Final[tuple[int, ...]] = (0,) * SPTES_PER_PAGE
