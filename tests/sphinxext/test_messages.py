"""Messages read as one sentence each, and a violation of the initial state shows no empty
counterexample."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spec_helpers import line_of, spec_errors

DOC = """\
Initial state
=============

.. spec:invariant:: kvm.arch.mmu_valid_gen == 1
   :vcpus: 1
   :pages: 2

.. spec:invariant:: kvm.arch.mmu_valid_gen == 1
   :vcpus: 1
   :pages: 3
   :expect: violated
"""


def test_a_violation_in_the_initial_state_says_so_and_shows_no_empty_trace(
    make_app: Any, tmp_path: Path
) -> None:
    src = tmp_path / "initial"
    src.mkdir()
    (src / "conf.py").write_text('extensions = ["specmodel.sphinxext"]\n', encoding="utf-8")
    (src / "index.rst").write_text(DOC, encoding="utf-8")
    app = make_app("html", srcdir=src, freshenv=True)
    app.build()
    index = src / "index.rst"
    found = spec_errors(app)
    assert found[0] == (
        f"{index}:{line_of(index, 'mmu_valid_gen == 1')}: ERROR: spec:invariant diverges from "
        "the model: the prose states that 'kvm.arch.mmu_valid_gen == 1' holds in every state "
        "of fast_zap(batch=10, entries=2, faults=1, pages=2, preemptible=True, prev_roots=0, "
        "shrinker=0, vcpus=1); the "
        "model violates it in the initial state: expected "
        "kvm.arch.mmu_valid_gen == 1 to hold, found it false [spec.divergence]"
    )
    assert "counterexample:" not in found[0]
    html = (Path(app.outdir) / "index.html").read_text(encoding="utf-8")
    assert "Counterexample: the initial state (no step is needed)." in html
    assert '<pre class="spec-trace"></pre>' not in html
    assert html.count("<svg") == 0  # no timeline of zero steps
    assert len(found) == 1  # the second is refuted as documented, in the initial state
