"""Compare a ``spec:field`` directive's ``:type:`` and ``:values:`` with the field's metadata."""

from __future__ import annotations

import re
from collections.abc import Mapping

from specmodel.errors import BadParameterError
from specmodel.structs.bits import format_int
from specmodel.structs.fields import FieldSpec, parse_values, values_match

_WIDTH = re.compile(r"^(\d+)[ -]?bits?$|^:\s*(\d+)$")
#: C punctuation around which whitespace means nothing (``u64*`` is ``u64 *``).
_PUNCT = re.compile(r"\s*([*:\[\](),])\s*")


def describe_field(spec: FieldSpec) -> str:
    """``(KvmMmuPageRole, unsigned int:4 at bit 0; values 1..5)``, with the kernel versions
    that have the field when not all do (``; since ~v6.14``)."""
    text = f"({spec.model}, {spec.c_type}"
    if spec.shift is not None:
        text += f" at bit {spec.shift}"
    if spec.values is not None:
        text += f"; values {spec.values}"
    if spec.since is not None or spec.until is not None:
        span = [f"since ~{spec.since}"] if spec.since else []
        span += [f"until ~{spec.until}"] if spec.until else []
        text += "; " + " ".join(span)
    return text + ")"


def _normal(text: str) -> str:
    return " ".join(text.split())


def c_type_key(text: str) -> str:
    """``text`` with whitespace normalised as C reads it: runs of blanks are one space, and
    none around ``*``, ``:``, brackets, parentheses or commas (``unsigned int : 4`` is
    ``unsigned int:4``, ``u64*`` is ``u64 *``)."""
    return _PUNCT.sub(r"\1", _normal(text))


def type_matches(stated: str, spec: FieldSpec) -> bool:
    """The C type as declared (whitespace-insensitive where C is), or the width as
    ``N bits``."""
    if c_type_key(stated) == c_type_key(spec.c_type):
        return True
    match = _WIDTH.match(_normal(stated).lower())
    if match and spec.width is not None:
        return int(match[1] or match[2]) == spec.width
    return False


def _covers(given: frozenset[int] | range, full: range) -> bool:
    """Whether ``given`` is exactly ``full`` (without materialising a 2**64 range)."""
    if isinstance(given, range):
        return (given.start, given.stop, given.step) == (full.start, full.stop, full.step)
    count = full.stop - full.start
    return len(given) == count and min(given) == full.start and max(given) == full.stop - 1


def check_field_options(spec: FieldSpec, options: Mapping[str, object]) -> list[str]:
    """What the options state that the model contradicts (empty: they agree).

    Raises :class:`BadParameterError` for a ``:values:`` that does not parse.
    """
    problems: list[str] = []
    if "type" in options:
        stated = _normal(str(options["type"] or ""))
        if not type_matches(stated, spec):
            width = ""
            if spec.width is not None:
                width = f" ({spec.width} bit{'s' if spec.width != 1 else ''})"
            problems.append(f":type: states {stated!r}; the model has {spec.c_type!r}{width}")
    if "values" in options:
        text = _normal(str(options["values"] or ""))
        try:
            given = parse_values(text)
        except ValueError as exc:
            raise BadParameterError(f":values: {exc}") from None
        if spec.allowed is None:
            full = spec.c_range
            if full is None or not _covers(given, full):
                problems.append(
                    f":values: states {text!r}; the model allows any value of "
                    f"{spec.c_type}{_range_words(spec)}"
                )
        elif not values_match(text, spec):
            problems.append(f":values: states {text!r}; the model allows {spec.values}")
    return problems


def _range_words(spec: FieldSpec) -> str:
    """`` (0, 1: false, true)`` or `` (-2**31..2**31-1)``: the C type's range, for messages."""
    full = spec.c_range
    if full is None:
        return ""
    if spec.c_type == "bool":
        return " (0, 1, or false, true)"
    return f" ({format_int(full.start)}..{format_int(full.stop - 1)})"
