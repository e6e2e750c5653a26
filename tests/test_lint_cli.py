"""``specmodel lint`` run as a real process: exit statuses, located messages, formats."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from specmodel.lint import HEADER

REPO = Path(__file__).resolve().parents[1]
INPUTS = Path(__file__).parent / "lint_inputs"


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """``python -m specmodel lint ARGS`` with this checkout first on the import path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "specmodel", "lint", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
    )


def assert_no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr + result.stdout


class TestMalformedInput:
    """Each kind of bad input exits 2 with one located 'path:line: error:' message on stderr."""

    @pytest.mark.parametrize(
        ("name", "expected"),
        [
            (
                "conflict.rst",
                ":7: error: expected a file without git merge-conflict markers; found "
                "'<<<<<<< ours'",
            ),
            (
                "no_header.rst",
                f": error: expected a line {HEADER!r} (the field list); found no such line in "
                "8 line(s)",
            ),
            ("header_at_end.rst", ":4: error: expected an indented list of fields"),
            ("header_no_list.rst", ":5: error: expected an indented list of fields"),
            ("bad_term.rst", ":7: error: expected a field entry 'name:' or 'name / name:'"),
            ("bad_name.rst", ":7: error: expected field names like 'gfn' or 'role.level'"),
            ("bad_indent.rst", ":7: error: expected a field entry indented 3 spaces"),
        ],
    )
    def test_input_file(self, name: str, expected: str) -> None:
        path = INPUTS / name
        result = run(path)
        assert result.returncode == 2
        assert result.stderr.startswith(f"{path}{expected}")
        if expected.startswith(": error: "):  # the whole file: what is wrong, and no line
            message = expected.removeprefix(": error: ")
            assert result.stdout.startswith(f"{path}: not checked: {message}")
            assert ":0:" not in result.stdout + result.stderr
        else:
            assert result.stdout == f"{path}: not checked: malformed input at line {expected[1]}\n"
        assert_no_traceback(result)

    def test_nul_byte(self, tmp_path: Path) -> None:
        path = tmp_path / "nul.rst"
        path.write_bytes(f"{HEADER}\n  gfn:\n    a\0b\n".encode())
        result = run(path)
        assert result.returncode == 2
        assert result.stderr == (
            f"{path}:3: error: expected UTF-8 text; found binary data "
            "(NUL byte at column 6, byte offset 60)\n"
        )
        assert_no_traceback(result)

    def test_invalid_utf8(self, tmp_path: Path) -> None:
        path = tmp_path / "latin1.rst"
        path.write_bytes(f"{HEADER}\n  gfn:\n    caf\u00e9\n".encode("latin-1"))
        result = run(path)
        assert result.returncode == 2
        assert result.stderr.startswith(
            f"{path}:3: error: expected UTF-8 text; found byte 0xe9 that is not valid UTF-8 "
            "(column 8, byte offset 62)"
        )
        assert_no_traceback(result)

    def test_missing_file(self, tmp_path: Path) -> None:
        path = tmp_path / "absent.rst"
        result = run(path)
        assert result.returncode == 2
        assert result.stderr == (
            f"{path}: error: expected a readable file; No such file or directory\n"
        )
        assert f"{path}: not checked: expected a readable file; No such file" in result.stdout
        assert "malformed" not in result.stdout
        assert_no_traceback(result)

    def test_unreadable_path(self, tmp_path: Path) -> None:
        (tmp_path / "plain.rst").write_text(f"{HEADER}\n  gfn:\n")
        path = tmp_path / "plain.rst" / "inside.rst"  # a file used as a folder: ENOTDIR
        result = run(path)
        assert result.returncode == 2
        assert result.stderr == f"{path}: error: expected a readable file; Not a directory\n"

    def test_directory(self, tmp_path: Path) -> None:
        result = run(tmp_path)
        assert result.returncode == 2
        assert result.stderr == f"{tmp_path}: error: expected a file; found a directory\n"

    def test_no_files_is_a_usage_error(self) -> None:
        result = run()
        assert result.returncode == 2
        assert "the following arguments are required: FILE.rst" in result.stderr
        assert_no_traceback(result)

    def test_bad_format_is_a_usage_error(self) -> None:
        result = run("--format", "xml", INPUTS / "drift.rst")
        assert result.returncode == 2
        assert "invalid choice: 'xml'" in result.stderr


