"""setup.py's optional mypyc compilation: when a build falls back to pure Python, its
errors, and that an editable install never compiles.

Real builds of a copy of the repository (``python -m build --no-isolation``, with the
[build-system] requirements the dev extra installs), none of which runs mypyc: each stops
before it (no C compiler, SPECMODEL_COMPILE=0, an editable build). The compiled wheel itself
is built and checked against the pure source by .ci/run (bench/compiled_vs_pure.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FALLBACK = "specmodel: installing pure Python (not compiled with mypyc): "

pytestmark = pytest.mark.slow


def _copy(tmp_path: Path) -> Path:
    """The repository's files (tracked or new, not ignored) in a folder of their own."""
    listing = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    src = tmp_path / "src"
    for name in listing.stdout.splitlines():
        if (REPO / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, src / name)
    return src


def _build(
    tmp_path: Path, stale: bool = False, **env: str
) -> tuple[subprocess.CompletedProcess[str], Path]:
    src, out = _copy(tmp_path), tmp_path / "dist"
    if stale:  # what an earlier compiled build leaves in build/ (pip builds in the tree)
        lib = src / "build" / f"lib.{sysconfig.get_platform()}-{sys.implementation.cache_tag}"
        (lib / "specmodel" / "kernel").mkdir(parents=True)
        suffix = sysconfig.get_config_var("EXT_SUFFIX")
        (lib / "specmodel" / "kernel" / f"state{suffix}").write_bytes(b"stale")
        (lib / "specmodel" / f"_mypyc__mypyc{suffix}").write_bytes(b"stale")
    done = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), "."],
        cwd=src,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    return done, out


def _extensions(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as z:
        return [n for n in z.namelist() if n.endswith((".so", ".pyd"))]


def _explore_from(folder: Path) -> str:
    code = (
        "import specmodel\n"
        "e = specmodel.explore('fast_zap', vcpus=2, pages=3)\n"
        "print(specmodel.compiled, specmodel.explorer.search.__file__, e.holds, e.states, "
        "e.transitions, e.depth, sorted(e.metrics.items()))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(folder)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=folder, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CC": "/nonexistent/cc"}, FALLBACK + "no working C compiler (/nonexistent/cc"),
        ({"SPECMODEL_COMPILE": "0"}, None),
    ],
    ids=["no-compiler", "SPECMODEL_COMPILE=0"],
)
def test_a_build_that_does_not_compile_gives_a_pure_wheel_with_the_same_results(
    tmp_path: Path, env: dict[str, str], message: str | None
) -> None:
    done, out = _build(tmp_path, stale=True, **env)
    assert done.returncode == 0, done.stdout + done.stderr
    if message is None:
        assert FALLBACK not in done.stdout and "mypyc" not in done.stdout
    else:
        assert message in done.stdout
        assert done.stdout.count(FALLBACK) == 1  # said once
    (wheel,) = out.glob("*.whl")
    assert wheel.name.endswith("-py3-none-any.whl")  # tagged pure
    assert _extensions(wheel) == []
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(wheel) as z:
        z.extractall(unpacked)
    pure, source = _explore_from(unpacked), _explore_from(REPO)
    assert pure.split()[0] == "False" and str(unpacked) in pure.split()[1]
    assert pure.split()[2:] == source.split()[2:]


def test_compile_required_without_a_compiler_is_an_error(tmp_path: Path) -> None:
    done, out = _build(tmp_path, SPECMODEL_COMPILE="1", CC="/nonexistent/cc")
    assert done.returncode != 0
    assert (
        "error: SPECMODEL_COMPILE=1 but the modules could not be compiled: "
        "no working C compiler (/nonexistent/cc"
    ) in done.stdout + done.stderr
    assert not list(out.glob("*.whl"))


