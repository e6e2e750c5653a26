"""``specmodel check`` and ``specmodel claims`` run as real subprocesses, and the pytest plugin."""

from __future__ import annotations

import json
import os
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


def specmodel(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the CLI; without ``env``, with NO_COLOR set (CI=true would colour the text)."""
    return subprocess.run(
        [sys.executable, "-m", "specmodel", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env=env if env is not None else {**os.environ, "NO_COLOR": "1"},
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
    assert "nowhere: error: expected a source folder or an .rst file" in proc.stderr
    assert ":0:" not in proc.stderr


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


#: A divergence that needs no exploration (a spec:run whose assertion fails), with control
#: characters in its message: ESC sequences, BEL, NUL, markup characters and a newline.
QUICK_DIVERGENCE = """\
T
=

.. spec:run::

   assert 1 == 2, "x" + chr(27) + "[31mred" + chr(7) + chr(0) + "<&>\\n::error::injected"
"""


@pytest.fixture
def quick(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.rst").write_text(QUICK_DIVERGENCE)
    return docs


def shell(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``bash -o pipefail -c COMMAND`` with this interpreter as ``specmodel``."""
    return subprocess.run(
        [
            "bash",
            "-o",
            "pipefail",
            "-c",
            command.replace("specmodel", f"{sys.executable} -m specmodel"),
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_COLOR": "1"},
    )


@pytest.mark.parametrize("reader", ["head -1", "true"])
def test_a_closed_pipe_keeps_the_verdicts_exit_status(quick: Path, reader: str) -> None:
    """check | head -1 under pipefail fails as the verdict does (1), not 0, quietly."""
    proc = shell(f"specmodel check docs | {reader}; echo status=${{PIPESTATUS[0]}}", quick.parent)
    assert proc.stdout.splitlines()[-1] == "status=1", proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr
    failed = shell(f"specmodel check docs | {reader}", quick.parent)
    assert failed.returncode == 1


def test_a_closed_pipe_keeps_every_commands_status(quick: Path) -> None:
    """lint (drift: 1, bad input: 2) and claims (0) into a closed pipe keep their status."""
    drift = Path(__file__).parent / "lint_inputs" / "drift.rst"
    proc = shell(f"specmodel lint {drift} | true", quick.parent)
    assert proc.returncode == 1, proc.stderr
    proc = shell(f"specmodel lint {quick / 'nothing.rst'} | true", quick.parent)
    assert proc.returncode == 2, proc.stderr
    proc = shell("specmodel check --format json docs | true", quick.parent)
    assert proc.returncode == 1, proc.stderr
    proc = shell("specmodel claims --no-verify | true", quick.parent)
    assert proc.returncode == 0, proc.stderr


def test_a_non_utf8_source_is_one_located_error_and_the_report_is_replaced(
    tmp_path: Path,
) -> None:
    """Invalid UTF-8 at line 5: exit 2, 'docs/index.rst:5: error:', the old report replaced."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.rst").write_bytes(b"Title\n=====\n\nok\n\xff\xfe bad\n")
    out = tmp_path / "report.json"
    out.write_text('{"stale": true}')
    proc = specmodel("check", "--format", "json", "--output", str(out), "docs", cwd=tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stdout + proc.stderr
    doc = json.loads(out.read_text())
    (verdict,) = doc["verdicts"]
    assert (verdict["path"], verdict["line"], verdict["status"]) == ("docs/index.rst", 5, "error")
    assert verdict["message"].startswith("expected UTF-8 text; found byte 0xff that is not valid")
    assert proc.stdout.splitlines() == [
        line for line in proc.stdout.splitlines() if line.startswith("specmodel check: ")
    ]
    text = specmodel("check", "docs", cwd=tmp_path)
    assert text.returncode == 2
    assert text.stdout.startswith("docs/index.rst:5: error: expected UTF-8 text; found byte 0xff")


def test_a_binary_source_is_a_located_error(tmp_path: Path) -> None:
    """A NUL byte (binary data) is reported at its line, exit 2."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.rst").write_bytes(b"T\n=\n\x00\x01\x02")
    proc = specmodel("check", "docs", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stdout.startswith("docs/index.rst:3: error: expected UTF-8 text; found binary")


def test_output_prints_only_the_summary_line(quick: Path) -> None:
    """--output FILE: the report goes to FILE, standard output has the one summary line."""
    for fmt in ("text", "json", "junit", "github", "sarif"):
        out = quick.parent / f"report.{fmt}"
        proc = specmodel("check", "--format", fmt, "--output", str(out), "docs", cwd=quick.parent)
        assert proc.returncode == 1
        (line,) = proc.stdout.splitlines()
        assert line.startswith("specmodel check: 1 checked, 0 held, 1 diverged"), fmt
        assert out.stat().st_size > 0


def test_text_report_passes_no_escape_sequence_to_the_terminal(quick: Path) -> None:
    """ESC, BEL and NUL from a message are shown as \\xNN or dropped, never written raw."""
    proc = specmodel("check", "docs", cwd=quick.parent)
    assert proc.returncode == 1
    assert "\x1b" not in proc.stdout and "\x07" not in proc.stdout and "\x00" not in proc.stdout
    assert "xred\\x07\\x00<&>" in proc.stdout


@pytest.mark.parametrize(
    ("environ", "coloured"),
    [({"NO_COLOR": "1", "FORCE_COLOR": "1"}, False), ({"FORCE_COLOR": "1"}, True)],
)
def test_no_color_and_force_color_are_honoured(
    quick: Path, environ: dict[str, str], coloured: bool
) -> None:
    """As Sphinx: NO_COLOR wins; FORCE_COLOR colours even into a pipe."""
    base = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "CI")}
    proc = specmodel("check", "docs", cwd=quick.parent, env={**base, **environ})
    assert proc.returncode == 1
    assert ("\x1b[31;01mdiverged\x1b[39;49;00m" in proc.stdout) is coloured
    assert ("\x1b[" in proc.stdout) is coloured


