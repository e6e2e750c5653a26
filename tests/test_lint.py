"""specmodel.lint: parsing a kernel mmu.rst field list and comparing it with the field models."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from specmodel import lint
from specmodel.cli.lint import SCHEMA, render_json, render_text, to_json
from specmodel.errors import LintInputError
from specmodel.lint import (
    HEADER,
    Catalog,
    FileReport,
    RenameInfo,
    check_conflict_markers,
    decode,
    default_catalog,
    exit_code,
    lint_file,
    lint_text,
    parse_field_list,
    split_lines,
)
from specmodel.structs.fields import field_specs
from specmodel.structs.renames import RENAMES

INPUTS = Path(__file__).parent / "lint_inputs"
OLD_2022 = "mmu-torvalds-20693782.rst"
V6_7 = "mmu-upstream-v6.7.rst"
CONFLICTED = "mmu-bm16ton-9ffc50dd.rst"

#: A small catalog for parser tests that must not depend on the real models.
TOY = Catalog(
    fields=("role", "gfn", "spt", "shadowed_translation", "root_count", "tdp_mmu_root_count",
            "role.level", "role.has_4_byte_gpte"),
    renames={
        "gfns": RenameInfo("gfns", "shadowed_translation", "v6.0", ""),
        "role.gpte_is_8_bytes": RenameInfo(
            "role.gpte_is_8_bytes", "role.has_4_byte_gpte", "v5.18", "inverted sense"
        ),
    },
)  # fmt: skip


def doc(body: str, header: str = HEADER) -> str:
    """A small mmu.rst-like text: a title, ``header``, ``body`` (as given), a next section."""
    return f"Title\n=====\n\n{header}\n{body}\nReverse map\n===========\n"


def kinds(report: FileReport) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for finding in report.findings:
        out.setdefault(finding.kind, []).append(finding.field)
    return out


def complete_doc(catalog: Catalog) -> str:
    """A doc with one entry for every field and role bit of ``catalog``."""
    return doc("".join(f"  {name}:\n    Our own words about {name}.\n" for name in catalog.fields))


def error_of(text: str, path: str = "x.rst") -> LintInputError:
    with pytest.raises(LintInputError) as info:
        lint_text(text, path, TOY)
    return info.value


class TestParseFieldList:
    """The definition list under the header, entry by entry."""

    def test_entries_and_lines(self) -> None:
        lines = split_lines(doc("  role.level:\n    body\n  gfn:\n    body\n"))
        field_list = parse_field_list(lines, "x.rst")
        assert field_list.header_line == 4
        assert [(e.line, e.names) for e in field_list.entries] == [
            (5, ("role.level",)),
            (7, ("gfn",)),
        ]

    def test_two_names_with_five_space_body(self) -> None:
        lines = split_lines(doc("  root_count / tdp_mmu_root_count:\n     body\n"))
        (entry,) = parse_field_list(lines, "x.rst").entries
        assert entry.names == ("root_count", "tdp_mmu_root_count")

    @pytest.mark.parametrize(
        ("term", "names"),
        [
            ("role.gpte_is_8_bytes: (was cr4_pae)", ("role.gpte_is_8_bytes",)),
            ("gfn (the frame):", ("gfn",)),
            ("``spt``:", ("spt",)),
            ("parent_ptes, ptep:", ("parent_ptes", "ptep")),
            ("role.quadrant:", ("role.quadrant",)),
            ("unsync:   ", ("unsync",)),
        ],
    )
    def test_term_shapes(self, term: str, names: tuple[str, ...]) -> None:
        lines = split_lines(doc(f"  {term}\n    body\n"))
        assert parse_field_list(lines, "x.rst").entries[0].names == names

    def test_bodies_prose_and_later_sections_are_not_entries(self) -> None:
        text = doc("  gfn:\n    deeper: not a term\n\nProse at column 0.\n\n  spt:\n    b\n")
        text += "\n  after_reverse_map:\n    b\n"
        entries = parse_field_list(split_lines(text), "x.rst").entries
        assert [e.names for e in entries] == [("gfn",), ("spt",)]

    def test_list_runs_to_next_title_of_any_name(self) -> None:
        text = f"{HEADER}\n  gfn:\n    b\n\nOther section\n-------------\n  spt:\n    b\n"
        assert [e.names for e in parse_field_list(split_lines(text), "x.rst").entries] == [("gfn",)]

    def test_list_runs_to_end_of_file_without_a_next_section(self) -> None:
        entries = parse_field_list(split_lines(f"{HEADER}\n  gfn:\n    b\n  spt:\n"), "x.rst")
        assert len(entries.entries) == 2

    def test_tabs_crlf_and_bom(self) -> None:
        text = "\ufeff" + doc("\tgfn:\n\t    body\n\tspt:\n").replace("\n", "\r\n")
        report = lint_text(decode(text.encode(), "x.rst"), "x.rst", TOY)
        assert report.header_line == 4
        assert [e.names for e in report.entries] == [("gfn",), ("spt",)]

    def test_header_with_extra_spaces_is_found(self) -> None:
        lines = split_lines(
            doc("  gfn:\n", header="Shadow pages  contain the following information: ")
        )
        assert parse_field_list(lines, "x.rst").header_line == 4


class TestCheck:
    """Comparing entries with the catalog."""

    def test_complete_doc_is_clean(self) -> None:
        report = lint_text(complete_doc(TOY), "x.rst", TOY)
        assert report.findings == ()
        assert report.fields_documented == TOY.fields
        assert report.exit_code == 0

    def test_undocumented_at_header_line_in_catalog_order(self) -> None:
        report = lint_text(doc("  gfn:\n    b\n"), "x.rst", TOY)
        assert {f.line for f in report.findings} == {4}
        assert kinds(report)["undocumented"] == [n for n in TOY.fields if n != "gfn"]
        assert "expected an entry 'spt:'" in report.findings[1].message

    def test_renamed_names_new_field_and_covers_it(self) -> None:
        report = lint_text(doc("  gfn:\n  gfns:\n  role.gpte_is_8_bytes:\n"), "x.rst", TOY)
        renamed = [f for f in report.findings if f.kind == "renamed"]
        assert [(f.line, f.field) for f in renamed] == [(6, "gfns"), (7, "role.gpte_is_8_bytes")]
        assert renamed[0].rename == RenameInfo("gfns", "shadowed_translation", "v6.0", "")
        assert "renamed to 'shadowed_translation' in v6.0" in renamed[0].message
        assert "inverted sense" in renamed[1].message
        undocumented = kinds(report)["undocumented"]
        assert "shadowed_translation" not in undocumented
        assert "role.has_4_byte_gpte" not in undocumented
        assert "shadowed_translation" not in report.fields_documented

    def test_rename_chain_is_followed(self) -> None:
        catalog = Catalog(
            ("b",),
            {"a": RenameInfo("a", "x", "v1", "first"), "x": RenameInfo("x", "b", "v2", "then")},
        )
        (finding,) = lint_text(doc("  a:\n"), "x.rst", catalog).findings
        assert finding.rename == RenameInfo("a", "b", "v2", "first; then")

    def test_unknown_fields_from_other_kernels(self) -> None:
        text = doc(
            "".join(f"  {n}:\n" for n in TOY.fields) + "  role.is_mirror:\n  external_spt:\n"
        )
        report = lint_text(text, "x.rst", TOY)
        unknown = [f for f in report.findings if f.kind == "unknown-field"]
        assert [f.field for f in unknown] == ["role.is_mirror", "external_spt"]
        assert "bit that union kvm_mmu_page_role does not have" in unknown[0].message
        assert "field that struct kvm_mmu_page does not have" in unknown[1].message
        assert all(f.rename is None for f in unknown)

    def test_duplicate_entry(self) -> None:
        report = lint_text(doc("  gfn:\n  spt / gfn:\n"), "x.rst", TOY)
        (dup,) = [f for f in report.findings if f.kind == "duplicate"]
        assert (dup.line, dup.field) == (6, "gfn")
        assert "first at line 5" in dup.message

    @pytest.mark.parametrize("entry", ["role:", "role.level:", "role.bogus:"])
    def test_role_counts_as_documented_with_any_role_entry(self, entry: str) -> None:
        report = lint_text(doc(f"  {entry}\n"), "x.rst", TOY)
        assert "role" not in kinds(report)["undocumented"]
        assert "role" in report.fields_documented

    def test_role_undocumented_without_role_entries(self) -> None:
        assert "role" in kinds(lint_text(doc("  gfn:\n"), "x.rst", TOY))["undocumented"]


class TestMalformed:
    """Every malformed-input path raises LintInputError with path, line and expected/found."""

    def test_nul_byte(self) -> None:
        with pytest.raises(LintInputError) as info:
            decode(b"line one\nline\0two\n", "b.rst")
        assert (info.value.path, info.value.line) == ("b.rst", 2)
        assert "NUL byte at column 5, byte offset 13" in info.value.message
        assert str(info.value).startswith("b.rst:2: expected UTF-8 text")

    def test_invalid_utf8(self) -> None:
        with pytest.raises(LintInputError) as info:
            decode("a\nb\n\u00e9t\xe9\n".encode("latin-1"), "u.rst")
        assert info.value.line == 3
        assert "byte 0xe9 that is not valid UTF-8 (column 1, byte offset 4)" in info.value.message

    def test_conflict_marker_first_line_reported(self) -> None:
        lines = split_lines("T\n=======\n\ntext\n<<<<<<< HEAD\na\n=======\nb\n>>>>>>> abc\n")
        with pytest.raises(LintInputError) as info:
            check_conflict_markers(lines, "c.rst")
        assert info.value.line == 5
        assert "found '<<<<<<< HEAD'" in info.value.message
        assert "1 unresolved conflict" in info.value.message

    @pytest.mark.parametrize("marker", [">>>>>>> theirs", "||||||| base", "<<<<<<<"])
    def test_any_marker_kind(self, marker: str) -> None:
        assert error_of(doc(f"  gfn:\n{marker}\n")).line == 6

    def test_seven_equals_alone_is_an_underline_not_a_marker(self) -> None:
        text = "Seven c\n=======\n\n" + doc("  gfn:\n")
        assert lint_text(text, "x.rst", TOY).header_line == 7

    def test_indented_marker_text_is_not_a_marker(self) -> None:
        assert lint_text(doc("  gfn:\n    <<<<<<< quoted\n"), "x.rst", TOY).header_line == 4

    def test_no_header(self) -> None:
        error = error_of("Title\n=====\n\n  gfn:\n    b\n", "n.rst")
        assert (error.line, str(error)) == (
            None,
            f"n.rst: expected a line {HEADER!r} (the field list); found no such line in 5 line(s)",
        )

    def test_empty_file(self) -> None:
        """No line 0: an empty file is said to be empty, with no line."""
        error = error_of("")
        assert (error.line, error.message) == (
            None,
            f"expected a line {HEADER!r}; found an empty file",
        )

    def test_blank_file(self) -> None:
        error = error_of("\n\n  \n")
        assert (error.line, error.message) == (
            None,
            f"expected a line {HEADER!r}; found only 3 blank line(s)",
        )

    def test_header_then_end_of_file(self) -> None:
        error = error_of(f"T\n=\n{HEADER}\n\n\n")
        assert error.line == 3
        assert "expected an indented list of fields" in error.message
        assert "found the end of the file" in error.message

    def test_header_then_column_zero_text(self) -> None:
        error = error_of(f"{HEADER}\n\nProse instead of a list.\n")
        assert error.line == 3
        assert "found 'Prose instead of a list.'" in error.message

    def test_term_without_colon(self) -> None:
        error = error_of(doc("  gfn:\n    b\n  spt\n    b\n"))
        assert error.line == 7
        assert "expected a field entry 'name:'" in error.message
        assert "found 'spt'" in error.message

    @pytest.mark.parametrize("term", ["gfn / 2nd-level:", ": x", "gfn-x:", "/ gfn:"])
    def test_term_that_is_not_a_name(self, term: str) -> None:
        error = error_of(doc(f"  gfn:\n  {term}\n"))
        assert error.line == 6
        assert "expected field names like 'gfn' or 'role.level'" in error.message

    def test_inconsistent_indentation(self) -> None:
        error = error_of(doc("   gfn:\n     b\n  spt:\n"))
        assert error.line == 7
        assert "expected a field entry indented 3 spaces" in error.message
        assert "found 2 spaces before 'spt:'" in error.message

    @pytest.mark.parametrize(
        ("name", "line", "needle"),
        [
            ("conflict.rst", 7, "git merge-conflict markers; found '<<<<<<< ours'"),
            ("no_header.rst", None, "expected a line 'Shadow pages contain"),
            ("header_at_end.rst", 4, "found the end of the file"),
            ("header_no_list.rst", 5, "expected an indented list of fields"),
            ("bad_term.rst", 7, "found 'spt'"),
            ("bad_name.rst", 7, "found '2nd-level'"),
            ("bad_indent.rst", 7, "found 2 spaces"),
        ],
    )
    def test_input_files(self, name: str, line: int, needle: str) -> None:
        report = lint_file(str(INPUTS / name), TOY)
        assert report.error is not None and report.exit_code == 2
        assert report.error.line == line
        assert needle in report.error.message

    def test_missing_file(self, tmp_path: Path) -> None:
        report = lint_file(str(tmp_path / "nope.rst"), TOY)
        assert report.error is not None
        assert str(report.error) == f"{tmp_path}/nope.rst: expected a readable file; " + (
            "No such file or directory"
        )

    def test_permission_denied(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        def refuse(*args: object, **kwargs: object) -> None:
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(lint, "open", refuse, raising=False)
        report = lint_file(str(tmp_path / "locked.rst"), TOY)
        assert report.error is not None
        assert str(report.error).endswith("locked.rst: expected a readable file; Permission denied")

    def test_directory(self, tmp_path: Path) -> None:
        report = lint_file(str(tmp_path), TOY)
        assert report.error is not None
        assert report.error.message == "expected a file; found a directory"
        assert report.error.line is None


class TestModels:
    """The default catalog comes from specmodel.structs.fields and specmodel.structs.renames."""

    def test_catalog_is_field_specs_of_both_models(self) -> None:
        names = [s.name for s in field_specs("KvmMmuPage")]
        bits = [s.name for s in field_specs("KvmMmuPageRole")]
        assert default_catalog().fields == tuple(names + bits)
        assert all(b.startswith("role.") for b in bits)
        assert {"role", "mmu_valid_gen", "shadowed_translation"} <= set(names)

    def test_renames_come_from_renames_module(self) -> None:
        assert {r.old for r in RENAMES} == set(default_catalog().renames)
        assert default_catalog().renames["gfns"].new == "shadowed_translation"

    def test_doc_documenting_everything_is_clean(self) -> None:
        report = lint_text(complete_doc(default_catalog()), "all.rst")
        assert report.findings == ()
        assert exit_code([report]) == 0

    def test_drift_input_file(self) -> None:
        report = lint_file(str(INPUTS / "drift.rst"))
        found = {(f.kind, f.field): f.line for f in report.findings if f.kind != "undocumented"}
        assert found == {
            ("renamed", "role.nxe"): 9,
            ("renamed", "role.gpte_is_8_bytes"): 11,
            ("renamed", "gfns"): 17,
            ("duplicate", "gfn"): 26,
        }
        undocumented = kinds(report)["undocumented"]
        assert "not_a_field" not in str(report.findings)
        assert {"root_count", "tdp_mmu_root_count", "role", "gfn"}.isdisjoint(undocumented)
        assert {"mmu_valid_gen", "spt", "role.direct"} <= set(undocumented)
        assert report.exit_code == 1


def _line_of(path: Path, text: str) -> int:
    return path.read_text().split("\n").index(text) + 1


class TestCorpus:
    """Real kernel mmu.rst versions (outside the repo; see conftest.py's corpus_dir)."""

    def test_2022_lacks_mmu_valid_gen_and_says_gfns(self, corpus_dir: Path) -> None:
        path = corpus_dir / OLD_2022
        report = lint_file(str(path))
        header = _line_of(path, HEADER)
        assert report.error is None and report.exit_code == 1
        by_field = {f.field: f for f in report.findings}
        assert (by_field["mmu_valid_gen"].kind, by_field["mmu_valid_gen"].line) == (
            "undocumented",
            header,
        )
        gfns = by_field["gfns"]
        assert (gfns.kind, gfns.line) == ("renamed", _line_of(path, "  gfns:"))
        assert gfns.rename is not None and gfns.rename.new == "shadowed_translation"
        assert "shadowed_translation" not in by_field
        assert not [f for f in report.findings if f.kind in ("unknown-field", "duplicate")]

    def test_v6_7_documents_mmu_valid_gen(self, corpus_dir: Path) -> None:
        path = corpus_dir / V6_7
        report = lint_file(str(path))
        assert report.error is None and report.exit_code == 1
        for name in (
            "mmu_valid_gen",
            "shadowed_translation",
            "root_count",
            "tdp_mmu_root_count",
            "ptep",
            "tdp_mmu_page",
            "role",
            "role.guest_mode",
            "role.passthrough",
        ):
            assert name in report.fields_documented, name
        assert {f.kind for f in report.findings} == {"undocumented"}
        missing = kinds(report)["undocumented"]
        assert "nx_huge_page_disallowed" in missing
        assert "mmu_valid_gen" not in missing
        assert {f.line for f in report.findings} == {_line_of(path, HEADER)}  # fmt: skip

    def test_conflicted_file_is_malformed(self, corpus_dir: Path) -> None:
        path = corpus_dir / CONFLICTED
        report = lint_file(str(path))
        assert report.exit_code == 2 and report.error is not None
        first = next(i for i, t in enumerate(path.read_text().split("\n"), 1) if t[:7] == "<" * 7)
        assert report.error.line == first
        assert "merge-conflict" in report.error.message

    def test_well_under_a_second(self, corpus_dir: Path) -> None:
        path = str(corpus_dir / V6_7)
        lint_file(path)  # warm: builds the catalog from the models once
        runs = []
        for _ in range(5):
            start = time.perf_counter()
            lint_file(path)
            runs.append(time.perf_counter() - start)
        assert statistics.median(runs) < 0.1


class TestRendering:
    """Text and JSON output."""

    def test_text_lines_and_summary(self) -> None:
        reports = [
            lint_text(doc("  gfn:\n  gfns:\n"), "a.rst", TOY),
            lint_text(complete_doc(TOY), "b.rst", TOY),
            FileReport("c.rst", error=LintInputError("c.rst", 3, "boom")),
        ]
        lines = render_text(reports).splitlines()
        assert lines[0] == "a.rst:4: undocumented: 'role' is not described; expected an " + (
            "entry 'role:' for this field that struct kvm_mmu_page has"
        )
        assert "a.rst:6: renamed: entry 'gfns' names a field" in lines[-4]
        assert lines[-3] == (
            "a.rst: drift (6 undocumented, 1 renamed); 1 of 8 fields and role bits documented "
            "in 2 entries"
        )
        assert lines[-2] == "b.rst: no drift; 8 of 8 fields and role bits documented in 8 entries"
        assert lines[-1] == "c.rst: not checked: malformed input at line 3"

    def test_json_schema(self) -> None:
        reports = [
            lint_text(doc("  gfn:\n  gfns:\n"), "a.rst", TOY),
            FileReport("c.rst", error=LintInputError("c.rst", 3, "boom")),
        ]
        data = json.loads(render_json(reports))
        assert data == to_json(reports)
        assert data["schema"] == SCHEMA == "specmodel-lint/1"
        assert data["exit"] == 2
        first, second = data["files"]
        assert set(first) == {"path", "status", "exit", "header_line", "fields_documented",
                              "entries", "findings", "error"}  # fmt: skip
        assert (first["status"], first["exit"], first["header_line"]) == ("drift", 1, 4)
        assert first["fields_documented"] == ["gfn"]
        assert first["entries"] == [{"line": 5, "names": ["gfn"]}, {"line": 6, "names": ["gfns"]}]
        renamed = first["findings"][-1]
        assert renamed == {
            "line": 6,
            "kind": "renamed",
            "field": "gfns",
            "message": renamed["message"],
            "rename": {"old": "gfns", "new": "shadowed_translation", "version": "v6.0", "note": ""},
        }
        assert first["findings"][0]["rename"] is None
        assert second["status"] == "error"
        assert second["error"] == {"line": 3, "message": "boom"}
        assert second["findings"] == [] and second["header_line"] is None

    def test_exit_code_is_max(self) -> None:
        assert exit_code([]) == 0
        clean = lint_text(complete_doc(TOY), "b.rst", TOY)
        drift = lint_text(doc("  gfn:\n"), "a.rst", TOY)
        bad = FileReport("c.rst", error=LintInputError("c.rst", 0, "x"))
        assert exit_code([clean]) == 0
        assert exit_code([clean, drift]) == 1
        assert exit_code([bad, clean, drift]) == 2


class TestNeverExecutes:
    """Directives, roles and includes in the input are only text."""

    def test_spec_directives_and_includes_do_nothing(self, tmp_path: Path) -> None:
        marker = tmp_path / "marker"
        written = f"open({str(marker)!r}, 'w').write('ran')"
        rst = tmp_path / "hostile.rst"
        rst.write_text(
            f".. include:: {tmp_path / 'missing.rst'}\n.. include:: /etc/passwd\n\n"
            f".. spec:run::\n\n   {written}\n\n"
            f".. spec:invariant:: {written}\n   :scenario: fast_zap\n\n"
            f"Shadow pages contain the following information:\n"
            f"  gfn:\n    :spec:value:`__import__('os').system('touch {marker}')`\n"
            f"  .. spec:run::\n\n     {written}\n"
            f"  spt:\n    body\n\n.. spec:run::\n\n   {written}\n"
        )
        report = lint_file(str(rst))
        assert not marker.exists()
        assert report.error is None
        assert [e.names for e in report.entries] == [("gfn",), ("spt",)]
        assert "gfn" in report.fields_documented and "spt" in report.fields_documented
        assert report.exit_code == 1  # the rest is undocumented, reported as usual
        assert "mmu_valid_gen" in kinds(report)["undocumented"]

    def test_lint_imports_no_docutils_or_sphinx(self) -> None:
        code = (
            "import sys, specmodel.lint, specmodel.cli.lint\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('docutils', 'sphinx')]\n"
            "assert not bad, bad\n"
        )
        subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])


