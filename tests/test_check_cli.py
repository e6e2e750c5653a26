"""``specmodel check`` and ``specmodel claims`` run as real subprocesses, and the pytest plugin."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOTS = Path(__file__).parent / "roots"

ONE_DIVERGENCE = """\
Fast zap
========

.. spec:claim:: checks.fast_zap.generation_only_0_or_1

   The generation only takes the values 0 and 1.

.. spec:claim:: checks.fast_zap.vcpus_never_blocked

   A fast zap never blocks a vCPU.
"""


def specmodel(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "specmodel", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def diverging(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.rst").write_text(ONE_DIVERGENCE)
    return docs


@pytest.fixture
def passing(tmp_path: Path) -> Path:
    docs = tmp_path / "passing"
    shutil.copytree(ROOTS / "test-passing", docs)
    return docs


def test_check_exits_0_and_summarises_when_everything_holds(passing: Path) -> None:
    """A passing project exits 0 with a summary line and no divergence lines."""
    proc = specmodel("check", str(passing), cwd=passing.parent)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-1].startswith("specmodel check: ")
    assert "0 diverged, 0 errors" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_check_reports_a_divergence_at_its_line_and_exits_1(diverging: Path) -> None:
    """The refuted sentence is reported at path:line with the trace; exit 1."""
    proc = specmodel("check", "docs", cwd=diverging.parent)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    first = proc.stdout.splitlines()[0]
    assert first.startswith("docs/index.rst:8: diverged: ")
    assert "vcpus_never_blocked" in first
    assert "1 held, 1 diverged" in proc.stdout
    assert "   1. zapper" in proc.stdout


def test_check_json_report_follows_its_schema(diverging: Path) -> None:
    """The JSON report names its schema, sums up, and lists every verdict with its fields."""
    out = diverging.parent / "report.json"
    proc = specmodel(
        "check", "--format", "json", "--output", str(out), "docs", cwd=diverging.parent
    )
    assert proc.returncode == 1
    doc = json.loads(out.read_text())
    assert doc["schema"] == "specmodel-check/1"
    assert doc["summary"]["diverged"] == 1 and doc["summary"]["held"] == 1
    keys = {
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
    for verdict in doc["verdicts"]:
        assert keys <= set(verdict)
        assert verdict["status"] in {"held", "diverged", "error", "skipped"}
    (bad,) = [v for v in doc["verdicts"] if v["status"] == "diverged"]
    assert (bad["line"], bad["target"]) == (8, "checks.fast_zap.vcpus_never_blocked")


def test_check_junit_report_parses_with_one_testcase_per_directive(diverging: Path) -> None:
    """The JUnit file parses back, counts match, and the failure names the line."""
    out = diverging.parent / "report.xml"
    proc = specmodel(
        "check", "--format", "junit", "--output", str(out), "docs", cwd=diverging.parent
    )
    assert proc.returncode == 1
    root = ET.parse(out).getroot()
    assert root.tag == "testsuites"
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == 2 == int(root.get("tests", "0"))
    failures = root.findall("./testsuite/testcase/failure")
    assert len(failures) == 1 == int(root.get("failures", "0"))
    assert "index.rst:8:" in (failures[0].get("message") or "")
    for case in cases:
        assert case.get("classname") and case.get("name") and case.get("line")
    # standard consumers need these attributes as integers
    for suite in root.findall("testsuite"):
        for key in ("tests", "failures", "errors", "skipped"):
            int(suite.get(key, "x"))


def test_check_exits_2_on_bad_input_with_a_located_message(tmp_path: Path) -> None:
    """An unknown claim is bad input: exit 2, located, no traceback."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.rst").write_text("T\n=\n\n.. spec:claim:: checks.fast_zap.nope\n\n   x\n")
    proc = specmodel("check", "docs", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stdout.startswith("docs/index.rst:4: error: ")
    assert "checks.fast_zap.generation_only_0_or_1" in proc.stdout  # lists the valid ids
    assert "Traceback" not in proc.stdout + proc.stderr


def test_check_exits_2_for_a_missing_path(tmp_path: Path) -> None:
    """A path that does not exist is a usage error naming it."""
    proc = specmodel("check", "nowhere", cwd=tmp_path)
    assert proc.returncode == 2
    assert "nowhere:0: error: expected a source folder or an .rst file" in proc.stderr


def test_check_output_is_written_atomically(diverging: Path) -> None:
    """An unwritable --output leaves no partial file and exits 2 naming it."""
    target = diverging.parent / "missing-dir" / "report.json"
    proc = specmodel(
        "check", "--format", "json", "--output", str(target), "docs", cwd=diverging.parent
    )
    assert proc.returncode == 2
    assert "cannot write" in proc.stderr and str(target) in proc.stderr
    assert not target.parent.exists()


def test_check_and_the_extension_reach_the_same_verdict(diverging: Path) -> None:
    """sphinx-build fails on the same line with the same divergence as specmodel check."""
    conf = diverging / "conf.py"
    conf.write_text('extensions = ["specmodel.sphinxext"]\n')
    check = specmodel("check", "docs", cwd=diverging.parent)
    build = subprocess.run(
        [sys.executable, "-m", "sphinx", "-q", "docs", "out"],
        cwd=diverging.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert check.returncode == 1 and build.returncode == 1
    assert "index.rst:8:" in build.stderr and "vcpus_never_blocked" in build.stderr
    assert "index.rst:4:" not in build.stderr


def test_claims_lists_every_claim_with_verified_mutants(tmp_path: Path) -> None:
    """specmodel claims prints each claim with the mutants it was verified to catch."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.rst").write_text(".. spec:claim:: checks.fast_zap.fifo_partition\n")
    proc = specmodel("claims", "--docs", str(docs), "--format", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = {r["id"]: r for r in json.loads(proc.stdout)["claims"]}
    assert rows["checks.fast_zap.fifo_partition"]["caught"] == ["insert_at_tail"]
    assert rows["checks.fast_zap.fifo_partition"]["cited"] == [f"{docs / 'a.rst'}:1"]
    assert rows["checks.fast_zap.vcpus_never_blocked"]["status"] == "refuted by the kernel model"
    for row in rows.values():
        if not row["kernel_refutes"]:
            assert sorted(row["caught"]) == sorted(row["mutants"]), row


def test_pytest_plugin_turns_directives_into_items(diverging: Path) -> None:
    """--spec-docs gives one item per directive with the same verdict as check."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--spec-docs", "docs"],
        cwd=diverging.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1, proc.stdout
    assert "1 failed, 1 passed" in proc.stdout
    assert "docs/index.rst::line 8 spec:claim checks.fast_zap.vcpus_never_blocked" in proc.stdout
    assert "index.rst:8: diverged:" in proc.stdout


def test_claims_citations_skip_examples_in_literal_blocks(tmp_path: Path) -> None:
    """A spec:claim shown as an example (after ``::`` or in a code block) is not a citation."""
    from specmodel.cli.claims import citations

    (tmp_path / "a.rst").write_text(
        "Write it like this::\n\n   .. spec:claim:: checks.fast_zap.fifo_partition\n\n"
        ".. code-block:: rst\n\n   .. spec:claim:: checks.fast_zap.fifo_partition\n\n"
        ".. note::\n\n   .. spec:claim:: checks.fast_zap.zap_done_on_return\n"
    )
    assert citations(tmp_path) == {
        "checks.fast_zap.zap_done_on_return": [f"{tmp_path / 'a.rst'}:11"]
    }


def test_claims_output_into_a_closed_pipe_is_not_an_error(tmp_path: Path) -> None:
    """``specmodel claims | head -1`` ends quietly, without a traceback."""
    proc = subprocess.run(
        f"{sys.executable} -m specmodel claims --no-verify | head -1",
        shell=True,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.stdout.startswith("checks.")
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr
