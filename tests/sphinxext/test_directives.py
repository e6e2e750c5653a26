"""Real Sphinx builds of small roots: each divergence and each bad input, located exactly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from spec_helpers import at, line_of, messages, spec_errors, verdicts

from specmodel.sphinxext import setup
from specmodel.sphinxext.records import Verdict


@pytest.mark.sphinx("html", testroot="passing", freshenv=True, confoverrides={"nitpicky": True})
def test_passing_project_builds_clean_and_shows_verified(app: Any) -> None:
    """Every field documented once, true values and blocks: exit 0, no warning at all."""
    app.build()
    assert app.statuscode == 0
    assert messages(app) == []
    assert {v.status for v in verdicts(app)} == {"held"}
    html = (Path(app.outdir) / "index.html").read_text(encoding="utf-8")
    assert "verified" in html
    assert 'class="reference internal" href="page.html#spec-field-mmu_valid_gen"' in html


def test_setup_declares_version_and_parallel_safety() -> None:
    """setup() metadata: a version, an env_version and honest parallel flags."""

    class Recorder:
        def __getattr__(self, name: str) -> Any:
            return lambda *args, **kwargs: None

    meta = setup(Recorder())  # type: ignore[arg-type]
    assert meta["parallel_read_safe"] is True
    assert meta["parallel_write_safe"] is True
    assert meta["env_version"] >= 1
    assert meta["version"]


@pytest.mark.sphinx("html", testroot="coverage", freshenv=True)
def test_coverage_and_field_option_divergences_fail_the_build(app: Any) -> None:
    """Missing, duplicate and unknown fields, wrong :type: and :values:, each at its line."""
    app.build()
    assert app.statuscode == 1
    found = spec_errors(app)
    srcdir = Path(app.srcdir)
    expected = [
        at(app, "index.rst", ".. spec:field:: role.has_4_byte_gpte")
        + "spec:field role.has_4_byte_gpte diverges from KvmMmuPageRole: :type: states 'u8'; "
        "the model has 'unsigned int:1' (1 bit) [spec.divergence]",
        at(app, "index.rst", ".. spec:field:: role.quadrant")
        + "spec:field role.quadrant diverges from KvmMmuPageRole: :values: states '0..7'; "
        "the model allows 0..3 [spec.divergence]",
        at(app, "more.rst", ".. spec:field:: role.level")
        + "field role.level of KvmMmuPageRole is documented 2 times; expected exactly one "
        f"spec:field, first at {srcdir / 'index.rst'}:10 [spec.divergence]",
        at(app, "index.rst", ".. spec:model:: KvmMmuPageRole")
        + "model KvmMmuPageRole: field role.guest_mode (unsigned int:1) is documented nowhere; "
        "expected one '.. spec:field:: role.guest_mode' in the project [spec.divergence]",
    ]
    for line in expected:
        assert line in found
    nosuch = next(m for m in found if "role.nosuch" in m)
    assert nosuch.startswith(
        at(app, "index.rst", ".. spec:field:: role.nosuch")
        + "spec:field 'role.nosuch' names no field of KvmMmuPageRole; expected one of: "
        "role.access, role.ad_disabled,"
    )
    assert "mmu_valid_gen" not in nosuch
    assert len(found) == 5  # role.smm is documented (in more.rst); nothing else is reported


@pytest.mark.sphinx("html", testroot="run", freshenv=True)
def test_spec_run_blocks_report_asserts_exceptions_and_syntax_errors(app: Any) -> None:
    """A failed assert diverges; a NameError or SyntaxError is bad input; each located at
    the failing line of the block (a block that runs when it should not, at the directive)."""
    app.build()
    assert app.statuscode == 1
    src = Path(app.srcdir) / "index.rst"
    assert spec_errors(app) == [
        at(app, "index.rst", "assert page_batch")
        + "spec:run block diverges from the model: the prose expects it to run without error; "
        f"it raised AssertionError at line {line_of(src, 'assert page_batch')}: expected 12 "
        "pages per batch, got 10 [spec.divergence]",
        at(app, "index.rst", ".. spec:run::", 3)
        + "spec:run block diverges from the model: the prose expects the model to refute it "
        "(:expect: violated), but it ran without error [spec.divergence]",
        at(app, "index.rst", "undefined_name")
        + f"spec:run block raised NameError at line {line_of(src, 'undefined_name')}: name "
        "'undefined_name' is not defined [spec.error]",
        at(app, "index.rst", "def broken")
        + f"spec:run block does not parse: invalid syntax (line {line_of(src, 'def broken')})"
        " [spec.error]",
    ]
    assert "Traceback" not in app.warning.getvalue()


@pytest.mark.sphinx("html", testroot="value", freshenv=True)
def test_value_role_renders_the_constant_and_checks_stated_values(app: Any) -> None:
    """``NAME = literal`` that disagrees diverges; an unknown name lists the constants."""
    app.build()
    assert app.statuscode == 1
    found = spec_errors(app)
    assert found[0] == (
        at(app, "index.rst", "BATCH_ZAP_PAGES = 12")
        + ":spec:value: the prose states BATCH_ZAP_PAGES = 12; the model has "
        "BATCH_ZAP_PAGES = 10 (specmodel.kernel) [spec.divergence]"
    )
    assert found[1].startswith(
        at(app, "index.rst", "NO_SUCH_CONSTANT")
        + ":spec:value: unknown constant 'NO_SUCH_CONSTANT'; expected one of: ACC_ALL, "
    )
    assert len(found) == 2
    html = (Path(app.outdir) / "index.html").read_text(encoding="utf-8")
    assert '<span class="pre">10</span>' in html


@pytest.mark.sphinx("html", testroot="markup", freshenv=True)
def test_misspelled_directives_roles_and_options_fail_the_build(app: Any) -> None:
    """What docutils only reports as exit-0 system messages is a located build failure."""
    app.build()
    assert app.statuscode == 1
    assert spec_errors(app) == [
        at(app, "index.rst", ".. spec:claimm::")
        + "unknown directive spec:claimm; expected one of: spec:claim, spec:field, "
        "spec:invariant, spec:model, spec:run [spec.error]",
        at(app, "index.rst", ".. spec:field:: role.level")
        + "spec:field role.level: unknown option :typo:; valid options: :type:, :values: "
        "[spec.error]",
        at(app, "index.rst", ":spec:fieldd:")
        + "unknown role :spec:fieldd:; expected one of: :spec:claim:, :spec:field:, "
        ":spec:value: [spec.error]",
        at(app, "index.rst", ".. spec:model:: NoSuchModel")
        + "spec:model: unknown model 'NoSuchModel'; expected one of: KvmMmuPage, "
        "KvmMmuPageRole [spec.error]",
        at(app, "index.rst", ".. spec:run::")
        + "spec:run: :expect: must be 'holds' or 'violated' (got 'sometimes') [spec.error]",
        at(app, "index.rst", ".. spec:field::", 2)
        + "spec:field directive: 1 argument(s) required, 0 supplied. [spec.error]",
    ]
    assert "Traceback" not in app.warning.getvalue()
    # each printed once, by specmodel: no echo of docutils' own message
    assert "[docutils]" not in app.warning.getvalue()


@pytest.mark.sphinx(
    "html",
    testroot="run",
    freshenv=True,
    confoverrides={"specmodel_skip_exploration": True},
    srcdir="run-skipped",
)
def test_skip_exploration_marks_checks_skipped_on_the_page(app: Any) -> None:
    """No block runs; the page says so; only the (unskippable) parse-free checks remain."""
    app.build()
    assert {v.status for v in verdicts(app) if v.kind == "run"} == {"skipped"}
    assert app.statuscode == 0
    html = (Path(app.outdir) / "index.html").read_text(encoding="utf-8")
    assert "checks were skipped" in html


@pytest.mark.sphinx(
    "html",
    testroot="coverage",
    freshenv=True,
    confoverrides={"specmodel_skip_exploration": True},
    srcdir="coverage-skipped",
)
def test_skip_exploration_still_fails_on_coverage(app: Any) -> None:
    """Skipping exploration never skips field coverage."""
    app.build()
    assert app.statuscode == 1
    assert any("is documented nowhere" in m for m in spec_errors(app))


def test_verdict_records_serialise_for_reports() -> None:
    """The fields the CLI reports: path, line, kind, target, status, message, states, seconds."""
    verdict = Verdict("a.rst", 3, "claim", "checks.x.y", "held", states=12, seconds=0.5)
    assert set(verdict.to_json()) == {
        "path",
        "line",
        "kind",
        "target",
        "status",
        "message",
        "states",
        "seconds",
        "docname",
        "expect",
    }
    assert verdict.location == "a.rst:3"
    assert not verdict.failed


@pytest.mark.sphinx("html", testroot="timeout", freshenv=True)
def test_a_block_over_its_time_limit_is_a_located_error_not_a_hang(app: Any) -> None:
    """specmodel_time_limit = 0.3 in conf.py; the block loops forever."""
    app.build()
    assert app.statuscode == 1
    assert spec_errors(app) == [
        at(app, "index.rst", ".. spec:run::")
        + "spec:run block ran longer than its time limit of 0.3 s (specmodel_time_limit) and "
        "was stopped [spec.error]"
    ]


@pytest.mark.sphinx("html", testroot="include", freshenv=True)
def test_a_directive_in_an_included_file_is_located_in_that_file(app: Any) -> None:
    app.build()
    assert app.statuscode == 1
    assert spec_errors(app) == [
        at(app, "part.inc", "assert")
        + "spec:run block diverges from the model: the prose expects it to run without error; "
        f"it raised AssertionError at line {line_of(Path(app.srcdir) / 'part.inc', 'assert')}: "
        "assert BATCH_ZAP_PAGES == 11 [spec.divergence]"
    ]