class TestCorpusLocation:
    """Without the corpus, corpus tests are skipped with the way to run them; a folder named
    but missing, or SPECMODEL_REQUIRE_CORPUS=1 (what CI sets), makes them errors instead."""

    @pytest.mark.parametrize("how", ["option", "env"])
    def test_missing_corpus_fails(self, tmp_path: Path, how: str) -> None:
        missing = tmp_path / "no-corpus"
        repo = Path(__file__).resolve().parents[1]
        test = "tests/test_lint.py::TestCorpus::test_conflicted_file_is_malformed"
        args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test]
        env = _env_without_corpus()
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(repo), env.get("PYTHONPATH")]))
        if how == "option":
            args += ["--corpus", str(missing)]
        else:
            env["SPECMODEL_CORPUS"] = str(missing)
        result = subprocess.run(args, capture_output=True, text=True, cwd=repo, env=env)
        assert result.returncode == 1, result.stdout
        assert f"lint corpus: expected a folder at {missing}" in result.stdout
        assert "1 error" in result.stdout

    def test_no_corpus_skips_with_the_way_to_run(self, tmp_path: Path) -> None:
        result = _run_in_fresh_clone(tmp_path, _env_without_corpus())
        assert result.returncode == 0, result.stdout
        assert "1 passed, 2 skipped" in result.stdout
        reason = (
            "needs the kernel mmu.rst corpus (outside the repo); run with SPECMODEL_CORPUS=DIR "
            "(a folder of mmu-*.rst files) or --corpus DIR"
        )
        skips = [line for line in result.stdout.splitlines() if line.startswith("SKIPPED")]
        assert len(skips) == 2 and all(line.endswith(reason) for line in skips), skips
        assert {s.split()[2].split(":")[0] for s in skips} == {"tests/test_uses_corpus.py"}

    @pytest.mark.parametrize("how", ["option", "env"])
    def test_required_corpus_missing_is_an_error(self, tmp_path: Path, how: str) -> None:
        env = _env_without_corpus()
        args = ["--require-corpus"] if how == "option" else []
        if how == "env":
            env["SPECMODEL_REQUIRE_CORPUS"] = "1"
        result = _run_in_fresh_clone(tmp_path, env, *args)
        assert result.returncode == 1, result.stdout
        assert "1 passed, 2 errors" in result.stdout
        expected = tmp_path / "shared" / "corpus"
        assert f"lint corpus: expected kernel mmu.rst copies in {expected}; found none" in (
            result.stdout
        )
        assert "SPECMODEL_REQUIRE_CORPUS makes the corpus tests mandatory" in result.stdout

    def test_found_corpus_runs_both_kinds(self, tmp_path: Path) -> None:
        env = _env_without_corpus()
        (tmp_path / "corpus").mkdir()
        (tmp_path / "corpus" / "mmu-x.rst").write_text("x\n")
        env["SPECMODEL_CORPUS"] = str(tmp_path / "corpus")
        env["SPECMODEL_REQUIRE_CORPUS"] = "1"
        result = _run_in_fresh_clone(tmp_path, env, "-m", "corpus")
        assert result.returncode == 0, result.stdout
        assert "2 passed, 1 deselected" in result.stdout


def _env_without_corpus() -> dict[str, str]:
    drop = ("SPECMODEL_CORPUS", "SPECMODEL_REQUIRE_CORPUS")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # only conftest.py matters here
    return env


_USES_CORPUS = """\
import pytest


def test_fixture(corpus_dir):
    assert list(corpus_dir.glob("mmu-*.rst"))


@pytest.mark.corpus
def test_marker():
    pass


def test_other():
    pass
"""


def _run_in_fresh_clone(
    tmp_path: Path, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    """The repo's conftest.py in ``tmp_path/repo/tests`` (so ``../shared`` is absent) with a
    module that uses the corpus both ways and one test that does not."""
    tests = tmp_path / "repo" / "tests"
    tests.mkdir(parents=True)
    (tests / "conftest.py").write_text((Path(__file__).parent / "conftest.py").read_text())
    (tests / "test_uses_corpus.py").write_text(_USES_CORPUS)
    command = [sys.executable, "-m", "pytest", "-ra", "-p", "no:cacheprovider", "tests", *args]
    return subprocess.run(
        command, capture_output=True, text=True, cwd=tests.parent, env=env, check=False
    )
