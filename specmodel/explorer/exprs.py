"""Invariants written as Python expressions over ``kvm`` (a ``specmodel.kernel.vm.Kvm`` view).

This is a convenience for trusted documentation, not a sandbox: the expression runs with
a small set of builtins and specmodel's names, but it is ordinary Python.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from specmodel.errors import InvariantExpressionError
from specmodel.explorer.invariants import Invariant
from specmodel.kernel import CONSTANTS, KvmRequest, VcpuMode
from specmodel.kernel.config import Config
from specmodel.kernel.state import State
from specmodel.kernel.vm import Kvm, is_obsolete_sp, kvm_view

_BUILTINS: dict[str, Any] = {
    name: __builtins__[name] if isinstance(__builtins__, dict) else getattr(__builtins__, name)
    for name in (
        "all",
        "any",
        "len",
        "min",
        "max",
        "sum",
        "sorted",
        "set",
        "frozenset",
        "list",
        "tuple",
        "dict",
        "range",
        "abs",
        "bool",
        "int",
        "isinstance",
        "enumerate",
        "zip",
    )
}


def namespace() -> dict[str, Any]:
    """Names an invariant expression can use besides ``kvm``."""
    ns: dict[str, Any] = {"__builtins__": _BUILTINS, "is_obsolete_sp": is_obsolete_sp}
    ns.update(CONSTANTS)
    ns.update({m.name: m for m in VcpuMode})
    ns.update({r.name: r for r in KvmRequest})
    return ns


def compile_invariant(spec: object, cfg: Config, names: tuple[str, ...]) -> Invariant:
    """An ``Invariant`` from a callable over ``Kvm`` or an expression string."""
    if isinstance(spec, str):
        text = spec.strip()
        try:
            code = compile(text, "<invariant>", "eval")
        except SyntaxError as exc:
            raise InvariantExpressionError(
                f"invariant {text!r} is not a Python expression: {exc.msg} (column {exc.offset})"
            ) from None
        base = namespace()

        def fn(kvm: Kvm) -> bool:
            # One namespace: generator expressions see only globals, so kvm goes there.
            return eval(code, {**base, "kvm": kvm})  # type: ignore[no-any-return]

        name = text
    elif callable(spec):
        fn = spec
        name = getattr(spec, "__name__", repr(spec))
    else:
        raise InvariantExpressionError(
            f"an invariant must be a callable, an expression string or a property name "
            f"(got {type(spec).__name__})"
        )
    return Invariant(name, f"user invariant {name}", _checker(fn, name, cfg, names))


def _checker(
    fn: Callable[[Kvm], bool], name: str, cfg: Config, names: tuple[str, ...]
) -> Callable[[Config, State], str | None]:
    def check(_: Config, state: State) -> str | None:
        kvm = kvm_view(cfg, state, names)
        try:
            ok = fn(kvm)
        except Exception as exc:  # the expression's own error, reported as such
            raise InvariantExpressionError(
                f"invariant {name!r} raised {type(exc).__name__}: {exc}"
            ) from None
        # Only a real bool is a verdict: ``kvm.arch.mmu_valid_gen + 1`` (an int) or a
        # callable that forgot its return (None) would otherwise count as held or violated
        # by Python's truthiness, whatever the model does.
        if ok is not True and ok is not False:
            raise InvariantExpressionError(
                f"invariant {name!r} must evaluate to a bool (True or False), found "
                f"{type(ok).__name__} {_short(ok)}"
            )
        return None if ok else f"expected {name} to hold, found it false"

    return check


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
