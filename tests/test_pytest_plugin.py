"""The pytest plugin (``--spec-docs PATH``) run as real pytest subprocesses on a small tree.

Its items must behave like any pytest item: counted by ``--collect-only``, selected by node id
and ``-k``, named in JUnit XML after the file and the directive, and run under pytest-xdist.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

INDEX = """\
Fast zap
========

.. toctree::

   bad

.. spec:claim:: checks.fast_zap.generation_only_0_or_1

   The generation only takes the values 0 and 1.
"""

BAD = """\
Bad
===

.. spec:claim:: checks.fast_zap.vcpus_never_blocked

   A fast zap never blocks a vCPU.

.. spec:invariant:: all(p.gen in (0, 1) for p in pages)
   :scenario: fast_zap
"""

HELD = "docs/index.rst::line 8 spec:claim checks.fast_zap.generation_only_0_or_1"
DIVERGED = "docs/bad.rst::line 4 spec:claim checks.fast_zap.vcpus_never_blocked"
ERROR = "docs/bad.rst::line 8 spec:invariant all(p.gen in (0, 1) for p in pages)"


@pytest.fixture(scope="module")
def warm_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A docs tree whose result cache one run has filled (so the other runs are quick)."""
    root = tmp_path_factory.mktemp("plugin")
    (root / "docs").mkdir()
    (root / "docs" / "index.rst").write_text(INDEX)
    (root / "docs" / "bad.rst").write_text(BAD)
    pytest_run(root, "--collect-only", "-q")
    return root


@pytest.fixture
def tree(warm_tree: Path, tmp_path: Path) -> Path:
    """This test's own copy of the warmed tree."""
    copy = tmp_path / "project"
    shutil.copytree(warm_tree, copy, ignore=shutil.ignore_patterns("_build"))
    return copy


def pytest_run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # The outer run may itself be an xdist worker; the inner one must not think it is.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    env.pop("PYTEST_ADDOPTS", None)
    # (Hypothesis' plugin only slows the inner runs down: they have no Hypothesis tests.)
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:hypothesispytest",
    ]
    command += ["--spec-docs", "docs"]
    return subprocess.run(
        [*command, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_collect_only_counts_every_directive(tree: Path) -> None:
    proc = pytest_run(tree, "--collect-only")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "collected 3 items" in proc.stdout
    listed = [line.strip() for line in proc.stdout.splitlines() if "<SpecItem" in line]
    assert listed == [
        "<SpecItem line 4 spec:claim checks.fast_zap.vcpus_never_blocked>",
        "<SpecItem line 8 spec:invariant all(p.gen in (0, 1) for p in pages)>",
        "<SpecItem line 8 spec:claim checks.fast_zap.generation_only_0_or_1>",
    ]


def junit_cases(path: Path) -> dict[tuple[str, str], ET.Element]:
    suite = ET.parse(path).getroot()
    return {(c.get("classname", ""), c.get("name", "")): c for c in suite.iter("testcase")}


def test_a_run_reports_each_verdict_at_its_line_and_in_junit(tree: Path) -> None:
    proc = pytest_run(tree, "-rA", "--junitxml", "report.xml")
    assert proc.returncode == 1, proc.stdout
    assert "2 failed, 1 passed" in proc.stdout
    for outcome, node in (("PASSED", HELD), ("FAILED", DIVERGED), ("FAILED", ERROR)):
        assert f"{outcome} {node}" in proc.stdout
    assert "docs/bad.rst:4: diverged: spec:claim checks.fast_zap.vcpus_never_blocked" in (
        proc.stdout
    )
    assert "docs/bad.rst:8: error: spec:invariant" in proc.stdout
    assert "NameError" in proc.stdout
    cases = junit_cases(tree / "report.xml")
    assert sorted(cases) == [
        ("docs.bad.rst", "line 4 spec:claim checks.fast_zap.vcpus_never_blocked"),
        ("docs.bad.rst", "line 8 spec:invariant all(p.gen in (0, 1) for p in pages)"),
        ("docs.index.rst", "line 8 spec:claim checks.fast_zap.generation_only_0_or_1"),
    ]
    diverged = cases["docs.bad.rst", "line 4 spec:claim checks.fast_zap.vcpus_never_blocked"]
    failure = diverged.find("failure")
    assert failure is not None
    assert failure.get("message", "").startswith("docs/bad.rst:4: diverged: ")
    held = cases["docs.index.rst", "line 8 spec:claim checks.fast_zap.generation_only_0_or_1"]
    assert list(held) == []  # passed: no failure, error or skipped element


def test_node_ids_select_directives(tree: Path) -> None:
    proc = pytest_run(tree, ERROR, HELD, "-rA")
    assert proc.returncode == 1, proc.stdout
    assert "1 failed, 1 passed in" in proc.stdout
    assert f"FAILED {ERROR}" in proc.stdout and f"PASSED {HELD}" in proc.stdout
    assert DIVERGED not in proc.stdout


def test_k_selects_by_name(tree: Path) -> None:
    proc = pytest_run(tree, "-k", "never_blocked or generation_only", "-rA")
    assert "1 failed, 1 passed, 1 deselected" in proc.stdout, proc.stdout
    assert f"FAILED {DIVERGED}" in proc.stdout


def test_xdist_runs_the_same_items(tree: Path) -> None:
    proc = pytest_run(tree, "-n", "2", "--junitxml", "report.xml")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "2 failed, 1 passed" in proc.stdout
    assert {name for _, name in junit_cases(tree / "report.xml")} == {
        node.split("::")[1] for node in (HELD, DIVERGED, ERROR)
    }
    # Each worker built into its own folder.
    assert sorted(p.name for p in (tree / "docs/_build/specmodel-pytest").iterdir()) == [
        "gw0",
        "gw1",
    ]


def test_docs_outside_testpaths_are_collected_with_the_tests(tree: Path) -> None:
    (tree / "pytest.ini").write_text("[pytest]\ntestpaths = tests\n")
    (tree / "tests").mkdir()
    (tree / "tests" / "test_one.py").write_text("def test_one():\n    pass\n")
    proc = pytest_run(tree, "--collect-only", "-q")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[:4] == ["tests/test_one.py::test_one", DIVERGED, ERROR, HELD]
    # Named on the command line next to a test file, the docs are collected too.
    both = pytest_run(tree, "--collect-only", "-q", "tests/test_one.py")
    assert "4 tests collected" in both.stdout, both.stdout


def test_a_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    proc = pytest_run(tmp_path)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "--spec-docs docs: expected a source folder or an .rst file; found nothing" in (
        proc.stderr
    )


def test_a_project_sphinx_cannot_build_is_a_collection_error(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "conf.py").write_text("extensions = ['no_such_extension_xyz']\n")
    (tmp_path / "docs" / "index.rst").write_text(INDEX)
    proc = pytest_run(tmp_path)
    assert proc.returncode == 2, proc.stdout
    assert "ERROR collecting docs/index.rst" in proc.stdout
    assert "Sphinx could not build these sources" in proc.stdout
    assert "no_such_extension_xyz" in proc.stdout