def test_a_bad_specmodel_compile_value_is_an_error(tmp_path: Path) -> None:
    done, _ = _build(tmp_path, SPECMODEL_COMPILE="yes")
    assert done.returncode != 0
    assert (
        "error: SPECMODEL_COMPILE='yes': expected 0 (pure Python), 1 (compile) or unset"
    ) in done.stdout + done.stderr


_EDITABLE = (
    "import sys\nfrom setuptools import build_meta\n"
    "print('built', build_meta.build_editable(sys.argv[1]))\n"
)


@pytest.mark.parametrize(
    "command",
    [
        ["-c", _EDITABLE, "{out}"],  # PEP 660's hook, what ``pip install -e .`` runs
        ["setup.py", "build_ext", "--inplace"],  # the in-place build it stands for
    ],
    ids=["build_editable", "build_ext--inplace"],
)
def test_an_editable_build_never_compiles(tmp_path: Path, command: list[str]) -> None:
    """With a compiler at hand and SPECMODEL_COMPILE=1: no extension module in the tree
    (it would shadow the .py a developer edits), none in the editable wheel."""
    src, out = _copy(tmp_path), tmp_path / "dist"
    out.mkdir()
    done = subprocess.run(
        [sys.executable, *(c.format(out=out) for c in command)],
        cwd=src,
        env={**os.environ, "SPECMODEL_COMPILE": "1"},
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "gcc" not in done.stdout and "mypyc" not in done.stdout
    assert [p for p in src.rglob("*") if p.suffix in (".so", ".pyd", ".c")] == []
    if command[0] == "setup.py":  # build_ext ran, saw --inplace and said so
        assert "SPECMODEL_COMPILE=1 ignored: an editable install is never compiled" in done.stdout
    else:  # an editable build does not even run build_ext
        assert "running build_ext" not in done.stdout
        (wheel,) = out.glob("*.whl")
        assert _extensions(wheel) == []


def test_specmodel_compiled_tells_the_pure_source_from_a_compiled_install() -> None:
    """False here (the source tree, or an editable install of it); .ci/run's compiled wheel
    says True (bench/compiled_vs_pure.py refuses to compare otherwise)."""
    import specmodel
    import specmodel.explorer.search

    assert "compiled" in specmodel.__all__ and "compiled" in dir(specmodel)
    assert specmodel.compiled is False
    assert Path(specmodel.explorer.search.__file__).suffix == ".py"


def _setup_functions(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """setup.py's module globals, its closing setup() call made a no-op."""
    import runpy

    import setuptools

    monkeypatch.setattr(setuptools, "setup", lambda **_: None)
    monkeypatch.delenv("SPECMODEL_COMPILE", raising=False)
    return runpy.run_path(str(REPO / "setup.py"), run_name="specmodel_setup")


def test_the_unpickling_patch_applies_or_fails_the_compilation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """mypyc's generated C with the pickling call gets specmodel's; C without it anywhere
    (a mypyc that changed its output) fails the compilation instead of building a wheel
    whose frozen dataclasses cannot be unpickled (a swarm would hang)."""
    found = _setup_functions(monkeypatch)
    patch = found["_unpickle_like_python"]
    written = tmp_path / "search.c"
    written.write_text(
        "static PyMethodDef search_methods[] = {\n"
        '    {"__setstate__", (PyCFunction)CPyPickle_SetState, METH_O, NULL},\n'
        "};\n"
    )
    patch([str(written)])  # type: ignore[operator]
    text = written.read_text()
    assert "(PyCFunction)specmodel_pickle_setstate" in text
    assert "CPyPickle_SetState" not in text.split("static PyMethodDef")[1]
    other = tmp_path / "other.c"
    other.write_text("static PyMethodDef other_methods[] = {\n};\n")
    with pytest.raises(found["CompileFailed"]) as info:  # type: ignore[call-overload]
        patch([str(other)])  # type: ignore[operator]
    assert str(info.value) == (
        "no (PyCFunction)CPyPickle_SetState in mypyc's output to make unpickling work"
    )
