"""The in-process engine ``specmodel check`` uses reaches the extension's verdicts."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from spec_helpers import spec_errors

from specmodel.sphinxext.coverage import all_verdicts
from specmodel.sphinxext.domain import spec_domain
from specmodel.sphinxext.engine import EngineError, check_sources
from specmodel.sphinxext.records import summarize


def _copy(rootdir: Path, name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(rootdir / f"test-{name}", target)
    return target


@pytest.mark.sphinx("html", testroot="run", freshenv=True, srcdir="run-engine")
def test_engine_and_sphinx_build_agree_on_the_same_file(
    app: Any, rootdir: Path, tmp_path: Path
) -> None:
    """Same verdicts (path aside), same failing status, same located messages."""
    app.build()
    built = [v.to_json() for v in all_verdicts(spec_domain(app.env))]
    srcdir = _copy(rootdir, "run", tmp_path)
    run = check_sources(srcdir, builddir=tmp_path / "build")
    checked = [v.to_json() for v in run.verdicts]
    for record in built + checked:
        record["path"] = Path(record["path"]).name
        record["seconds"] = 0
    assert checked == built
    assert run.statuscode == app.statuscode == 1
    assert run.failed
    assert [m.replace(str(app.srcdir), "<src>") for m in spec_errors(app)] == [
        line.replace(str(srcdir), "<src>")
        for line in run.warnings.splitlines()
        if line.endswith(("[spec.divergence]", "[spec.error]"))
    ]


def test_engine_checks_one_file_of_a_project(rootdir: Path, tmp_path: Path) -> None:
    """A single .rst path builds only that document (coverage over what it declares)."""
    srcdir = _copy(rootdir, "coverage", tmp_path)
    run = check_sources(srcdir / "more.rst", builddir=tmp_path / "build")
    assert {Path(v.path).name for v in run.verdicts} == {"more.rst"}
    assert {v.status for v in run.verdicts} == {"held"}
    assert run.statuscode == 0


def test_engine_builds_a_directory_without_conf_py(rootdir: Path, tmp_path: Path) -> None:
    """No conf.py: the engine loads only the extension; a second run is incremental."""
    srcdir = _copy(rootdir, "value", tmp_path)
    (srcdir / "conf.py").unlink()
    first = check_sources(srcdir, builddir=tmp_path / "build")
    assert [v.status for v in first.verdicts] == ["held", "diverged", "error"]
    again = check_sources(srcdir, builddir=tmp_path / "build")
    assert [v.to_json() for v in again.verdicts] == [v.to_json() for v in first.verdicts]
    assert again.statuscode == 1
    assert summarize(again.verdicts) == {
        "checked": 3,
        "held": 1,
        "diverged": 1,
        "errors": 1,
        "skipped": 0,
        "states": 0,
        "seconds": 0.0,
    }


def test_engine_reports_a_missing_path_as_engine_error(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match=r"expected a directory or an \.rst file; found nothing"):
        check_sources(tmp_path / "nope")
