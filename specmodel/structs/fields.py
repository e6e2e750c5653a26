"""A flat view of the field models' metadata, for docs, lint and the Sphinx coverage check.

Everything here is derived from ``model_fields[...].metadata``
(:class:`~specmodel.structs.bits.Bits` and :class:`~specmodel.structs.bits.CField`); there is
no second list of fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Final

from pydantic import BaseModel

from specmodel.errors import UnknownNameError
from specmodel.structs.bits import C_RANGES, Bits, CField, Former, UsedBy, parse_values
from specmodel.structs.page import FORMER_MEMBERS, KvmMmuPage
from specmodel.structs.role import FORMER_BITS, KvmMmuPageRole
from specmodel.structs.versions import DEFAULT_KERNEL, KERNELS, exists_in

__all__ = [
    "DEFAULT_KERNEL",
    "KERNELS",
    "MODELS",
    "FieldSpec",
    "check_kernel",
    "field_specs",
    "find_field",
    "parse_values",
    "values_match",
]

#: The models docs may declare with ``spec:model``, by class name.
MODELS: Final[dict[str, type[BaseModel]]] = {
    "KvmMmuPage": KvmMmuPage,
    "KvmMmuPageRole": KvmMmuPageRole,
}

#: Widths in bits of the scalar C types the page uses (others have no single width).
_C_WIDTHS: Final[dict[str, int]] = {
    "u8": 8,
    "int": 32,
    "unsigned int": 32,
    "bool": 1,
    "atomic_t": 32,
    "refcount_t": 32,
    "gfn_t": 64,
    "unsigned long[BITS_TO_LONGS(512)]": 512,
}


@dataclass(frozen=True)
class FieldSpec:
    """One field of a model as docs and lint see it.

    ``allowed`` is ``parse_values(values)`` (``x in spec.allowed`` tests a value), or ``None``
    when any value of the type is allowed. ``documented_since`` is the first mmu.rst version
    describing the field (``None``: every version in the corpus), ``union`` the member sharing
    its storage, ``config`` the Kconfig symbol it depends on.
    """

    model: str
    name: str
    c_type: str
    width: int | None
    shift: int | None
    values: str | None
    allowed: frozenset[int] | range | None
    documented: bool
    used_by: UsedBy
    description: str
    documented_since: str | None = None
    union: str | None = None
    config: str | None = None
    #: first kernel version with the field (None: every version known)
    since: str | None = None
    #: first kernel version without it (None: still there)
    until: str | None = None
    #: the C type's own range (``range(0, 2)`` for bool), None for pointers and lists
    c_range: range | None = None
    #: for a member older kernels had: the member that took its place, if any
    renamed_to: str | None = None

    def exists_in(self, kernel: str) -> bool:
        """Whether kernel version ``kernel`` has this field."""
        return exists_in(kernel, self.since, self.until)


#: Members and bits of older kernels, per model (not fields of the newest model).
_FORMERS: Final[dict[str, tuple[Former, ...]]] = {
    "KvmMmuPage": FORMER_MEMBERS,
    "KvmMmuPageRole": FORMER_BITS,
}


def check_kernel(kernel: str | None) -> str:
    """``kernel`` if it is one of ``KERNELS`` (None: the newest), else UnknownNameError."""
    if kernel is None:
        return DEFAULT_KERNEL
    name = kernel if kernel.startswith("v") else "v" + kernel
    if name not in KERNELS:
        raise UnknownNameError("kernel version", kernel, KERNELS)
    return name


def _c_range(c_type: str) -> range | None:
    bounds = C_RANGES.get(c_type)
    return None if bounds is None else range(bounds[0], bounds[1] + 1)


def _model(model: type[BaseModel] | str) -> type[BaseModel]:
    if isinstance(model, str):
        try:
            return MODELS[model]
        except KeyError:
            raise UnknownNameError("model", model, MODELS) from None
    if model not in MODELS.values():
        raise UnknownNameError("model", model.__name__, MODELS)
    return model


@cache
def _specs(model: type[BaseModel]) -> tuple[FieldSpec, ...]:
    specs = []
    for name, info in model.model_fields.items():
        description = info.description or ""
        for meta in info.metadata:
            if isinstance(meta, Bits):
                values = meta.allowed_text
                spec = FieldSpec(
                    model=model.__name__,
                    name=f"role.{name}",
                    c_type=f"unsigned int:{meta.width}",
                    width=meta.width,
                    shift=meta.shift,
                    values=values,
                    allowed=parse_values(values),
                    documented=meta.documented,
                    used_by=meta.used_by,
                    description=description,
                    documented_since=meta.documented_since,
                    since=meta.since,
                    until=meta.until,
                    c_range=range(0, 1 << meta.width),
                )
                break
            if isinstance(meta, CField):
                spec = FieldSpec(
                    model=model.__name__,
                    name=name,
                    c_type=meta.c_type,
                    width=_C_WIDTHS.get(meta.c_type),
                    shift=None,
                    values=meta.values,
                    allowed=None if meta.values is None else parse_values(meta.values),
                    documented=meta.documented,
                    used_by=meta.used_by,
                    description=description,
                    documented_since=meta.documented_since,
                    union=meta.union,
                    config=meta.config,
                    since=meta.since,
                    until=meta.until,
                    c_range=_c_range(meta.c_type),
                )
                break
        else:
            raise TypeError(f"{model.__name__}.{name} has neither Bits nor CField metadata")
        specs.append(spec)
    for former in _FORMERS[model.__name__]:
        specs.append(
            FieldSpec(
                model=model.__name__,
                name=former.name,
                c_type=former.c_type,
                width=_C_WIDTHS.get(former.c_type),
                shift=None,
                values=None,
                allowed=None,
                documented=former.documented,
                used_by=former.used_by,
                description=former.description,
                since=former.since,
                until=former.until,
                c_range=_c_range(former.c_type),
                renamed_to=former.renamed_to,
            )
        )
    return tuple(specs)


def field_specs(model: type[BaseModel] | str, kernel: str | None = None) -> tuple[FieldSpec, ...]:
    """Every field ``model`` (a class or its name in :data:`MODELS`) has in kernel version
    ``kernel`` (one of ``KERNELS``; default the newest), in declaration order; members
    older kernels had come last.

    Raises :class:`~specmodel.errors.UnknownNameError` for a model not in :data:`MODELS` or a
    version not in ``KERNELS``.
    """
    version = check_kernel(kernel)
    return tuple(spec for spec in _specs(_model(model)) if spec.exists_in(version))


def all_field_specs(model: type[BaseModel] | str) -> tuple[FieldSpec, ...]:
    """Every field ``model`` has in any kernel version known, former ones included."""
    return _specs(_model(model))


def find_field(name: str, kernel: str | None = None) -> FieldSpec:
    """The field called ``name`` in ``kernel`` (default the newest): ``role.<bit>`` for a role
    bit, else a ``KvmMmuPage`` member.

    Raises :class:`~specmodel.errors.UnknownNameError` listing every valid name.
    """
    model = KvmMmuPageRole if name.startswith("role.") else KvmMmuPage
    for spec in field_specs(model, kernel):
        if spec.name == name:
            return spec
    every = [spec.name for model in MODELS.values() for spec in field_specs(model, kernel)]
    raise UnknownNameError("field", name, every)


def values_match(text: str, spec: FieldSpec) -> bool:
    """Whether ``text`` (as in a ``:values:`` option) names exactly the values ``spec`` allows.

    ``"0, 1"`` and ``"0..1"`` match each other. Raises ``ValueError`` if ``text`` does not
    parse. A field with no restriction (``allowed is None``) matches no text.
    """
    given = parse_values(text)
    if spec.allowed is None:
        return False
    return _as_range(given) == _as_range(spec.allowed) or set(given) == set(spec.allowed)


def _as_range(values: frozenset[int] | range) -> range | None:
    if isinstance(values, range):
        return values
    if values and len(values) == max(values) - min(values) + 1:
        return range(min(values), max(values) + 1)
    return None
