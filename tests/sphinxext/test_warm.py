"""A warm build (nothing changed) runs no check, so it imports none of what runs them: not
the worker pool, not the model, not the prose judge."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CONF = """\
import sys

extensions = ["specmodel.sphinxext"]
specmodel_prose = "kvm_mmu_page"

WATCHED = ("specmodel.sphinxext.pool", "specmodel.sphinxext.progress", "specmodel.claims",
           "specmodel.explorer", "specmodel.lint", "specmodel.prose.judge")


def _loaded(app, exception):
    print("loaded:", [name for name in WATCHED if name in sys.modules])


def setup(app):
    app.connect("build-finished", _loaded)
"""

INDEX = """\
Index
=====

.. spec:run::

   assert BATCH_ZAP_PAGES == 10

.. spec:claim:: checks.fast_zap.never_enters_on_obsolete_root
   :expect: violated

   Refuted.
"""


def _build(src: Path, out: Path) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", str(src), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return next(line for line in proc.stdout.splitlines() if line.startswith("loaded:"))


def test_a_warm_build_imports_nothing_that_runs_checks(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text(CONF)
    (src / "index.rst").write_text(INDEX)
    cold = _build(src, tmp_path / "out")
    for name in ("specmodel.sphinxext.pool", "specmodel.claims", "specmodel.explorer"):
        assert repr(name) in cold  # the cold build ran its checks
    assert _build(src, tmp_path / "out") == "loaded: []"
