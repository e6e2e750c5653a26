"""Incremental, repeated and parallel builds reach the same verdicts as a clean serial build."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from spec_helpers import fresh_runs, spec_errors, verdicts
from sphinx.util.console import strip_escape_sequences

from specmodel.sphinxext import events


@pytest.fixture(autouse=True)
def _stable_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pin the model fingerprint: the source tree may change while the suite runs."""
    monkeypatch.setattr(events, "fingerprint", lambda: "stable-model")


def _touch(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    later = time.time() + 2  # mtime-based change detection (SPHINX.md 2.7)
    os.utime(path, (later, later))


def _rebuild(make_app: Any, app_params: Any) -> Any:
    args, kwargs = app_params
    app = make_app(*args, **{**kwargs, "freshenv": False})
    app.build()
    return app


@pytest.mark.sphinx("html", testroot="run", srcdir="run-unchanged")
def test_unchanged_rebuild_of_a_diverging_root_fails_again_with_the_same_messages(
    app: Any, make_app: Any, app_params: Any
) -> None:
    """SPHINX.md 2.7: a doc not re-read must not lose its divergences."""
    app.build()
    first = spec_errors(app)
    assert app.statuscode == 1
    assert len(first) == 4
    again = _rebuild(make_app, app_params)
    assert "0 added, 0 changed, 0 removed" in strip_escape_sequences(again.status.getvalue())
    assert fresh_runs(again) == []
    assert spec_errors(again) == first
    assert again.statuscode == 1


@pytest.mark.sphinx("html", testroot="incremental", srcdir="incremental-counts")
def test_incremental_rebuild_reruns_nothing_or_exactly_the_changed_directive(
    app: Any, make_app: Any, app_params: Any
) -> None:
    """Count explorations: 3 cold, 0 when unchanged, 1 after editing one of two blocks."""
    app.build()
    assert app.statuscode == 0
    assert len(fresh_runs(app)) == 3

    unchanged = _rebuild(make_app, app_params)
    assert fresh_runs(unchanged) == []
    assert unchanged.statuscode == 0

    _touch(Path(app.srcdir) / "index.rst", "KVM_REFILL_PAGES == 25", "KVM_REFILL_PAGES != 24")
    edited = _rebuild(make_app, app_params)
    runs = fresh_runs(edited)
    assert [(v.docname, v.kind) for v in runs] == [("index", "run")]
    assert "KVM_REFILL_PAGES" in (Path(edited.srcdir) / "index.rst").read_text()
    # the other block of the re-read document came from the cache, other.rst was not re-read
    index = [v for v in verdicts(edited) if v.docname == "index"]
    assert sorted(v.cached for v in index) == [False, True]
    assert edited.statuscode == 0

    _touch(Path(app.srcdir) / "index.rst", "Incremental\n", "Incremental, edited\n")
    prose = _rebuild(make_app, app_params)
    assert fresh_runs(prose) == []  # a prose edit re-reads the page, the cache answers


@pytest.mark.sphinx("html", testroot="incremental", srcdir="incremental-model")
def test_a_changed_model_rereads_and_reruns_every_document_with_checks(
    app: Any, make_app: Any, app_params: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new specmodel fingerprint invalidates both the env and the result cache."""
    app.build()
    assert len(fresh_runs(app)) == 3
    monkeypatch.setattr(events, "fingerprint", lambda: "a-different-model")
    changed = _rebuild(make_app, app_params)
    assert len(fresh_runs(changed)) == 3
    assert changed.statuscode == 0


def _relative(app: Any, lines: list[str]) -> list[str]:
    return [line.replace(str(app.srcdir), "<src>") for line in lines]


@pytest.mark.sphinx("html", testroot="coverage", freshenv=True, srcdir="coverage-serial")
def test_parallel_build_equals_serial_build(app: Any, make_app: Any, rootdir: Path) -> None:
    """``-j 2`` reads in forked workers; merged domain data gives the same verdicts."""
    app.build()
    serial = _relative(app, spec_errors(app))
    srcdir = Path(app.srcdir).parent / "coverage-parallel"
    shutil.copytree(rootdir / "test-coverage", srcdir, dirs_exist_ok=True)
    parallel_app = make_app("html", srcdir=srcdir, parallel=2, freshenv=True)
    parallel_app.build()
    assert parallel_app.parallel == 2
    assert parallel_app.is_parallel_allowed("read")  # so reading forked workers
    assert _relative(parallel_app, spec_errors(parallel_app)) == serial
    assert parallel_app.statuscode == app.statuscode == 1


@pytest.mark.sphinx("html", testroot="incremental", srcdir="incremental-cache")
def test_a_new_build_folder_takes_checks_from_the_cache_and_minus_e_runs_them_afresh(
    app: Any, make_app: Any, app_params: Any, tmp_path: Path
) -> None:
    """A build with no environment yet (a new build folder, a CI run that kept only the
    cache) takes unchanged checks from the disk cache; ``-E`` bypasses the cache and runs
    every check again, writing the results back."""
    app.build()
    assert len(fresh_runs(app)) == 3
    args, kwargs = app_params
    elsewhere = make_app(*args, **{**kwargs, "builddir": tmp_path / "build"})
    elsewhere.build()
    assert fresh_runs(elsewhere) == []
    assert [v.cached for v in verdicts(elsewhere)] == [True, True, True]
    minus_e = make_app(*args, **{**kwargs, "freshenv": True})
    minus_e.build()
    assert len(fresh_runs(minus_e)) == 3
    assert [v.cached for v in verdicts(minus_e)] == [False, False, False]
    assert {v.status for v in verdicts(minus_e)} == {"held"}


@pytest.mark.sphinx("html", testroot="passing", freshenv=True)
def test_the_extension_ships_its_stylesheet_with_the_html(app: Any) -> None:
    """A project that only loads the extension gets specmodel.css copied and linked."""
    app.build()
    assert (Path(app.outdir) / "_static" / "specmodel.css").is_file()
    assert "_static/specmodel.css" in (Path(app.outdir) / "index.html").read_text()