class TestReports:
    """Drift and clean files, several files, JSON."""

    def test_drift_text(self) -> None:
        path = INPUTS / "drift.rst"
        result = run(path)
        assert result.returncode == 1
        assert result.stderr == ""
        lines = result.stdout.splitlines()
        assert f"{path}:17: renamed: entry 'gfns' names a field that struct kvm_mmu_page no " + (
            "longer has; renamed to 'shadowed_translation'"
        ) in "\n".join(lines)
        assert f"{path}:6: undocumented: 'mmu_valid_gen' is not described" in result.stdout
        assert lines[-1].startswith(f"{path}: drift (")
        assert " against v6.16; " in lines[-1]
        assert all(line.startswith(f"{path}:") for line in lines)

    def test_kernel_version_decides_which_members_exist(self) -> None:
        """--kernel v6.9: external_spt and role.is_mirror are members of later kernels."""
        path = INPUTS / "drift.rst"
        result = run("--kernel", "v6.9", path)
        assert result.returncode == 1
        assert (
            f"{path}:24: unknown-field: entry 'external_spt' names a field that struct "
            "kvm_mmu_page of v6.9 does not have; it exists since ~v6.14 (--kernel chooses the "
            "version)"
        ) in result.stdout
        assert (
            f"{path}:13: unknown-field: entry 'role.is_mirror' names a bit that union "
            + ("kvm_mmu_page_role of v6.9 does not have; it exists since ~v6.14")
            in result.stdout
        )
        assert result.stdout.splitlines()[-1].startswith(f"{path}: drift (")
        assert " against v6.9; " in result.stdout.splitlines()[-1]

    def test_an_old_kernel_takes_the_old_names(self, tmp_path: Path) -> None:
        """--kernel v5.10: gfns and lpage_disallowed are right, shadowed_translation is not."""
        from specmodel.lint import default_catalog

        names = default_catalog("v5.10").fields
        assert {"gfns", "lpage_disallowed", "lpage_disallowed_link", "role.nxe"} <= set(names)
        path = tmp_path / "old.rst"
        entries = "".join(f"  {name}:\n    Described.\n" for name in names)
        path.write_text(f"{HEADER}\n{entries}  shadowed_translation:\n    New.\n")
        result = run("--kernel", "v5.10", "--format", "json", path)
        assert result.returncode == 1, result.stdout + result.stderr
        doc = json.loads(result.stdout)
        assert doc["kernel"] == "v5.10"
        (finding,) = doc["files"][0]["findings"]
        assert (finding["kind"], finding["field"]) == ("unknown-field", "shadowed_translation")
        assert "exists since ~v6.0" in finding["message"]
        assert run("--kernel", "v6.9", path).returncode == 1  # gfns is renamed there

    @pytest.mark.parametrize("version", ["v4.19", "6.99", "newest"])
    def test_an_unknown_kernel_version_is_exit_2_naming_the_known_ones(self, version: str) -> None:
        result = run("--kernel", version, INPUTS / "drift.rst")
        assert result.returncode == 2
        assert result.stderr == (
            f"specmodel lint: error: --kernel: unknown kernel version {version!r}; expected "
            "one of: v5.10, v6.14, v6.16, v6.9\n"
        )
        assert result.stdout == ""

    def test_clean_doc_exits_0(self, tmp_path: Path) -> None:
        from specmodel.lint import default_catalog

        path = tmp_path / "complete.rst"
        entries = "".join(f"  {name}:\n    Described.\n" for name in default_catalog().fields)
        path.write_text(f"{HEADER}\n{entries}")
        result = run(path)
        assert (result.returncode, result.stderr) == (0, "")
        assert result.stdout.startswith(f"{path}: no drift against v6.16; ")

    def test_several_files_each_reported_exit_is_max(self, tmp_path: Path) -> None:
        drift, bad = INPUTS / "drift.rst", INPUTS / "conflict.rst"
        missing = tmp_path / "gone.rst"
        result = run(drift, bad, missing)
        assert result.returncode == 2
        assert result.stderr.splitlines() == [
            f"{bad}:7: error: expected a file without git merge-conflict markers; found "
            "'<<<<<<< ours' (1 unresolved conflict(s) in the file); resolve the merge first",
            f"{missing}: error: expected a readable file; No such file or directory",
        ]
        summaries = [line for line in result.stdout.splitlines() if ": drift" in line or
                     ": not checked" in line]  # fmt: skip
        assert len(summaries) == 3
        assert run(drift, drift).returncode == 1

    def test_json(self, tmp_path: Path) -> None:
        drift, bad = INPUTS / "drift.rst", INPUTS / "bad_term.rst"
        result = run("--format", "json", drift, bad)
        assert result.returncode == 2
        data = json.loads(result.stdout)
        assert data["schema"] == "specmodel-lint/1"
        assert data["exit"] == 2
        first, second = data["files"]
        assert (first["path"], first["status"], first["header_line"]) == (str(drift), "drift", 6)
        gfns = next(f for f in first["findings"] if f["field"] == "gfns")
        assert gfns["line"] == 17 and gfns["kind"] == "renamed"
        assert gfns["rename"]["old"] == "gfns"
        assert gfns["rename"]["new"] == "shadowed_translation"
        assert "gfn" in first["fields_documented"]
        assert second["status"] == "error" and second["error"]["line"] == 7
        assert result.stderr.startswith(f"{bad}:7: error:")


