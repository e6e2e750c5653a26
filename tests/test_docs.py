"""The project's own documentation: it builds with every check, and a wrong statement fails it.

One cold build of ``docs/`` (with a fresh result cache) is shared by the tests of this module;
the failing build reuses that cache, so it only re-runs what the edit changed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"


@dataclass(frozen=True)
class Build:
    returncode: int
    output: str
    outdir: Path
    cache: Path


def sphinx_build(srcdir: Path, outdir: Path, cache: Path) -> Build:
    """``python -m sphinx -W -n -c <repo> SRCDIR OUTDIR``, as the README runs it."""
    command = [
        sys.executable,
        "-m",
        "sphinx",
        "-W",
        "-n",
        "-E",
        "-c",
        str(REPO),
        "-D",
        f"specmodel_cache_dir={cache}",
        str(srcdir),
        str(outdir),
    ]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    return Build(done.returncode, done.stdout + done.stderr, outdir, cache)


@pytest.fixture(scope="module")
def docs_build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    base = tmp_path_factory.mktemp("docs-build")
    return sphinx_build(DOCS, base / "html", base / "cache")


def _claim_section(html: str, claim_id: str) -> str:
    """The HTML from a spec:claim directive's anchor to the next claim's anchor."""
    start = html.index(f'id="spec-claim-{claim_id}"')
    following = html.find('id="spec-claim-', start + 1)
    return html[start : following if following != -1 else len(html)]


def test_the_docs_build_with_every_check_passing(docs_build: Build) -> None:
    assert docs_build.returncode == 0, docs_build.output
    summary = re.search(
        r"specmodel: (\d+) verdicts, (\d+) held, 0 diverged, 0 errors", docs_build.output
    )
    assert summary is not None, docs_build.output
    assert summary[1] == summary[2]
    for page in (
        "index",
        "reference/kvm_mmu_page",
        "reference/role",
        "fast_zap",
        "history",
        "reclaim",
        "mutants",
        "guide/index",
        "api",
    ):
        assert (docs_build.outdir / f"{page}.html").is_file(), page


def test_history_shows_the_refuted_v3_statement_with_trace_and_timeline(
    docs_build: Build,
) -> None:
    assert docs_build.returncode == 0, docs_build.output
    html = (docs_build.outdir / "history.html").read_text(encoding="utf-8")
    section = _claim_section(html, "checks.fast_zap.vcpus_never_blocked")
    assert "refuted by the model, as documented" in section
    assert "Counterexample:" in section
    # the step that refutes "without blocking vCPUs": the vCPU queues for mmu_lock
    assert "kvm_mmu_free_obsolete_roots: write_lock(&amp;kvm-&gt;mmu_lock): waits" in section
    assert "waits for mmu_lock(write)" in section
    assert "<svg" in section
    assert "counterexample timeline: claim checks.fast_zap.vcpus_never_blocked" in section


def test_reclaim_page_shows_the_model_deciding_which_commit_closes_the_hole(
    docs_build: Build,
) -> None:
    assert docs_build.returncode == 0, docs_build.output
    html = (docs_build.outdir / "reclaim.html").read_text(encoding="utf-8")
    assert "USE-AFTER-FREE" in html
    assert html.count("<svg") >= 3  # the pre-fix kernel: invariant, claim, use-after-free


def test_a_one_word_change_to_a_checked_option_fails_the_build_at_its_line(
    docs_build: Build, tmp_path: Path
) -> None:
    """Issue 6, done when: ``:values: 0, 1, 2`` on mmu_valid_gen fails at that directive."""
    copy = tmp_path / "docs"
    shutil.copytree(DOCS, copy, ignore=shutil.ignore_patterns("_build"))
    page = copy / "reference" / "kvm_mmu_page.rst"
    lines = page.read_text(encoding="utf-8").splitlines(keepends=True)
    directive = next(i for i, line in enumerate(lines) if ".. spec:field:: mmu_valid_gen" in line)
    option = next(i for i in range(directive, directive + 4) if ":values: 0, 1" in lines[i])
    lines[option] = lines[option].replace(":values: 0, 1", ":values: 0, 1, 2")
    page.write_text("".join(lines), encoding="utf-8")

    broken = sphinx_build(copy, tmp_path / "html", docs_build.cache)

    assert broken.returncode != 0
    located = f"{page}:{directive + 1}: ERROR: "
    messages = [line for line in broken.output.splitlines() if line.startswith(located)]
    assert messages, broken.output
    assert "mmu_valid_gen" in messages[0] and "0, 1, 2" in messages[0], messages
    # and nothing else diverges: the one edit is the one error
    errors = [line for line in broken.output.splitlines() if "[spec." in line]
    assert len(errors) == 1, errors
