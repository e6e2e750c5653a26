"""Documents with checks are read first, so the workers start at once; the verdicts and the
pages built are the same in any reading order."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from spec_helpers import verdicts

from specmodel.sphinxext import batch

CONF = 'extensions = ["specmodel.sphinxext"]\n'

FILES = {
    "conf.py": CONF,
    "index.rst": "Index\n=====\n\n.. toctree::\n\n   a_prose\n   b_checks\n   c_prose\n"
    "   d_example\n   e_checks\n",
    "a_prose.rst": "Prose\n=====\n\nNo checks here.\n",
    "b_checks.rst": "Checks\n======\n\n.. spec:run::\n\n   assert BATCH_ZAP_PAGES == 10\n\n"
    ".. spec:claim:: checks.fast_zap.never_enters_on_obsolete_root\n   :expect: violated\n\n"
    "   Refuted.\n",
    "c_prose.rst": "More prose\n==========\n\nA role is not a check: :spec:value:`ACC_ALL = 7`.\n",
    # an example in a literal block is still a directive at the start of a line
    "d_example.rst": "Example\n=======\n\n::\n\n   .. spec:run::\n\n      x = 1\n",
    "e_checks.rst": "Invariant\n=========\n\n.. spec:invariant:: kvm.arch.mmu_valid_gen in (0, 1)\n"
    "   :vcpus: 1\n   :pages: 2\n",
}


def _project(root: Path) -> Path:
    root.mkdir(parents=True)
    for name, text in FILES.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


def _build(make_app: Any, src: Path, parallel: int = 0) -> tuple[Any, list[str]]:
    app = make_app("html", srcdir=src, freshenv=True, parallel=parallel)
    read: list[str] = []
    app.connect("source-read", lambda app, docname, source: read.append(docname))
    app.build()
    return app, read


def _outcomes(app: Any) -> list[tuple[str, int, str, str, str, int]]:
    return [(v.docname, v.line, v.kind, v.status, v.message, v.states) for v in verdicts(app)]


def test_documents_with_checks_are_read_first_in_their_own_order(
    make_app: Any, tmp_path: Path
) -> None:
    app, read = _build(make_app, _project(tmp_path / "src"))
    assert read == ["b_checks", "d_example", "e_checks", "a_prose", "c_prose", "index"]
    assert app.statuscode == 0
    assert [v[3] for v in _outcomes(app) if v[2] in ("run", "claim", "invariant")] == [
        "held",
        "held",
        "held",
    ]


@pytest.mark.parametrize("parallel", [0, 2])
def test_the_reading_order_changes_no_verdict_and_no_page(
    make_app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parallel: int
) -> None:
    first, _ = _build(make_app, _project(tmp_path / "reordered"), parallel)
    with monkeypatch.context() as patch:
        patch.setattr(batch, "checks_first", lambda env, docnames: None)
        second, read = _build(make_app, _project(tmp_path / "sorted"), parallel)
    if not parallel:
        assert read == sorted(read)  # Sphinx's own order
    assert _outcomes(first) == _outcomes(second)
    out1, out2 = Path(first.outdir), Path(second.outdir)
    pages = sorted(p.relative_to(out1) for p in out1.glob("*.html"))
    assert pages and pages == sorted(p.relative_to(out2) for p in out2.glob("*.html"))
    for page in pages:
        assert _timeless((out1 / page).read_text()) == _timeless((out2 / page).read_text())


def _timeless(html: str) -> str:
    """A page with the seconds each check took (they differ from run to run) blanked."""
    return re.sub(r"\b\d+\.\d+ s\b", "<t> s", html)


def test_a_source_that_cannot_be_read_is_left_to_sphinx(tmp_path: Path) -> None:
    class Env:
        def doc2path(self, docname: str) -> str:
            return str(tmp_path / f"{docname}.rst")

    (tmp_path / "here.rst").write_text(".. spec:run::\n\n   pass\n")
    docnames = ["gone", "here"]
    batch.checks_first(Env(), docnames)  # type: ignore[arg-type]
    assert docnames == ["here", "gone"]
