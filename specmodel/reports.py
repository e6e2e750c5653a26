"""Report writers of ``specmodel check`` and ``specmodel lint``: text, json, junit, github, sarif.

Every writer takes :class:`Result` records (one per problem, already located) or the check
verdicts, and follows the same rules:

* **Paths** are relative to the current directory, as Sphinx's ``_relative_path`` makes them
  (``os.path.relpath``, so a file outside the working directory is ``../x.rst``; a path on
  another drive stays absolute). :func:`display_path` is the one place that decides.
* **Control characters** never reach a terminal or an XML file raw: :func:`terminal_safe`
  drops ANSI escape sequences and shows other control characters as ``\\xNN``;
  :func:`xml_safe` does the same for the characters XML 1.0 cannot hold (NUL, BEL, ESC, ...).
* **Colour** (text only) follows Sphinx's rule (``sphinx.util.console``): ``NO_COLOR`` (or
  ``NO_COLOUR``) turns it off, else ``FORCE_COLOR``/``FORCE_COLOUR`` or ``CI=true`` turn it
  on, else it is on when the stream is a terminal whose ``TERM`` is not ``dumb``.

Formats:

* ``text``: ``path:line: status: message`` lines, then one summary line.
* ``json``: the ``specmodel-check/1`` document (:func:`check_json`).
* ``junit``: JUnit XML built with :mod:`xml.etree.ElementTree` (one ``<testcase>`` per
  verdict, ``<failure>`` for a divergence, ``<error>`` for bad input, ``<skipped>``).
* ``github``: GitHub Actions workflow commands, ``::error file=F,line=L,title=T::MESSAGE``,
  escaped as the runner expects (``%``, CR and LF in the message; also ``:`` and ``,`` in
  properties), then the summary as a plain line.
* ``sarif``: SARIF 2.1.0 (one run; ``tool.driver.rules`` lists the rules used; each result
  has a ``ruleId``, a ``level``, a message and a physical location with ``startLine``).

No Sphinx import here: ``specmodel lint`` uses this module and must not load Sphinx.
"""

from __future__ import annotations

import json
import os
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final, Literal

__all__ = [
    "FORMATS",
    "Result",
    "color_enabled",
    "display_path",
    "github",
    "sarif",
    "terminal_safe",
    "xml_safe",
]

#: Every report format; ``check`` offers all of them, ``lint`` all but junit.
FORMATS: Final = ("text", "json", "junit", "github", "sarif")
#: The SARIF version written, and the schema it names.
SARIF_VERSION: Final = "2.1.0"
SARIF_SCHEMA: Final = "https://json.schemastore.org/sarif-2.1.0.json"


Level = Literal["error", "warning", "note"]

# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST) and the two-byte escapes
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]")
# C0 controls but tab and newline, DEL, and the C1 controls: shown, never passed through
_TERMINAL_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# what XML 1.0 cannot hold at all (section 2.2, Char), plus the C1 controls it discourages
_XML_UNSAFE = re.compile("[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class Result:
    """One located problem, the common input of the github and sarif writers.

    ``path`` as given (absolute or relative; writers apply :func:`display_path`), ``line``
    1-based or None for the whole file, ``rule`` a stable id (``spec-divergence``,
    ``lint-renamed``), ``title`` a short heading, ``message`` the full text.
    """

    path: str
    line: int | None
    level: Level
    rule: str
    title: str
    message: str


def display_path(path: str) -> str:
    """``path`` relative to the current directory, as Sphinx's ``_relative_path`` gives it."""
    target = Path(path)
    if not target.is_absolute():
        target = Path.cwd() / target
    cwd = Path.cwd()
    if target.anchor != cwd.anchor:
        return str(target)
    return os.path.relpath(target, cwd)


def _escape_control(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}"


def terminal_safe(text: str) -> str:
    """``text`` with ANSI escape sequences removed and other control characters shown as
    ``\\xNN``, so a message cannot move the cursor, recolour or clear a terminal."""
    return _TERMINAL_UNSAFE.sub(_escape_control, _ANSI.sub("", text))


def xml_safe(text: str) -> str:
    """``text`` with ANSI sequences removed and every character XML 1.0 cannot hold (NUL,
    BEL, ESC, lone surrogates, U+FFFE/U+FFFF) shown as ``\\xNN``."""
    return _XML_UNSAFE.sub(_escape_control, _ANSI.sub("", text))


def color_enabled(stream: IO[str] | None = None, environ: Mapping[str, str] | None = None) -> bool:
    """Whether to colour text written to ``stream`` (default stdout), by Sphinx's rule."""
    env = os.environ if environ is None else environ
    if "NO_COLOR" in env or "NO_COLOUR" in env:
        return False
    if "FORCE_COLOR" in env or "FORCE_COLOUR" in env:
        return True
    if env.get("CI", "").lower() in {"true", "1"}:
        return True
    out = sys.stdout if stream is None else stream
    try:
        if not out.isatty():
            return False
    except (AttributeError, ValueError):
        return False
    return env.get("TERM", "unknown").lower() not in {"dumb", "unknown"}


_COLORS: Final = {"red": "31;01", "yellow": "33;01", "green": "32;01", "bold": "01"}


def paint(text: str, color: str, enabled: bool) -> str:
    """``text`` in ``color`` (red, yellow, green, bold) when ``enabled``."""
    return f"\x1b[{_COLORS[color]}m{text}\x1b[39;49;00m" if enabled else text


def location(path: str, line: int | None) -> str:
    """``path:line`` (or ``path`` for the whole file), the path as :func:`display_path`."""
    shown = display_path(path)
    return shown if line is None else f"{shown}:{line}"


# -- check -----------------------------------------------------------------------------------


def _summary(verdicts: Sequence[Any]) -> dict[str, float]:
    from specmodel.sphinxext.records import summarize

    return summarize(verdicts)


def check_summary(verdicts: Sequence[Any], seconds: float) -> str:
    """The one-line summary every ``check`` format ends with (``--output`` prints only it)."""
    s = _summary(verdicts)
    return (
        f"specmodel check: {s['checked']} checked, {s['held']} held, {s['diverged']} "
        f"diverged, {s['errors']} errors, {s['skipped']} skipped; {int(s['states'])} states "
        f"explored; {seconds:.2f} s"
    )


_STATUS_COLOR: Final = {"diverged": "red", "error": "red", "skipped": "yellow"}


def check_text(verdicts: Sequence[Any], seconds: float, *, color: bool = False) -> str:
    """``path:line: status: message`` per failing verdict, then the summary."""
    lines = []
    for v in verdicts:
        if not v.failed:
            continue
        status = paint(v.status, _STATUS_COLOR.get(v.status, "bold"), color)
        lines.append(f"{location(v.path, v.line)}: {status}: {terminal_safe(v.message)}")
    failed = any(v.failed for v in verdicts)
    lines.append(paint(check_summary(verdicts, seconds), "red" if failed else "green", color))
    return "\n".join(lines) + "\n"


def check_json(paths: Sequence[str], verdicts: Sequence[Any], seconds: float, schema: str) -> str:
    """The ``specmodel-check/1`` document, with every path as :func:`display_path` gives it."""
    summary: dict[str, Any] = dict(_summary(verdicts))
    summary["wall_seconds"] = round(seconds, 3)
    records = []
    for v in verdicts:
        record = v.to_json()
        record["path"] = display_path(v.path)
        records.append(record)
    doc = {"schema": schema, "paths": list(paths), "summary": summary, "verdicts": records}
    return json.dumps(doc, indent=2) + "\n"


def check_junit(verdicts: Sequence[Any], seconds: float) -> str:
    """JUnit XML, one ``<testsuite>`` per source file, well-formed whatever messages hold."""
    suites = ET.Element("testsuites", name="specmodel check")
    by_path: dict[str, list[Any]] = {}
    for v in verdicts:
        by_path.setdefault(display_path(v.path), []).append(v)
    total = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for path, group in by_path.items():
        suite = ET.SubElement(suites, "testsuite", name=xml_safe(path))
        counts = {"tests": len(group), "failures": 0, "errors": 0, "skipped": 0}
        for v in group:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=xml_safe(path),
                name=xml_safe(f"{v.kind} {v.target} (line {v.line})"),
                file=xml_safe(path),
                line=str(v.line),
                time=f"{v.seconds:.3f}",
            )
            text = xml_safe(f"{path}:{v.line}: {v.message}")
            if v.status == "diverged":
                counts["failures"] += 1
                el = ET.SubElement(case, "failure", message=text[:500], type="divergence")
                el.text = text
            elif v.status == "error":
                counts["errors"] += 1
                el = ET.SubElement(case, "error", message=text[:500], type="bad-input")
                el.text = text
            elif v.status == "skipped":
                counts["skipped"] += 1
                reason = xml_safe(v.message or "exploration skipped")
                ET.SubElement(case, "skipped", message=reason)
        for key, value in counts.items():
            suite.set(key, str(value))
            total[key] += value
    for key, value in total.items():
        suites.set(key, str(value))
    suites.set("time", f"{seconds:.3f}")
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def check_results(verdicts: Iterable[Any]) -> list[Result]:
    """The failing and skipped verdicts of a check as :class:`Result` records."""
    results = []
    for v in verdicts:
        if v.status == "held":
            continue
        level: Level = "note" if v.status == "skipped" else "error"
        rule = {"diverged": "spec-divergence", "error": "spec-error"}.get(v.status, "spec-skipped")
        what = v.target if v.target.startswith("spec:") else f"spec:{v.kind} {v.target}"
        title = f"{what} {v.status}"
        results.append(Result(v.path, v.line, level, rule, title, v.message or v.status))
    return results


