"""Compare a ``spec:field`` directive's ``:type:`` and ``:values:`` with the field's metadata."""

from __future__ import annotations

import re
from collections.abc import Mapping

from specmodel.errors import BadParameterError
from specmodel.structs.fields import FieldSpec, parse_values, values_match

_WIDTH = re.compile(r"^(\d+)[ -]?bits?$|^:\s*(\d+)$")


def describe_field(spec: FieldSpec) -> str:
    """``(KvmMmuPageRole, unsigned int:4 at bit 0; values 1..5)``."""
    text = f"({spec.model}, {spec.c_type}"
    if spec.shift is not None:
        text += f" at bit {spec.shift}"
    if spec.values is not None:
        text += f"; values {spec.values}"
    return text + ")"


def _normal(text: str) -> str:
    return " ".join(text.split())


def type_matches(stated: str, spec: FieldSpec) -> bool:
    """The C type as declared (whitespace-insensitive), or the width as ``N bits``."""
    if _normal(stated) == _normal(spec.c_type):
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
            full = None if spec.width is None else range(0, 1 << spec.width)
            if full is None or not _covers(given, full):
                problems.append(
                    f":values: states {text!r}; the model allows any value of {spec.c_type}"
                )
        elif not values_match(text, spec):
            problems.append(f":values: states {text!r}; the model allows {spec.values}")
    return problems
