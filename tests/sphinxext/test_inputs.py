"""Bad input that docutils would only warn about, or drop, is one located verdict.

Each test writes a small project, builds it for real (the engine ``specmodel check`` uses,
which is a Sphinx build with the dummy builder) and checks the exit status, the location
and the message.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from specmodel.sphinxext.engine import CheckRun, check_sources

_LOCATED = re.compile(r"^(?P<path>/\S+?):(?P<line>\d+): (?P<level>ERROR|WARNING): (?P<text>.*)$")


def build(tmp_path: Path, files: dict[str, str], **kwargs: Any) -> CheckRun:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    for name, text in files.items():
        (src / name).write_text(text, encoding="utf-8")
    return check_sources(src, builddir=tmp_path / "build", freshenv=True, **kwargs)


def located(run: CheckRun) -> list[tuple[str, int, str]]:
    """(file name, line, message) of every located message, as Sphinx printed it."""
    found = []
    for line in run.warnings.splitlines():
        if match := _LOCATED.match(line):
            text = f"{match['level']}: {match['text']}"
            found.append((Path(match["path"]).name, int(match["line"]), text))
    return found


def specmodel(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "specmodel", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


CONFLICTED = """\
Title
=====

<<<<<<< HEAD

.. spec:field:: gfn

   Ours.

=======

.. spec:field:: gfn

   Theirs.

>>>>>>> other-branch
"""


def test_merge_conflict_markers_fail_the_build_at_the_marker(tmp_path: Path) -> None:
    """docutils reads the markers as a paragraph, a transition and a doctest: no error at
    all. specmodel reports the conflict once, at its first marker."""
    run = build(tmp_path, {"index.rst": CONFLICTED})
    assert run.statuscode == 1
    assert located(run) == [
        (
            "index.rst",
            4,
            "ERROR: unresolved merge-conflict markers (lines 4-16); expected a resolved "
            "source: nothing in this document is verified until the conflict is resolved "
            "[spec.divergence]",
        ),
        (
            "index.rst",
            12,
            "ERROR: field gfn of KvmMmuPage is documented 2 times; expected exactly one "
            f"spec:field, first at {tmp_path / 'src' / 'index.rst'}:6 [spec.divergence]",
        ),
    ]
    conflict = [v for v in run.verdicts if v.target == "merge conflict"]
    assert [(v.line, v.status) for v in conflict] == [(4, "diverged")]


def test_merge_conflict_fails_specmodel_check_with_exit_1(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.rst").write_text(CONFLICTED)
    proc = specmodel("check", "docs", cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout.startswith(
        "docs/index.rst:4: diverged: unresolved merge-conflict markers (lines 4-16)"
    )
    assert "Traceback" not in proc.stdout + proc.stderr


def test_a_docutils_error_in_a_document_with_spec_markup_is_one_located_divergence(
    tmp_path: Path,
) -> None:
    """A malformed table swallows the directive in it; the error is printed once, by
    specmodel, not also echoed as a [docutils] message."""
    text = (
        "T\n=\n\n.. spec:field:: gfn\n\n   The gfn.\n\n"
        "+---+---+\n| a | .. spec:field:: role.level\n+---+---+\n"
    )
    run = build(tmp_path, {"index.rst": text})
    assert run.statuscode == 1
    assert located(run) == [
        (
            "index.rst",
            9,
            "ERROR: docutils error: Malformed table. Right border not aligned or missing; "
            "expected none in a document with spec markup: docutils may have dropped the "
            "markup around it, so this document is not verified [spec.divergence]",
        )
    ]
    assert "[docutils]" not in run.warnings


def test_docutils_errors_of_the_transforms_count_too(tmp_path: Path) -> None:
    """An unknown target name or substitution is reported by a docutils transform, outside
    the doctree: still one located divergence each, printed once."""
    text = "T\n=\n\n.. spec:field:: gfn\n\n   The gfn.\n\nSee foo_ and |sub|.\n"
    run = build(tmp_path, {"index.rst": text})
    assert run.statuscode == 1
    assert [(n, line, t.split(";")[0]) for n, line, t in located(run)] == [
        ("index.rst", 8, 'ERROR: docutils error: Undefined substitution referenced: "sub"'),
        ("index.rst", 8, 'ERROR: docutils error: Unknown target name: "foo"'),
    ]


LATE_ERROR = """\
from sphinx.transforms import SphinxTransform

