"""The public surface: ``specmodel.__all__`` is sorted, complete and documented."""

from __future__ import annotations

import inspect

import specmodel


def test_all_is_sorted_without_duplicates() -> None:
    """__all__ is kept sorted (constants first, as Python sorts them) and has no repeats."""
    assert list(specmodel.__all__) == sorted(set(specmodel.__all__))


def test_every_public_name_exists() -> None:
    """Each name in __all__ is an attribute of the package."""
    missing = [name for name in specmodel.__all__ if not hasattr(specmodel, name)]
    assert missing == []


def test_every_public_class_and_function_has_a_docstring() -> None:
    """Classes and functions users import say what they are."""
    undocumented = [
        name
        for name in specmodel.__all__
        if (inspect.isclass(obj := getattr(specmodel, name)) or inspect.isfunction(obj))
        and not (obj.__doc__ or "").strip()
    ]
    assert undocumented == []


def test_interface_names_are_public() -> None:
    """The names INTERFACE.md promises are importable from specmodel."""
    for name in ("KvmMmuPage", "KvmMmuPageRole", "Kvm", "KvmVcpu", "is_obsolete_sp",
                 "explore", "Exploration"):
        assert name in specmodel.__all__
