"""The public surface: ``specmodel.__all__`` is sorted, complete and documented."""

from __future__ import annotations

import inspect

import specmodel


def _isort_key(name: str) -> tuple[int, str]:
    # ruff's RUF022 order: CONSTANTS, then Classes, then functions and the rest
    kind = 0 if name.isupper() else 1 if name[0].isupper() else 2
    return kind, name


def test_all_is_sorted_without_duplicates() -> None:
    """__all__ is kept in isort order (constants, classes, the rest) with no repeats."""
    assert len(set(specmodel.__all__)) == len(specmodel.__all__)
    assert list(specmodel.__all__) == sorted(specmodel.__all__, key=_isort_key)


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
    for name in (
        "KvmMmuPage",
        "KvmMmuPageRole",
        "Kvm",
        "KvmVcpu",
        "is_obsolete_sp",
        "explore",
        "Exploration",
    ):
        assert name in specmodel.__all__
