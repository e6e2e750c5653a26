"""Sphinx mode of the prose check: ``specmodel_prose`` judges an unmodified kernel mmu.rst.

Real builds (``python -m sphinx`` in a fresh project per test): the corpus v6.7 file as it is,
the same file with the v3 wording of its first mmu_valid_gen sentence (made here by a one-word
edit), and the synthetic mmu.rst with a table of our own (no corpus needed).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from specmodel.prose.normalise import first_words, sentence_hash, sketch

INPUTS = Path(__file__).resolve().parents[1] / "prose_inputs"
V6_7 = "mmu-upstream-v6.7.rst"


def project(tmp: Path, page: Path | str, cache: Path, prose: str = "kvm_mmu_page") -> Path:
    src = tmp / "src"
    src.mkdir()
    if isinstance(page, Path):
        shutil.copyfile(page, src / "index.rst")
    else:
        (src / "index.rst").write_text(page, encoding="utf-8")
    (src / "conf.py").write_text(
        'extensions = ["specmodel.sphinxext"]\n'
        f"specmodel_prose = {prose!r}\n"
        f"specmodel_cache_dir = {str(cache)!r}\n",
        encoding="utf-8",
    )
    return src


def build(src: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sphinx", "-E", "-b", "html", str(src), str(src / "_build")],
        capture_output=True,
        text=True,
        env=dict(os.environ, NO_COLOR="1"),
        check=False,
        timeout=900,
    )


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("prose-sphinx-cache")


def test_unmodified_v6_7_renders_marks_and_passes(
    corpus_dir: Path, cache: Path, tmp_path: Path
) -> None:
    original = (corpus_dir / V6_7).read_bytes()
    src = project(tmp_path, corpus_dir / V6_7, cache)
    result = build(src)
    assert result.returncode == 0, result.stderr
    assert (src / "index.rst").read_bytes() == original  # no markup added
    html = (src / "_build" / "index.html").read_text(encoding="utf-8")
    for verdict in ("verified", "ambiguous"):
        assert f"spec-prose-mark spec-prose-{verdict}" in html, verdict
    # every v6.7 sentence is known: none is refuted or unjudged
    assert "spec-prose-refuted" not in html and "spec-prose-unjudged" not in html
    assert html.count('class="spec-prose-mark') == 47 + 3  # verified, ambiguous
    assert "checks.fast_zap.never_enters_on_obsolete_root" in html  # the note names the claim
    assert "specmodel: prose coverage (kvm_mmu_page): 72 sentences; " in result.stdout


def test_refuted_sentence_fails_the_build_at_its_line(
    corpus_dir: Path, cache: Path, tmp_path: Path
) -> None:
    text = (corpus_dir / V6_7).read_text(encoding="utf-8")
    merged = "without blocking vCPUs too long."
    assert text.count(merged) == 1
    src = project(tmp_path, text.replace(merged, "without blocking vCPUs."), cache)
    result = build(src)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1
    assert errors[0].startswith(
        f'{src / "index.rst"}:212: ERROR: prose: refuted: "The MMU generation of this..." '
        "(claim checks.fast_zap.vcpus_never_blocked): "
    )
    html = (src / "_build" / "index.html").read_text(encoding="utf-8")
    assert "spec-prose-mark spec-prose-refuted" in html
    assert "spec-prose-trace" in html  # the counterexample under the entry


def test_synthetic_file_with_a_table_of_our_own(cache: Path, tmp_path: Path) -> None:
    claim = "A zap never makes a vCPU wait, not even once."
    table = tmp_path / "own.toml"
    table.write_text(
        '[table]\nname = "own"\n\n[[sentence]]\nentry = "mmu_valid_gen"\n'
        f'hash = "{sentence_hash(claim)}"\nwords = "{first_words(claim)}"\n'
        'wordings = ["v6.7"]\nclass = "behavioural"\nparaphrase = "vCPUs never wait."\n'
        'claims = [{ id = "checks.fast_zap.vcpus_never_blocked", expect = "refuted" }]\n'
        f'sketch = "{sketch(claim)}"\n',
        encoding="utf-8",
    )
    src = project(tmp_path, INPUTS / "synthetic_mmu.rst", cache, prose=str(table))
    result = build(src)
    assert result.returncode == 1
    assert f'{src / "index.rst"}:16: ERROR: prose: refuted: "A zap never makes a..."' in (
        result.stderr
    )


def test_unknown_table_is_an_error_at_the_file(cache: Path, tmp_path: Path) -> None:
    src = project(tmp_path, INPUTS / "synthetic_mmu.rst", cache, prose="nope")
    result = build(src)
    assert result.returncode == 1
    assert (
        f"{src / 'index.rst'}:0: ERROR: unknown sentence table 'nope'; expected one of: "
        "kvm_mmu_page" in result.stderr
    )


def test_pages_without_the_field_list_are_left_alone(cache: Path, tmp_path: Path) -> None:
    src = project(tmp_path, "Title\n=====\n\nObsolete pages can't be used.\n", cache)
    result = build(src)
    assert result.returncode == 0, result.stderr
    html = (src / "_build" / "index.html").read_text(encoding="utf-8")
    assert "spec-prose" not in html
