"""Property-based fuzzing of the Sphinx extension: small generated projects, real builds.

Each example is a project of two documents and an included fragment, made of spec
directives (valid and invalid options), roles, tables, literal blocks and includes, then
damaged at random (characters inserted, deleted, lines swapped, bytes that are not UTF-8).
It is built three times: serially from scratch, again unchanged (incremental), and from
scratch with ``-j 2``. The properties: no Python traceback, an exit status in {0, 1, 2},
every diagnostic located at a line of the input, the same diagnostics serially and in
parallel, and the same verdicts on the unchanged rebuild.

The run is bounded and deterministic (``derandomize``): ``SPECMODEL_FUZZ_EXAMPLES`` (default
12) examples. The model checks in it are tiny (``specmodel_max_states = 40``); most markup
is fields, models and roles, whose checks cost nothing.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specmodel.sphinxext.engine import CheckRun, EngineError, check_sources

EXAMPLES = int(os.environ.get("SPECMODEL_FUZZ_EXAMPLES", "12"))
CONF = (
    'extensions = ["specmodel.sphinxext"]\n'
    "specmodel_max_states = 40\n"
    "specmodel_time_limit = 5.0\n"
    "specmodel_cache_dir = None\n"
)

FIELDS = ["gfn", "spt", "role.level", "role.quadrant", "nosuch", "role.nosuch", ""]
TYPES = ["gfn_t", "u64 *", "unsigned int:4", "u8", "", "4 bits"]
VALUES = ["1..5", "0..3", "0, 1", "", "x..y"]
BODIES = ["", "   What the field holds.\n", "   See :spec:field:`gfn`.\n"]
ROLES = [
    ":spec:value:`BATCH_ZAP_PAGES`",
    ":spec:value:`BATCH_ZAP_PAGES = 10`",
    ":spec:value:`BATCH_ZAP_PAGES = 12`",
    ":spec:value:`NOPE`",
    ":spec:field:`gfn`",
    ":spec:field:`nosuch`",
    ":spec:claim:`checks.fast_zap.nope`",
    ":spec:claim:`checks.fast_zap.fifo_partition`",
    ":spec:valu:`x`",
    ":spec:value:BATCH_ZAP_PAGES",
]
RUN_BODIES = [
    "   assert BATCH_ZAP_PAGES == 10\n",
    "   assert BATCH_ZAP_PAGES == 11\n",
    "   def broken(:\n",
    "   undefined_name\n",
]
DAMAGE = [
    *":`.=|*_\t\n ",
    "..",
    "::",
    "   ",
    ".. spec:",
    ":spec:",
    "\x00",
    "\x1b[31m",
    "\u201c",
    "<<<<<<< HEAD\n",
    ">>>>>>> other\n",
]


@st.composite
def field(draw: st.DrawFn) -> str:
    text = f".. spec:field:: {draw(st.sampled_from(FIELDS))}\n"
    if draw(st.booleans()):
        text += f"   :type: {draw(st.sampled_from(TYPES))}\n"
    if draw(st.booleans()):
        text += f"   :values: {draw(st.sampled_from(VALUES))}\n"
    if draw(st.integers(0, 5)) == 0:
        text += "   :typo: 1\n"
    body = draw(st.sampled_from(BODIES))
    return text + ("\n" + body if body else "")


@st.composite
def check(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["run", "invariant", "claim", "model"]))
    if kind == "run":
        expect = draw(st.sampled_from(["", "   :expect: violated\n", "   :expect: maybe\n"]))
        return f".. spec:run::\n{expect}\n{draw(st.sampled_from(RUN_BODIES))}"
    if kind == "invariant":
        options = draw(
            st.sampled_from(
                ["   :vcpus: 1\n   :pages: 1\n", "   :scenario: nope\n", "   :mutant:\n", ""]
            )
        )
        return f".. spec:invariant:: kvm.arch.mmu_valid_gen in (0, 1)\n{options}\n   Text.\n"
    if kind == "claim":
        name = draw(st.sampled_from(["checks.fast_zap.nope", "nodots", "checks.nope.x"]))
        return f".. spec:claim:: {name}\n\n   A claim.\n"
    return f".. spec:model:: {draw(st.sampled_from(['KvmMmuPageRole', 'NoSuchModel']))}\n"


@st.composite
def paragraph(draw: st.DrawFn) -> str:
    words = draw(
        st.lists(st.sampled_from(["The", "zap", "yields", *ROLES]), min_size=1, max_size=6)
    )
    lines = [" ".join(words[i : i + 2]) for i in range(0, len(words), 2)]
    return "\n".join(lines) + ".\n"


@st.composite
def table(draw: st.DrawFn) -> str:
    cell = draw(st.sampled_from(ROLES))
    rule = "=====  " + "=" * max(len(cell), 5)
    return f"{rule}\nname   value\n{rule}\nbatch  {cell}\n{rule}\n"


def block() -> st.SearchStrategy[str]:
    literal = st.sampled_from(
        ["Example::\n\n   .. spec:field:: nosuch\n", "..\n   .. spec:claim:: checks.x.y\n"]
    )
    return st.one_of(field(), check(), paragraph(), table(), literal)


@st.composite
def damage(draw: st.DrawFn, text: str) -> str:
    """A few random edits: insert a markup character, delete a span, swap two lines."""
    for _ in range(draw(st.integers(0, 3))):
        what = draw(st.sampled_from(["insert", "delete", "swap"]))
        if what == "insert" or not text:
            at = draw(st.integers(0, len(text)))
            text = text[:at] + draw(st.sampled_from(DAMAGE)) + text[at:]
        elif what == "delete":
            at = draw(st.integers(0, len(text) - 1))
            text = text[:at] + text[at + draw(st.integers(1, 4)) :]
        else:
            lines = text.split("\n")
            i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
            text = "\n".join(lines)
    return text


@st.composite
def project(draw: st.DrawFn) -> dict[str, bytes]:
    def document(title: str, extra: str = "") -> str:
        blocks = draw(st.lists(block(), min_size=1, max_size=4))
        if draw(st.booleans()):
            blocks.insert(draw(st.integers(0, len(blocks))), ".. include:: shared.inc\n")
        return f"{title}\n{'=' * len(title)}\n\n{extra}" + "\n".join(blocks)

    files = {
        "index.rst": document("Index", ".. toctree::\n\n   other\n\n"),
        "other.rst": document("Other"),
        "shared.inc": "\n".join(draw(st.lists(block(), min_size=1, max_size=2))),
    }
    victim = draw(st.sampled_from(sorted(files)))
    files[victim] = draw(damage(files[victim]))
    data = {name: text.encode("utf-8") for name, text in files.items()}
    if draw(st.integers(0, 5)) == 0:  # byte damage: a byte that is not UTF-8
        victim = draw(st.sampled_from(sorted(data)))
        at = draw(st.integers(0, len(data[victim])))
        bad = draw(st.sampled_from([b"\xff", b"\xc3", b"\x80\x80"]))
        data[victim] = data[victim][:at] + bad + data[victim][at:]
    return data


_LOCATION = re.compile(r"^(?P<path>/[^:\n]+?)(?::(?P<line>\d+))?: (?:ERROR|WARNING|CRITICAL): ")


def _build(src: Path, build: Path, parallel: int) -> tuple[int, str, list[tuple[object, ...]]]:
    try:
        run: CheckRun = check_sources(src, builddir=build, parallel=parallel)
    except EngineError as exc:
        return 2, str(exc), []
    verdicts = sorted((v.path, v.line, v.kind, v.target, v.status, v.message) for v in run.verdicts)
    return run.statuscode, run.warnings, verdicts


def _messages(warnings: str) -> list[str]:
    """The diagnostics, one per message (continuation lines joined)."""
    found: list[str] = []
    for line in warnings.splitlines():
        if _LOCATION.match(line) or not found:
            found.append(line)
        else:
            found[-1] += "\n" + line
    return found


@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(project())
def test_generated_projects_build_with_located_stable_diagnostics(files: dict[str, bytes]) -> None:
    """No traceback, exit 0/1/2, every diagnostic at a line of the input, serial == -j 2,
    and an unchanged rebuild reaches the same verdicts."""
    with _workdir() as work:
        src = work / "src"
        src.mkdir()
        (src / "conf.py").write_text(CONF)
        for name, data in files.items():
            (src / name).write_bytes(data)
        lines = {str(src / name): data.count(b"\n") + 1 for name, data in files.items()}

        status, warnings, verdicts = _build(src, work / "serial", 0)
        assert "Traceback" not in warnings
        assert status in (0, 1, 2)
        for path, line, *_rest in verdicts:
            assert str(path) in lines, (path, files)
            assert 1 <= int(str(line)) <= lines[str(path)], (path, line, files)
        messages = _messages(warnings)
        for message in messages:
            match = _LOCATION.match(message)
            assert match, f"unlocated diagnostic: {message!r}"
            assert match["path"] in lines, message
            if match["line"] is not None:
                assert 1 <= int(match["line"]) <= lines[match["path"]], message
            else:  # only Sphinx's own document-level warnings have no line
                assert "[spec." not in message, message

        again_status, _again_warnings, again = _build(src, work / "serial", 0)
        assert (again_status, again) == (status, verdicts)

        par_status, par_warnings, par_verdicts = _build(src, work / "parallel", 2)
        assert "Traceback" not in par_warnings
        assert par_status == status
        assert par_verdicts == verdicts
        assert sorted(_messages(par_warnings)) == sorted(messages)


class _workdir:
    """A fresh folder per example (Hypothesis reuses a function-scoped tmp_path)."""

    def __enter__(self) -> Path:
        self.path = Path(tempfile.mkdtemp(prefix="specmodel-fuzz-"))
        return self.path

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
