"""specmodel.reports: path rule, control characters, colour, GitHub commands, SARIF schema."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from specmodel import reports
from specmodel.reports import Result
from specmodel.sphinxext.records import Verdict

SCHEMA = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"
#: Every character a message may carry that a terminal or XML must not get raw.
NASTY = "a\x1b[31mred\x1b[0m b\x07 c\x00 d\x1b]0;title\x07 e\x7f f\x9b g\ud800 <&>\"' %,:\r\n"


def validate_sarif(text: str) -> dict[str, object]:
    """Parse ``text`` and validate it against the official SARIF 2.1.0 schema (OASIS)."""
    log = json.loads(text)
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(schema).validate(log)
    assert isinstance(log, dict)
    return log


def test_display_path_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Below the cwd: relative; elsewhere: relative with '..', as Sphinx's _relative_path."""
    from sphinx.util.osutil import _relative_path

    (tmp_path / "a" / "docs").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "a")
    inside = tmp_path / "a" / "docs" / "x.rst"
    outside = tmp_path / "b.rst"
    assert reports.display_path(str(inside)) == "docs/x.rst"
    assert reports.display_path("docs/x.rst") == "docs/x.rst"
    assert reports.display_path(str(outside)) == "../b.rst"
    for path in (inside, outside):
        assert reports.display_path(str(path)) == str(_relative_path(path, Path.cwd()))


def test_terminal_safe_drops_escapes_and_shows_control_characters() -> None:
    """No ESC, BEL, NUL, DEL or C1 byte survives; newlines and tabs do."""
    text = reports.terminal_safe(NASTY)
    assert "\x1b" not in text and "\x07" not in text and "\x00" not in text
    assert "\x7f" not in text and "\x9b" not in text and "\r" not in text
    assert text.startswith("ared b\\x07 c\\x00 d e\\x7f f\\x9b g")
    assert text.endswith("\\x0d\n")


def test_xml_safe_text_always_parses() -> None:
    """xml_safe leaves only characters XML 1.0 allows; a document built with it parses."""
    root = ET.Element("r", a=reports.xml_safe(NASTY))
    root.text = reports.xml_safe(NASTY)
    parsed = ET.fromstring(ET.tostring(root, encoding="unicode"))
    assert parsed.text is not None and "\\x00" in parsed.text and "\\x07" in parsed.text
    assert "<&>" in parsed.text and "\\xd800" in parsed.text


def test_junit_is_well_formed_whatever_the_messages_hold() -> None:
    """ANSI escapes, NUL, BEL and a lone surrogate in a message: the XML still parses."""
    verdicts = [
        Verdict("d/a.rst", 3, "run", "spec:run block", "diverged", NASTY),
        Verdict("d/a.rst", 9, "claim", "checks.x" + NASTY, "error", NASTY),
        Verdict("d/b.rst", 1, "claim", "checks.y", "skipped", NASTY),
        Verdict("d/b.rst", 2, "claim", "checks.z", "held"),
    ]
    root = ET.fromstring(reports.check_junit(verdicts, 1.0).split("\n", 1)[1])
    assert root.get("tests") == "4" and root.get("failures") == "1"
    failure = root.find("./testsuite/testcase/failure")
    assert failure is not None and failure.text is not None
    assert failure.text.startswith("d/a.rst:3: ared b\\x07 c\\x00")


@pytest.mark.parametrize(
    ("environ", "tty", "expected"),
    [
        ({}, False, False),
        ({"TERM": "xterm"}, True, True),
        ({"TERM": "dumb"}, True, False),
        ({"NO_COLOR": "1", "TERM": "xterm"}, True, False),
        ({"FORCE_COLOR": "1"}, False, True),
        ({"NO_COLOR": "", "FORCE_COLOR": "1"}, False, False),
        ({"CI": "true"}, False, True),
        ({"NO_COLOUR": "1", "CI": "true"}, False, False),
    ],
)
def test_colour_follows_sphinx(
    environ: dict[str, str], tty: bool, expected: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """color_enabled agrees with Sphinx's own rule (sphinx.util.console.color_terminal)."""
    import sphinx.util.console
    from sphinx._cli.util import colour as console

    class Stream:
        def isatty(self) -> bool:
            return tty

    assert reports.color_enabled(Stream(), environ) is expected  # type: ignore[arg-type]
    monkeypatch.setattr(console, "_environ", environ)
    monkeypatch.setattr(console.sys, "stdout", Stream())
    assert sphinx.util.console.color_terminal() is expected


def test_github_commands_escape_data_and_properties() -> None:
    """%, CR and LF in the message; also ':' and ',' in properties; no second command."""
    result = Result("d/a,b:c.rst", 7, "error", "spec-divergence", "t: 1, 2%", "m%\r\n::error::x")
    (line, summary) = reports.github([result], "done").splitlines()
    assert line == (
        "::error file=d/a%2Cb%3Ac.rst,line=7,title=t%3A 1%2C 2%25::m%25\\x0d%0A::error::x"
    )
    assert summary == "done"
    note = Result("a.rst", None, "note", "spec-skipped", "skipped", "not run")
    assert (
        reports.github([note], "s").splitlines()[0] == "::notice file=a.rst,title=skipped::not run"
    )


def test_sarif_validates_against_the_official_schema() -> None:
    """Results with and without lines, every level, nasty text: the log is valid SARIF 2.1.0."""
    results = [
        Result("/abs/elsewhere.rst", 3, "error", "spec-divergence", "t", NASTY),
        Result("docs/a.rst", None, "error", "lint-input-error", "not checked", "empty"),
        Result("docs/b.rst", 1, "note", "spec-skipped", "s", "skipped"),
    ]
    log = validate_sarif(reports.sarif(results, version="1.0", exit_code=1, tool="t"))
    (run,) = log["runs"]  # type: ignore[index]
    assert [r["ruleId"] for r in run["results"]] == [
        "spec-divergence",
        "lint-input-error",
        "spec-skipped",
    ]
    assert "region" not in run["results"][1]["locations"][0]["physicalLocation"]
    assert run["invocations"][0]["exitCode"] == 1


def test_the_vendored_schema_rejects_a_broken_log() -> None:
    """The schema test can fail: a result without a message is not SARIF."""
    text = reports.sarif(
        [Result("a.rst", 1, "error", "spec-error", "t", "m")], version="1", exit_code=2, tool="t"
    )
    log = json.loads(text)
    del log["runs"][0]["results"][0]["message"]
    with pytest.raises(jsonschema.ValidationError):
        validate_sarif(json.dumps(log))
    log = json.loads(text)
    log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0
    with pytest.raises(jsonschema.ValidationError):
        validate_sarif(json.dumps(log))


def test_json_paths_follow_the_same_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The JSON report's paths are display paths, like the text report's."""
    monkeypatch.chdir(tmp_path)
    v = Verdict(os.path.join(tmp_path, "docs", "a.rst"), 2, "claim", "c", "diverged", "m")
    doc = json.loads(reports.check_json(["docs"], [v], 0.5, "specmodel-check/1"))
    assert doc["verdicts"][0]["path"] == "docs/a.rst"
    assert reports.check_text([v], 0.5).startswith("docs/a.rst:2: diverged: m\n")
