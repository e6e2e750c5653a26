"""spec:invariant against the real explorer: verified, refuted, diverged, and every bad input."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from spec_helpers import at, spec_errors, verdicts


@pytest.mark.sphinx("html", testroot="invariant", freshenv=True)
def test_invariant_verdicts_and_bad_inputs_are_located(app: Any) -> None:
    """One held, one refuted as documented, one divergence with its trace, six bad inputs."""
    app.build()
    assert app.statuscode == 1
    found = spec_errors(app)
    invariant = ".. spec:invariant:: kvm.arch.mmu_valid_gen in (0, 1)"

    diverged = found[0]
    assert diverged.startswith(
        at(app, "index.rst", invariant, 3)
        + "spec:invariant diverges from the model: the prose states that "
        "'kvm.arch.mmu_valid_gen in (0, 1)' holds in every state of concurrent_zaps("
    )
    assert "pages=2" in diverged and "vcpus=1" in diverged
    assert "with mutant counter_generation; the model violates it after" in diverged
    assert "\ncounterexample:\n   1. zapper0 " in diverged
    assert re.search(r"toggle: mmu_valid_gen 1 -> 2 .*\[spec\.divergence\]$", diverged)

    assert (
        found[1]
        == (
            at(app, "index.rst", ".. spec:invariant:: kvm.arch.mmu_valid_gen in (0, 1\n".strip())
            + "spec:invariant 'kvm.arch.mmu_valid_gen in (0, 1': invariant "
            "'kvm.arch.mmu_valid_gen in (0, 1' is not a Python expression: '(' was never closed "
            "(column 27) [spec.error]"
        )
        or "is not a Python expression" in found[1]
    )
    assert found[2] == (
        at(app, "index.rst", "kvm.no_such_attribute")
        + "spec:invariant 'kvm.no_such_attribute == 1' raised AttributeError: 'Kvm' object "
        "has no attribute 'no_such_attribute' [spec.error]"
    )
    assert found[3].startswith(
        at(app, "index.rst", invariant, 4)
        + "spec:invariant 'kvm.arch.mmu_valid_gen in (0, 1)': unknown scenario "
        "'no_such_scenario'; expected one of: concurrent_zaps, fast_zap, "
        "fast_zap_nested, fast_zap_tdp"
    )
    assert found[4].startswith(
        at(app, "index.rst", invariant, 5)
        + "spec:invariant 'kvm.arch.mmu_valid_gen in (0, 1)': unknown mutant 'no_such_mutant'; "
        "expected one of: counter_generation, "
    )
    assert found[5] == (
        at(app, "index.rst", invariant, 6)
        + "spec:invariant 'kvm.arch.mmu_valid_gen in (0, 1)': :vcpus: must be an integer or "
        "true/false (got 'many') [spec.error]"
    )
    assert found[6].startswith(
        at(app, "index.rst", invariant, 7)
        + "spec:invariant 'kvm.arch.mmu_valid_gen in (0, 1)': scenario 'fast_zap' has no "
        "parameter 'colour'; expected one of: "
    )
    assert len(found) == 7
    assert "Traceback" not in app.warning.getvalue()

    held = [v for v in verdicts(app) if v.status == "held"]
    assert [v.expect for v in held] == ["holds", "violated"]
    assert all(v.states > 0 for v in held)


@pytest.mark.sphinx("html", testroot="invariant", freshenv=True, srcdir="invariant-page")
def test_page_shows_verified_checks_and_counterexamples_as_trace_and_svg(app: Any) -> None:
    """Verified: scenario and states; refuted: numbered trace plus an inline, valid SVG."""
    app.build()
    html = (Path(app.outdir) / "index.html").read_text(encoding="utf-8")
    assert "verified: </strong>kvm.arch.mmu_valid_gen in (0, 1) in fast_zap(pages=2, vcpus=1)" in (
        html
    )
    assert re.search(r"\(\d+ states explored\)", html)
    assert "refuted by the model, as documented" in html
    assert "   1. zapper0 mutex_lock(&amp;kvm-&gt;slots_lock)" in html
    svgs = re.findall(r"<svg.*?</svg>", html, re.S)
    assert len(svgs) == 2  # the documented refutation and the divergence
    for svg in svgs:
        root = ET.fromstring(svg)
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        assert "http" not in svg.replace("http://www.w3.org/2000/svg", "")  # no network


@pytest.mark.sphinx("html", testroot="budget", freshenv=True)
def test_exceeding_the_state_budget_is_a_located_error_not_a_hang(app: Any) -> None:
    """specmodel_max_states = 50 in conf.py."""
    app.build()
    assert app.statuscode == 1
    assert spec_errors(app) == [
        at(app, "index.rst", ".. spec:invariant::")
        + "spec:invariant 'kvm.arch.mmu_valid_gen in (0, 1)' in concurrent_zaps(pages=2, vcpus=1) "
        "exceeded its budget (specmodel_max_states = 50, specmodel_time_limit = 120.0): "
        "concurrent_zaps: explored more than 50 states without finishing (raise the state "
        "budget or lower the parameters) [spec.error]"
    ]
