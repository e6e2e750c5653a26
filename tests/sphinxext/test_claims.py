"""spec:claim against the real checks/: verified, refuted as documented, diverged, bad input."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from spec_helpers import at, messages, spec_errors, verdicts

CLAIM = ".. spec:claim:: checks.fast_zap."


@pytest.mark.sphinx("html", testroot="claim", freshenv=True, confoverrides={"nitpicky": True})
def test_claim_verdicts_and_bad_inputs_are_located(app: Any) -> None:
    """Three agree with the model, two diverge, three are bad input; the xref resolves."""
    app.build()
    assert app.statuscode == 1
    found = spec_errors(app)
    assert found[0].startswith(
        at(app, "index.rst", CLAIM + "vcpus_never_blocked", 2)
        + "spec:claim checks.fast_zap.vcpus_never_blocked diverges from the model: the prose "
        'states "'
    )
    assert "; the model refutes it: vcpus_never_blocked: expected no vCPU to wait" in found[0]
    assert re.search(r"\ncounterexample:\n +1\. zapper +mutex_lock", found[0])
    assert "waits for mmu_lock(write)" in found[0]
    assert found[1].startswith(
        at(app, "index.rst", CLAIM + "generation_only_0_or_1", 3)
        + "spec:claim checks.fast_zap.generation_only_0_or_1 diverges from the model: the prose "
        "expects the model to refute "
    )
    assert "(:expect: violated), but it holds (" in found[1]
    assert found[2].startswith(
        at(app, "index.rst", CLAIM + "no_such_claim")
        + "spec:claim checks.fast_zap.no_such_claim: unknown claim "
        "'checks.fast_zap.no_such_claim'; expected one of: checks.fast_zap."
    )
    assert found[3] == (
        at(app, "index.rst", CLAIM + "generation_only_0_or_1", 4)
        + "spec:claim checks.fast_zap.generation_only_0_or_1 has no parameter 'colour'; "
        "expected one of: "
        "pages, vcpus [spec.error]"
    )
    assert found[4].startswith(
        at(app, "index.rst", CLAIM + "generation_only_0_or_1", 5)
        + "spec:claim checks.fast_zap.generation_only_0_or_1: unknown mutant 'no_such_mutant'; "
        "expected one of: counter_generation, "
    )
    assert len(found) == 5
    assert len(messages(app)) == 5  # no dangling :spec:claim: reference under -n
    held = [(v.target.rsplit(".", 1)[1], v.expect) for v in verdicts(app) if v.status == "held"]
    assert held == [
        ("generation_only_0_or_1", "holds"),
        ("vcpus_never_blocked", "violated"),
        ("generation_only_0_or_1", "violated"),
    ]


@pytest.mark.sphinx("html", testroot="claim", freshenv=True, srcdir="claim-page")
def test_refuted_claim_page_shows_trace_and_timeline_with_lanes(app: Any) -> None:
    """The documented refutation: numbered trace, SVG with a zapper and a vcpu0 lane."""
    app.build()
    html = (Path(app.outdir) / "index.html").read_text(encoding="utf-8")
    assert "verified: </strong>claim checks.fast_zap.generation_only_0_or_1" in html
    assert "refuted by the model, as documented: </strong>claim checks.fast_zap." in html
    svg = re.findall(r"<svg.*?</svg>", html, re.S)[0]
    assert ">zapper</text>" in svg and ">vcpu0</text>" in svg
    assert "zapper holds mmu_lock(write)" in svg
    assert "vcpu0 waits for mmu_lock(write)" in svg
    assert 'href="#spec-claim-checks.fast_zap.generation_only_0_or_1"' in html