# -- github ----------------------------------------------------------------------------------


def _github_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _github_property(text: str) -> str:
    return _github_data(text).replace(":", "%3A").replace(",", "%2C")


_GITHUB_COMMAND: Final = {"error": "error", "warning": "warning", "note": "notice"}


def github(results: Iterable[Result], summary: str) -> str:
    """One workflow command per result (``::error file=...,line=...,title=...::message``), then
    ``summary`` as a plain line. ANSI sequences and control characters are dropped or shown
    as ``\\xNN`` before the runner's escaping, so a message cannot inject a second command."""
    lines = []
    for r in results:
        props = [f"file={_github_property(display_path(r.path))}"]
        if r.line is not None:
            props.append(f"line={r.line}")
        props.append(f"title={_github_property(terminal_safe(r.title))}")
        message = _github_data(terminal_safe(r.message))
        lines.append(f"::{_GITHUB_COMMAND[r.level]} {','.join(props)}::{message}")
    lines.append(terminal_safe(summary))
    return "\n".join(lines) + "\n"


# -- sarif -----------------------------------------------------------------------------------

#: Rule id -> one-line description, for ``tool.driver.rules``.
RULES: Final[dict[str, str]] = {
    "spec-divergence": "The prose states something the model refutes.",
    "spec-error": "A spec directive the model cannot run (bad input).",
    "spec-skipped": "A check that was not run (specmodel_skip_exploration).",
    "lint-undocumented": "A member of the struct that the mmu.rst field list does not describe.",
    "lint-renamed": "An mmu.rst entry under a name the kernel renamed.",
    "lint-unknown-field": "An mmu.rst entry for a name the struct does not have.",
    "lint-duplicate": "A second mmu.rst entry for the same member.",
    "lint-input-error": "An mmu.rst the linter cannot read (binary, conflicted, no field list).",
}


def sarif(results: Sequence[Result], *, version: str, exit_code: int, tool: str) -> str:
    """A SARIF 2.1.0 log with one run of ``tool`` (``specmodel check``/``specmodel lint``)."""
    used = sorted({r.rule for r in results})
    rules = [{"id": rule, "shortDescription": {"text": RULES.get(rule, rule)}} for rule in used]
    index = {rule: i for i, rule in enumerate(used)}
    out = []
    for r in results:
        region: dict[str, Any] = {}
        physical: dict[str, Any] = {
            "artifactLocation": {"uri": Path(display_path(r.path)).as_posix()}
        }
        if r.line is not None and r.line >= 1:
            region = {"startLine": r.line}
            physical["region"] = region
        out.append(
            {
                "ruleId": r.rule,
                "ruleIndex": index[r.rule],
                "level": r.level,
                "message": {"text": terminal_safe(r.message)},
                "locations": [{"physicalLocation": physical}],
            }
        )
    log = {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "specmodel",
                        "version": version,
                        "rules": rules,
                    }
                },
                "invocations": [
                    {
                        "commandLine": tool,
                        "executionSuccessful": exit_code != 2,
                        "exitCode": exit_code,
                    }
                ],
                "results": out,
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"
