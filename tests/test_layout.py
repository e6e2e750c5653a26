"""The tree's layers: the kernel model imports neither the explorer nor the front ends, and
the explorer imports no front end (so each can be read, and used, without the ones above)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import specmodel.explorer
import specmodel.kernel

FRONT_ENDS = ("specmodel.cli", "specmodel.sphinxext", "specmodel.prose", "specmodel.pytest_plugin")


def _modules(package: object) -> list[str]:
    path = package.__path__  # type: ignore[attr-defined]
    prefix = package.__name__ + "."  # type: ignore[attr-defined]
    return sorted(m.name for m in pkgutil.iter_modules(path, prefix))


def _loaded_after_import(modules: list[str]) -> set[str]:
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print('\\n'.join(m for m in sys.modules if m.startswith('specmodel')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return set(done.stdout.split())


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [
        (specmodel.kernel, ("specmodel.explorer", *FRONT_ENDS)),
        (specmodel.explorer, FRONT_ENDS),
    ],
    ids=["kernel", "explorer"],
)
def test_a_layer_imports_nothing_above_it(layer: object, forbidden: tuple[str, ...]) -> None:
    modules = _modules(layer)
    assert modules, "the layer has modules"
    loaded = _loaded_after_import(modules)
    above = sorted(m for m in loaded if m.startswith(forbidden))
    assert above == [], f"{layer.__name__} imports {above}"  # type: ignore[attr-defined]