def test_junit_report_with_control_characters_parses_and_uses_relative_paths(
    quick: Path,
) -> None:
    """The JUnit XML is well formed although the message holds ESC, BEL and NUL."""
    out = quick.parent / "r.xml"
    proc = specmodel("check", "--format", "junit", "--output", str(out), "docs", cwd=quick.parent)
    assert proc.returncode == 1
    root = ET.parse(out).getroot()
    case = root.find("./testsuite/testcase")
    assert case is not None and case.get("classname") == "docs/index.rst"
    assert (
        case.get("file") == "docs/index.rst" and case.get("line") == "6"
    )  # the failing line of the block
    failure = case.find("failure")
    assert failure is not None and "xred\\x07\\x00<&>" in (failure.text or "")


def test_github_format_prints_workflow_commands(quick: Path) -> None:
    """One ::error command at the divergence, message escaped onto one line."""
    proc = specmodel("check", "--format", "github", "docs", cwd=quick.parent)
    assert proc.returncode == 1
    command, summary = proc.stdout.splitlines()
    assert command.startswith(
        "::error file=docs/index.rst,line=6,title=spec%3Arun block diverged::spec:run block "
        "diverges from the model"
    )
    assert command.endswith("xred\\x07\\x00<&>%0A::error::injected")
    assert summary.startswith("specmodel check: 1 checked")


def test_sarif_format_validates_against_the_schema(quick: Path) -> None:
    """specmodel check --format sarif emits a valid SARIF 2.1.0 log locating the divergence."""
    from test_reports import validate_sarif

    proc = specmodel("check", "--format", "sarif", "docs", cwd=quick.parent)
    assert proc.returncode == 1
    log = validate_sarif(proc.stdout)
    (result,) = log["runs"][0]["results"]  # type: ignore[index]
    location = result["locations"][0]["physicalLocation"]
    assert location == {"artifactLocation": {"uri": "docs/index.rst"}, "region": {"startLine": 6}}
    assert (result["ruleId"], result["level"]) == ("spec-divergence", "error")


def test_lint_github_and_sarif_formats(tmp_path: Path) -> None:
    """lint offers the same CI formats; a missing file has no line in either."""
    drift = Path(__file__).parent / "lint_inputs" / "drift.rst"
    missing = tmp_path / "gone.rst"
    proc = specmodel("lint", "--format", "github", str(drift), str(missing), cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stdout.splitlines()
    assert any(
        line.startswith("::error file=") and ",line=17,title=renamed gfns" in line for line in lines
    )
    assert f"::error file={os.path.relpath(missing, tmp_path)},title=not checked::" in proc.stdout
    sarif = specmodel("lint", "--format", "sarif", str(drift), cwd=tmp_path)
    assert sarif.returncode == 1
    from test_reports import validate_sarif

    log = validate_sarif(sarif.stdout)
    rules = {r["ruleId"] for r in log["runs"][0]["results"]}  # type: ignore[index]
    assert rules == {"lint-undocumented", "lint-renamed", "lint-duplicate"}


@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [
        ("--max-states", "abc", "expected a positive int (states per check) or 'none'"),
        ("--max-states", "-5", "got '-5'"),
        ("--max-states", "1.5", "got '1.5'"),
        ("--time-limit", "nan", "expected a positive number of seconds"),
        ("--time-limit", "0", "got '0'"),
        ("--kernel", "v9.9", "expected one of 'v5.10', 'v6.9', 'v6.14', 'v6.16'"),
    ],
)
def test_bad_check_flags_are_usage_errors(
    quick: Path, flag: str, value: str, expected: str
) -> None:
    """Each flag is checked as its conf value is: exit 2, naming the flag and the value."""
    proc = specmodel("check", flag, value, "docs", cwd=quick.parent)
    assert proc.returncode == 2
    assert f"specmodel check: error: argument {flag}: " in proc.stderr
    assert expected in proc.stderr
    assert proc.stdout == ""


def test_check_flags_override_the_conf_values(quick: Path) -> None:
    """--max-states none and --time-limit 30 are accepted and the check runs."""
    proc = specmodel(
        "check",
        "--max-states",
        "none",
        "--time-limit",
        "30",
        "--kernel",
        "v6.9",
        "docs",
        cwd=quick.parent,
    )
    assert proc.returncode == 1, proc.stderr