class TestCorpus:
    """The real kernel files (corpus_dir from --corpus / SPECMODEL_CORPUS / ../shared/corpus)."""

    def test_2022(self, corpus_dir: Path) -> None:
        path = corpus_dir / "mmu-torvalds-20693782.rst"
        result = run(path)
        assert result.returncode == 1
        assert f"{path}:150: undocumented: 'mmu_valid_gen' is not described" in result.stdout
        assert (
            f"{path}:218: renamed: entry 'gfns' names a field that struct kvm_mmu_page no "
            "longer has; renamed to 'shadowed_translation'" in result.stdout
        )

    def test_v6_7(self, corpus_dir: Path) -> None:
        path = corpus_dir / "mmu-upstream-v6.7.rst"
        result = run("--format", "json", path)
        assert result.returncode == 1
        (report,) = json.loads(result.stdout)["files"]
        assert "mmu_valid_gen" in report["fields_documented"]
        undocumented = {f["field"] for f in report["findings"] if f["kind"] == "undocumented"}
        assert "nx_huge_page_disallowed" in undocumented
        assert {f["kind"] for f in report["findings"]} == {"undocumented"}

    def test_conflicted(self, corpus_dir: Path) -> None:
        path = corpus_dir / "mmu-bm16ton-9ffc50dd.rst"
        result = run(path)
        assert result.returncode == 2
        assert result.stderr.startswith(
            f"{path}:380: error: expected a file without git merge-conflict markers; "
            "found '<<<<<<< HEAD'"
        )
        assert_no_traceback(result)

    def test_all_three_exit_2(self, corpus_dir: Path) -> None:
        assert run(*sorted(corpus_dir.glob("mmu-*.rst"))).returncode == 2


class TestNeverExecutes:
    """The CLI reads hostile input as text only."""

    def test_hostile_file(self, tmp_path: Path) -> None:
        marker = tmp_path / "ran"
        code = f"open({str(marker)!r}, 'w').write('x')"
        path = tmp_path / "hostile.rst"
        path.write_text(
            f".. include:: {tmp_path / 'nowhere.rst'}\n\n.. spec:run::\n\n   {code}\n\n"
            f".. spec:invariant:: {code}\n\n{HEADER}\n  gfn:\n    text\n"
            f"  .. spec:run::\n\n     {code}\n  spt:\n    text\n"
        )
        result = run(path)
        assert not marker.exists()
        assert result.returncode == 1
        assert f"{path}:9: undocumented:" in result.stdout
        assert "'gfn' is not described" not in result.stdout