extensions = ["specmodel.sphinxext"]


class LateError(SphinxTransform):
    default_priority = 995  # after specmodel's MarkupErrors (990)

    def apply(self):
        self.document.reporter.error("a late error", source=self.document["source"], line=6)


def setup(app):
    app.add_transform(LateError)
"""


def test_a_docutils_error_reported_outside_the_doctree_is_still_one_verdict(
    tmp_path: Path,
) -> None:
    """An ERROR no doctree node holds (here from a project's late transform) is turned into
    a verdict where it is printed, serially and with -j 2."""
    text = "T\n=\n\n.. spec:field:: gfn\n\n   The gfn.\n"
    for parallel in (0, 2):
        run = build(tmp_path, {"index.rst": text, "conf.py": LATE_ERROR}, parallel=parallel)
        assert run.statuscode == 1
        assert [(n, line, t.split(";")[0]) for n, line, t in located(run)] == [
            ("index.rst", 6, "ERROR: docutils error: a late error")
        ]
        assert [v.line for v in run.verdicts if v.kind == "markup"] == [6]


def test_a_docutils_error_in_a_document_without_spec_markup_stays_a_warning(
    tmp_path: Path,
) -> None:
    """specmodel only judges documents with spec markup; others keep Sphinx's rules."""
    run = build(tmp_path, {"index.rst": "T\n=\n\n+---+---+\n| a | b\n+---+---+\n"})
    assert run.statuscode == 0
    assert located(run) == [("index.rst", 5, "ERROR: Malformed table.")]
    assert run.warnings.rstrip().endswith("[docutils]")
    assert run.verdicts == []


DROPPED = """\
T
=

.. spec:field: gfn

   A comment to docutils (one colon).

..spec:field:: role.level

   A paragraph to docutils (no space).

The value :spec:value:BATCH_ZAP_PAGES is plain text (no backquotes).
"""


def test_spec_markup_docutils_dropped_is_reported_never_held(tmp_path: Path) -> None:
    """The document would have carried three checks; none ran, each is a located
    divergence, and the summary is not "0 checked" with exit 0."""
    run = build(tmp_path, {"index.rst": DROPPED})
    assert run.statuscode == 1
    assert located(run) == [
        (
            "index.rst",
            4,
            "ERROR: docutils read '.. spec:field: gfn' as a comment, not a directive, so it "
            "never ran; expected '.. spec:field:: ARGUMENT' ('::' and then a space) "
            "[spec.divergence]",
        ),
        (
            "index.rst",
            8,
            "ERROR: '..spec:field:: role.level' is read as a paragraph, not a directive; "
            "expected '.. spec:field:: role.level' (a space after '..') [spec.divergence]",
        ),
        (
            "index.rst",
            12,
            "ERROR: :spec:value: here is not a role docutils could read (found "
            "':spec:value:'); expected :spec:value:`TEXT`, with the text in backquotes "
            "[spec.divergence]",
        ),
    ]
    assert {v.status for v in run.verdicts} == {"diverged"}


def test_examples_and_commented_out_markup_are_not_checks(tmp_path: Path) -> None:
    """Markup shown as code, in an inline literal or commented out is meant not to run."""
    text = (
        "T\n=\n\nWrite::\n\n   .. spec:field:: nosuch\n\n"
        ".. code-block:: rst\n\n   :spec:value:`NOPE = 1`\n\n"
        "Inline ``:spec:value:`NOPE``` too.\n\n"
        "..\n   .. spec:claim:: checks.fast_zap.nope\n"
    )
    run = build(tmp_path, {"index.rst": text})
    assert run.statuscode == 0, run.warnings
    assert run.verdicts == []


def test_unknown_cross_reference_targets_diverge_without_nitpicky(tmp_path: Path) -> None:
    """:spec:claim: to no claim and :spec:field: to no field: located at the role's own
    line (the paragraph's second), exit 1 without -n, and printed once with -n."""
    text = (
        "T\n=\n\n.. spec:field:: gfn\n\n   The gfn.\n\n"
        "First line of the paragraph, then\n"
        ":spec:claim:`checks.fast_zap.nope` and :spec:field:`nosuch`, and\n"
        ":spec:field:`gfn` which exists.\n"
    )
    for nitpicky in (False, True):
        run = build(tmp_path, {"index.rst": text}, confoverrides={"nitpicky": nitpicky})
        assert run.statuscode == 1
        found = located(run)
        assert [(n, line) for n, line, _ in found] == [("index.rst", 9), ("index.rst", 9)]
        assert found[0][2].startswith(
            "ERROR: :spec:claim:`checks.fast_zap.nope` names no claim of the model: unknown "
            "claim 'checks.fast_zap.nope'; expected one of: checks.fast_zap."
        )
        assert found[1][2].startswith(
            "ERROR: :spec:field:`nosuch` names no field of the model: unknown field "
            "'nosuch'; expected one of: clear_spte_count, external_spt, gfn,"
        )
        assert "reference target not found" not in run.warnings


def test_unknown_cross_reference_fails_specmodel_check_with_exit_1(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.rst").write_text("T\n=\n\nSee :spec:claim:`checks.nope.x`.\n")
    proc = specmodel("check", "docs", cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout.startswith(
        "docs/index.rst:4: diverged: :spec:claim:`checks.nope.x` names no claim of the model"
    )


def test_a_misspelled_role_in_a_paragraph_is_reported_once_at_its_line(
    tmp_path: Path,
) -> None:
    text = "T\n=\n\n.. spec:field:: gfn\n\n   The gfn.\n\nFirst line,\nthen :spec:fieldd:`gfn`.\n"
    run = build(tmp_path, {"index.rst": text})
    assert run.statuscode == 1
    assert located(run) == [
        (
            "index.rst",
            9,
            "ERROR: unknown role :spec:fieldd:; expected one of: :spec:claim:, :spec:field:, "
            ":spec:value: [spec.error]",
        )
    ]


def test_a_role_in_a_simple_table_is_reported_at_its_line(tmp_path: Path) -> None:
    text = (
        "T\n=\n\n=====  ======================================\n"
        "name   value\n=====  ======================================\n"
        "batch  :spec:value:`BATCH_ZAP_PAGES = 12`\n"
        "=====  ======================================\n"
    )
    run = build(tmp_path, {"index.rst": text})
    assert run.statuscode == 1
    assert located(run) == [
        (
            "index.rst",
            7,
            "ERROR: :spec:value: the prose states BATCH_ZAP_PAGES = 12; the model has "
            "BATCH_ZAP_PAGES = 10 (specmodel.kernel) [spec.divergence]",
        )
    ]


def test_two_identical_roles_in_one_paragraph_each_get_their_line(tmp_path: Path) -> None:
    text = (
        "T\n=\n\nOne :spec:value:`BATCH_ZAP_PAGES = 12`,\ntwo :spec:value:`BATCH_ZAP_PAGES = 12`.\n"
    )
    run = build(tmp_path, {"index.rst": text})
    assert [line for _, line, _ in located(run)] == [4, 5]


def test_a_field_included_from_two_documents_names_both(tmp_path: Path) -> None:
    files = {
        "index.rst": "T\n=\n\n.. toctree::\n\n   other\n\n.. include:: shared.inc\n",
        "other.rst": "O\n=\n\n.. include:: shared.inc\n",
        "shared.inc": ".. spec:field:: gfn\n\n   The gfn.\n",
    }
    run = build(tmp_path, files)
    assert run.statuscode == 1
    src = tmp_path / "src"
    (message,) = [t for n, _, t in located(run) if "documented 2 times" in t]
    assert message == (
        "ERROR: field gfn of KvmMmuPage is documented 2 times; expected exactly one "
        f"spec:field, first at {src / 'shared.inc'}:1 (included from {src / 'index.rst'}); "
        f"this one included from {src / 'other.rst'} [spec.divergence]"
    )


def test_an_empty_field_body_documents_nothing(tmp_path: Path) -> None:
    """An entry with only options checks them but is no documentation: it diverges."""
    text = "T\n=\n\n.. spec:field:: gfn\n   :type: gfn_t\n\n.. spec:field:: spt\n\n   Text.\n"
    run = build(tmp_path, {"index.rst": text})
    assert run.statuscode == 1
    assert located(run) == [
        (
            "index.rst",
            4,
            "ERROR: spec:field gfn has no prose: an entry with no text documents nothing; "
            "expected a description of KvmMmuPage.gfn in its body [spec.divergence]",
        )
    ]


@pytest.mark.parametrize("option", ["mutant", "expect", "scenario"])
def test_an_empty_option_is_an_error_not_the_default(tmp_path: Path, option: str) -> None:
    """``:mutant:`` with no value would run the unmutated kernel: it is bad input."""
    text = f"T\n=\n\n.. spec:invariant:: True\n   :{option}:\n\n   Always.\n"
    run = build(tmp_path, {"index.rst": text})
    assert run.statuscode == 1
    assert located(run) == [
        (
            "index.rst",
            4,
            f"ERROR: spec:invariant True: option :{option}: has no value; expected a value, "
            "or leave the option out [spec.error]",
        )
    ]


ROLE_MODEL = "Model\n=====\n\n.. spec:model:: KvmMmuPageRole\n"


def _role_fields() -> str:
    from specmodel.structs.fields import field_specs

    entries = "".join(
        f".. spec:field:: {spec.name}\n\n   The {spec.name} bit.\n\n"
        for spec in field_specs("KvmMmuPageRole")
    )
    return "Fields\n======\n\n" + entries


@pytest.fixture
def split_project(tmp_path: Path) -> Path:
    """The model declared in a.rst, every one of its fields documented in b.rst."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.rst").write_text(ROLE_MODEL)
    (docs / "b.rst").write_text(_role_fields())
    (docs / "index.rst").write_text("Index\n=====\n\n.. toctree::\n\n   a\n   b\n")
    return docs


def _summary(run: CheckRun) -> list[tuple[str, int, str, str]]:
    return sorted((Path(v.path).name, v.line, v.kind, v.status) for v in run.verdicts)


def test_paths_are_one_set_of_documents(split_project: Path, tmp_path: Path) -> None:
    """``a.rst b.rst`` is their folder restricted to them: the fields in b.rst cover the
    model in a.rst; a.rst alone leaves them undocumented."""
    a, b = split_project / "a.rst", split_project / "b.rst"
    both = check_sources([a, b], builddir=tmp_path / "build")
    assert both.statuscode == 0, both.warnings
    assert {v.status for v in both.verdicts} == {"held"}
    whole = check_sources(split_project, builddir=tmp_path / "build")
    assert _summary(both) == _summary(whole)
    alone = check_sources(a, builddir=tmp_path / "build")
    assert alone.statuscode == 1
    assert any("is documented nowhere" in v.message for v in alone.verdicts)


def test_overlapping_paths_count_each_document_once(split_project: Path, tmp_path: Path) -> None:
    """``. a.rst`` and ``. .`` are ``.``: no verdict twice."""
    whole = _summary(check_sources(split_project, builddir=tmp_path / "build"))
    for paths in ([split_project, split_project / "a.rst"], [split_project, split_project]):
        assert _summary(check_sources(paths, builddir=tmp_path / "build")) == whole


def test_check_cli_takes_the_paths_as_one_set(split_project: Path) -> None:
    cwd = split_project
    both = specmodel("check", "a.rst", "b.rst", cwd=cwd)
    assert both.returncode == 0, both.stdout + both.stderr
    whole = specmodel("check", ".", cwd=cwd)
    again = specmodel("check", ".", "a.rst", ".", cwd=cwd)
    counts = [p.stdout.splitlines()[-1].split(";")[0] for p in (both, whole, again)]
    held = len(_role_fields().split(".. spec:field::")) - 1 + 1
    assert (
        counts
        == [f"specmodel check: {held} checked, {held} held, 0 diverged, 0 errors, 0 skipped"] * 3
    )
    alone = specmodel("check", "a.rst", cwd=cwd)
    assert alone.returncode == 1
    assert alone.stdout.startswith("a.rst:4: diverged: model KvmMmuPageRole: field ")


def test_claims_citations_skip_commented_out_directives(tmp_path: Path) -> None:
    """A spec:claim inside an rst comment is commented out, not cited."""
    from specmodel.cli.claims import citations

    (tmp_path / "a.rst").write_text(
        "..\n   .. spec:claim:: checks.fast_zap.fifo_partition\n\n"
        ".. TODO: put back\n   .. spec:claim:: checks.fast_zap.fifo_partition\n\n"
        ".. _anchor:\n\n.. spec:claim:: checks.fast_zap.zap_done_on_return\n"
    )
    assert citations(tmp_path) == {
        "checks.fast_zap.zap_done_on_return": [f"{tmp_path / 'a.rst'}:9"]
    }


def test_a_document_that_is_not_utf8_is_one_located_error(tmp_path: Path) -> None:
    """Sphinx would abort the build with a traceback; the document is not read instead,
    and the rest of the project is built and checked."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "index.rst").write_text("T\n=\n\n.. toctree::\n\n   b\n\n.. spec:field:: gfn\n\n   G.\n")
    (src / "b.rst").write_bytes(b"B\n=\n\nfine\n\xff broken\n")
    for _ in range(2):  # the incremental rebuild reports it once again, not twice
        run = check_sources(src, builddir=tmp_path / "build")
        assert run.statuscode == 1
        assert [(n, line, t) for n, line, t in located(run) if "[spec." in t] == [
            (
                "b.rst",
                5,
                "ERROR: expected UTF-8 text; found byte 0xff, which is not UTF-8 (invalid "
                "start byte), so this document was not read [spec.error]",
            )
        ]
    proc = specmodel("check", "src", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stdout.startswith("src/b.rst:5: error: expected UTF-8 text; found byte 0xff")
    assert "Traceback" not in proc.stdout + proc.stderr


def test_a_root_document_that_is_not_utf8_is_reported_located(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.rst").write_bytes(b"T\n=\n\n\xc3\n")
    proc = specmodel("check", "docs", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stdout.startswith("docs/index.rst:4: error: expected UTF-8 text; found byte 0xc3")
    assert "Traceback" not in proc.stdout + proc.stderr


def test_a_nul_character_is_a_located_error_not_an_aborted_build(tmp_path: Path) -> None:
    text = "T\n=\n\n.. spec:field:: gfn\n\n   G.\n\n.. include:: \0part.inc\n"
    run = build(tmp_path, {"index.rst": text, "part.inc": "x\n"})
    assert run.statuscode == 1
    assert located(run)[0] == (
        "index.rst",
        8,
        "ERROR: expected text; found 1 NUL character(s), the first here (read as U+FFFD) "
        "[spec.error]",
    )
