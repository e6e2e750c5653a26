"""specmodel.prose and ``specmodel lint --prose``: the sentence table, sentences, patches, verdicts.

Real inputs: every corpus mmu.rst (``corpus_dir``, see conftest.py), a ``diff -u`` between two
of them, the seed review as it stands and with the review's rewrite substituted (both built
from the seed here), damaged copies of those, and ``prose_inputs/synthetic_mmu.rst`` (our own
text in the shape of an mmu.rst) for what must run without the corpus.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from specmodel.claims import all_claims
from specmodel.errors import LintInputError
from specmodel.lint import split_lines
from specmodel.prose.coverage import claims_section, coverage
from specmodel.prose.judge import VERDICTS, ClaimRunner, Found, Where, judge
from specmodel.prose.normalise import first_words, normalise, sentence_hash, similarity, sketch
from specmodel.prose.patch import read_input
from specmodel.prose.report import lint_prose, render_text, to_json
from specmodel.prose.split import file_sentences, split_sentences
from specmodel.prose.table import (
    CURRENT,
    TableError,
    binding_errors,
    load_table,
    parse_table,
    table_path,
)

INPUTS = Path(__file__).parent / "prose_inputs"
SYNTHETIC = INPUTS / "synthetic_mmu.rst"
V6_7 = "mmu-upstream-v6.7.rst"
OLD_2022 = "mmu-torvalds-20693782.rst"
CONFLICTED = "mmu-bm16ton-9ffc50dd.rst"
SEED = "000_f3f6f47c5958529f.txt"
NEVER_BLOCKED = "checks.fast_zap.vcpus_never_blocked"


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One claim cache for the session (each claim runs once); cold tests use their own."""
    return tmp_path_factory.mktemp("prose-cache")


@pytest.fixture(scope="session")
def seed_path(corpus_dir: Path) -> Path:
    """The 2023 review next to the corpus (``../shared/seed``); missing is a failure."""
    path = corpus_dir.parent / "seed" / SEED
    if not path.is_file():
        pytest.fail(f"seed: expected the review at {path}; found none", pytrace=False)
    return path


def lint(*args: str, cache: Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, SPECMODEL_CACHE_DIR=str(cache), NO_COLOR="1")
    return subprocess.run(
        [sys.executable, "-m", "specmodel", "lint", "--prose", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=False,
        timeout=600,
    )


def rewrite_seed(seed: Path, out: Path) -> Path:
    """The seed with the review's rewrite in place of the v3 text, as quoted '> + ' lines.

    Built from the seed itself (the rewrite is the unquoted paragraph after "How about this?"),
    so no kernel text is stored in the repository.
    """
    lines = seed.read_text(encoding="utf-8").split("\n")
    term = lines.index("> + mmu_valid_gen:")
    ask = next(i for i, line in enumerate(lines) if line.endswith("How about this?"))
    end = next(i for i in range(ask + 2, len(lines)) if lines[i].startswith("Note, the TDP"))
    rewrite = [f"> + {line}".rstrip() for line in lines[ask + 2 : end + 1]]
    out.write_text("\n".join([*lines[: term + 1], *rewrite, ""]), encoding="utf-8")
    return out


def make_diff(corpus_dir: Path, out: Path) -> Path:
    """``diff -u`` from the 2022 mmu.rst to the v6.7 one (exit 1: they differ)."""
    result = subprocess.run(
        ["diff", "-u", str(corpus_dir / OLD_2022), str(corpus_dir / V6_7)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    out.write_text(result.stdout, encoding="utf-8")
    return out


# --- normal form, sentences, table ------------------------------------------------------------


def test_normal_form_folds_white_space_and_inline_markup() -> None:
    assert normalise("  The ``gfn``  of *this*\n page, :c:func:`kvm_zap`.") == (
        "The gfn of this page, kvm_zap."
    )
    assert sentence_hash("a  b\n c") == sentence_hash("a b c")
    assert sentence_hash("a b c") != sentence_hash("a b d")
    assert sentence_hash("can\u2019t \u201cx\u201d\u2026") == sentence_hash('can\'t "x"...')
    assert first_words("one two  three four five six") == "one two three four five"
    assert similarity(sketch("the zap blocks vcpus"), sketch("the zap blocks the vcpus")) == 1.0
    assert similarity(sketch("alpha beta"), sketch("gamma delta")) == 0.0


def test_sentences_keep_abbreviations_and_their_lines() -> None:
    body = [(10, "First, i.e. one"), (11, "sentence.  Second"), (12, "one. Third")]
    found = split_sentences("gfn", body)
    assert [s.text for s in found] == ["First, i.e. one sentence.", "Second one.", "Third"]
    assert [(s.first, s.last) for s in found] == [(10, 11), (11, 12), (12, 12)]


def test_table_shape_and_every_binding_resolves() -> None:
    table = load_table("kvm_mmu_page")
    assert table.name == "kvm_mmu_page"
    assert binding_errors(table, [c.id for c in all_claims()]) == []
    current = table.current()
    assert len(current) == 72
    # every behavioural sentence is bound or says why not; pending ones say "claim pending"
    for record in current:
        if record.cls == "behavioural" and not record.bound:
            assert record.reason.startswith("claim pending: "), record.id
    # the historical wordings of mmu_valid_gen
    v3 = [r for r in table.records if r.wordings == ("v3",)]
    assert [r.claims[0].claim for r in v3] == [NEVER_BLOCKED]
    assert v3[0].claims[0].expect == "refuted"
    assert len([r for r in table.records if "review" in r.wordings]) == 5


def test_table_stores_no_kernel_sentence(corpus_dir: Path) -> None:
    text = table_path("kvm_mmu_page").read_text(encoding="utf-8")
    lines = split_lines((corpus_dir / V6_7).read_text(encoding="utf-8"))
    for sentence in file_sentences(lines, V6_7):
        if len(sentence.text.split()) > 6:
            assert sentence.text not in text, sentence.text


def test_bad_binding_is_reported() -> None:
    table = load_table()
    errors = binding_errors(table, ["checks.fast_zap.obsolete_pages_unused"])
    assert any(f"unknown claim {NEVER_BLOCKED!r}" in e for e in errors)
    lines, data, ok = claims_section(["checks.fast_zap.obsolete_pages_unused"])
    assert not ok and data["binding_errors"] and any("BAD BINDING" in line for line in lines)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"class": "fuzzy"}, "expected 'class' one of"),
        ({"class": "descriptive", "reason": ""}, "needs a one-line 'reason'"),
        ({"class": "outside", "reason": "r"}, "needs 'needs'"),
        ({"hash": "XYZ"}, "16 lower-case hex digits"),
        ({"claims": [{"id": "checks.a.b", "expect": "maybe"}]}, "expected 'expect' one of"),
        ({"reason": "", "claims": None}, "needs 'claims', 'readings' or a 'reason'"),
        ({"colour": "red"}, "unknown key(s) colour"),
    ],
)
def test_malformed_record_names_the_record(change: dict[str, object], message: str) -> None:
    record: dict[str, object] = {
        "entry": "gfn",
        "hash": "0123456789abcdef",
        "words": "w",
        "wordings": ["v6.7"],
        "class": "behavioural",
        "paraphrase": "p",
        "reason": "claim pending: x",
    }
    for key, value in change.items():
        if value is None:
            record.pop(key, None)
        else:
            record[key] = value
    if "claims" in record:
        record.pop("reason")
    with pytest.raises(TableError, match=r"^t\.toml: sentence 1\b") as info:
        parse_table({"table": {"name": "t"}, "sentence": [record]}, "t.toml")
    assert message in str(info.value)


def test_pending_binding_is_a_one_line_edit() -> None:
    """Replacing a pending line with a claims line binds the sentence (and back)."""
    text = table_path("kvm_mmu_page").read_text(encoding="utf-8")
    claims = 'claims = [{ id = "checks.roots.root_count_counts_vcpu_roots", expect = "verified" }]'
    assert text.count(claims) == 1
    pending = text.replace(claims, 'reason = "claim pending: root lifetime (checks.roots.*)"')
    unbound = parse_table(tomllib.loads(pending), "edited")
    assert coverage(unbound).bound["behavioural"] == coverage(load_table()).bound["behavioural"] - 1
    assert [r.entry for r in coverage(unbound).unbound] == ["root_count / tdp_mmu_root_count"]


def test_coverage_figures_add_up() -> None:
    cov = coverage(load_table())
    assert cov.sentences == 72 == sum(cov.classes.values())
    for cls in ("behavioural", "structural"):
        unbound = sum(r.cls == cls for r in cov.unbound)
        assert cov.bound[cls] + unbound == cov.classes[cls]
    assert all(r.reason for r in cov.unbound)
    assert cov.summary().startswith("prose coverage (kvm_mmu_page): 72 sentences; ")


# --- the corpus ---------------------------------------------------------------------------------


def test_v6_7_every_sentence_has_a_verdict(corpus_dir: Path, cache_dir: Path) -> None:
    path = str(corpus_dir / V6_7)
    [report] = lint_prose([path], runner=ClaimRunner(cache_dir))
    table = load_table()
    assert len(report.judgements) == 72
    assert all(j.verdict in VERDICTS for j in report.judgements)
    # the table's v6.7 records are exactly the file's sentences, in order
    assert [j.hash for j in report.judgements] == [r.hash for r in table.current()]
    by_line = {j.found.where.line: j for j in report.judgements}
    assert by_line[216].verdict == "ambiguous"
    assert {r.verdict for r in by_line[216].readings} == {"refuted", "verified"}
    assert by_line[212].verdict == "verified"  # "too long": the bounded-wait reading
    assert report.exit_code(strict=False) == 0
    assert report.exit_code(strict=True) == 1


def test_v6_7_cli_text_and_strict(corpus_dir: Path, cache_dir: Path) -> None:
    path = corpus_dir / V6_7
    result = lint(str(path), cache=cache_dir)
    assert result.returncode == 0, result.stderr
    assert (
        f'{path}:216: ambiguous: "Therefore, vCPUs must load a..." readings: '
        '"never in the guest on an obsolete root" (claim '
        "checks.fast_zap.never_enters_on_obsolete_root) refuted; " in result.stdout
    )
    assert f"{path}: prose: 72 sentences: " in result.stdout
    assert "descriptive:" not in result.stdout  # quiet in text
    strict = lint("--strict", str(path), cache=cache_dir)
    assert strict.returncode == 1
    assert strict.stdout == result.stdout


def test_2022_unjudged_names_the_nearest_known_sentence(corpus_dir: Path, cache_dir: Path) -> None:
    path = corpus_dir / OLD_2022
    result = lint("--format", "json", str(path), cache=cache_dir)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    sentences = doc["files"][0]["sentences"]
    near = [s for s in sentences if s["verdict"] == "unjudged" and s["nearest"]]
    assert near, "expected a changed wording with a similar known sentence"
    hint = next(s for s in near if s["entry"] == "unsync_child_bitmap")
    assert hint["nearest"]["id"] == "unsync_child_bitmap#2"
    assert hint["nearest"]["only_similar"] is True
    text = lint(str(path), cache=cache_dir).stdout
    assert "only similar, not the same wording" in text
    assert "mmu_valid_gen" not in {s["entry"] for s in sentences}  # no entry before v6.7


def test_conflicted_corpus_file_is_bad_input(corpus_dir: Path, cache_dir: Path) -> None:
    path = corpus_dir / CONFLICTED
    result = lint(str(path), cache=cache_dir)
    assert result.returncode == 2
    [error] = result.stderr.splitlines()
    assert error.startswith(f"{path}:380: error: expected a file without git merge-conflict")
    assert f"{path}: prose not checked: bad input at line 380" in result.stdout


# --- patches ------------------------------------------------------------------------------------


def test_diff_between_corpus_versions(corpus_dir: Path, cache_dir: Path, tmp_path: Path) -> None:
    patch = make_diff(corpus_dir, tmp_path / "c.diff")
    result = lint(str(patch), cache=cache_dir)
    assert result.returncode == 0, result.stderr
    target = corpus_dir / V6_7
    lines = result.stdout.splitlines()
    first = next(line for line in lines if '"The MMU generation of this..."' in line)
    assert first.startswith(f"{patch}:") and first.endswith(f"[{target}:212]")
    assert "verified" in first
    patch_line = int(first.split(":")[1])
    assert patch.read_text().split("\n")[patch_line - 1].startswith("+")
    # only the changed entries: role.level is unchanged context
    assert not any('"The level in the shadow..."' in line for line in lines)


def test_diff_with_base_reports_the_patched_file(
    corpus_dir: Path, cache_dir: Path, tmp_path: Path
) -> None:
    patch = make_diff(corpus_dir, tmp_path / "c.diff")
    base = corpus_dir / OLD_2022
    result = lint("--base", str(base), str(patch), cache=cache_dir)
    assert result.returncode == 0, result.stderr
    # the patched 2022 file is the v6.7 file: its lines are v6.7's
    ambiguous = next(line for line in result.stdout.splitlines() if ": ambiguous: " in line)
    assert ambiguous.startswith(f"{base}:216: ambiguous: ")
    assert f"[{patch}:" in ambiguous


def test_seed_refutes_the_v3_sentence(seed_path: Path, cache_dir: Path) -> None:
    result = lint(str(seed_path), cache=cache_dir)
    assert result.returncode == 1, result.stderr
    refuted = [line for line in result.stdout.splitlines() if ": refuted: " in line]
    assert len(refuted) == 1
    line = refuted[0]
    assert line.startswith(
        f'{seed_path}:27: refuted: "The MMU generation of this..." (claim {NEVER_BLOCKED}): '
    )
    assert "counterexample in " in line and line.endswith(
        " steps [Documentation/virt/kvm/x86/mmu.rst:212]"
    )
    assert f"{seed_path}:47: ambiguous: " in result.stdout
    assert f"{seed_path}:22: note: the quoted hunk is trimmed" in result.stdout
    doc = json.loads(lint("--format", "json", str(seed_path), cache=cache_dir).stdout)
    assert doc["exit"] == 1 and doc["files"][0]["kind"] == "reply"
    [bad] = [s for s in doc["files"][0]["sentences"] if s["verdict"] == "refuted"]
    [reading] = bad["readings"]
    assert reading["claim"] == NEVER_BLOCKED and reading["steps"] == len(reading["trace"]) > 0
    traced = lint("--trace", str(seed_path), cache=cache_dir).stdout
    assert f"    counterexample to {NEVER_BLOCKED} (schedule " in traced


def test_seed_with_the_reviews_rewrite(seed_path: Path, cache_dir: Path, tmp_path: Path) -> None:
    reply = rewrite_seed(seed_path, tmp_path / "rewrite.txt")
    result = lint("--format", "json", str(reply), cache=cache_dir)
    assert result.returncode == 0, result.stderr
    sentences = json.loads(result.stdout)["files"][0]["sentences"]
    assert [s["verdict"] for s in sentences] == [
        "verified", "verified", "verified", "verified", "descriptive"
    ]  # fmt: skip
    assert all(s["known"]["wordings"] == ["review"] for s in sentences)
    assert sentences[2]["readings"][0]["claim"] == "checks.fast_zap.vcpus_run_during_zap"


def test_truncated_hunk(corpus_dir: Path, cache_dir: Path, tmp_path: Path) -> None:
    lines = make_diff(corpus_dir, tmp_path / "c.diff").read_text().split("\n")
    header = next(n for n, line in enumerate(lines, 1) if line.startswith("@@ "))
    cut = tmp_path / "cut.diff"
    cut.write_text("\n".join(lines[: header + 4]) + "\n")
    result = lint(str(cut), cache=cache_dir)
    assert result.returncode == 2
    [error] = result.stderr.splitlines()
    assert error.startswith(f"{cut}:{header}: error: expected ")
    assert "more line(s) in the hunk" in error and "found the end of the input" in error


def test_patch_for_another_file(corpus_dir: Path, cache_dir: Path, tmp_path: Path) -> None:
    text = make_diff(corpus_dir, tmp_path / "c.diff").read_text()
    other = tmp_path / "other.diff"
    other.write_text(text.replace(str(corpus_dir / V6_7), "b/Documentation/virt/kvm/api.rst"))
    result = lint(str(other), cache=cache_dir)
    assert result.returncode == 2
    [error] = result.stderr.splitlines()
    assert error == (
        f"{other}:2: error: expected a patch that touches an mmu.rst "
        "(Documentation/virt/kvm/x86/mmu.rst); found one for Documentation/virt/kvm/api.rst"
    )


def test_crlf_patch_is_read_as_lf(corpus_dir: Path, cache_dir: Path, tmp_path: Path) -> None:
    patch = make_diff(corpus_dir, tmp_path / "c.diff")
    crlf = tmp_path / "crlf.diff"
    crlf.write_bytes(patch.read_bytes().replace(b"\n", b"\r\n"))
    plain = lint(str(patch), cache=cache_dir)
    result = lint(str(crlf), cache=cache_dir)
    assert result.returncode == plain.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0] == f"{crlf}:1: note: CRLF line endings; read as LF"
    assert [line.replace(str(crlf), "P") for line in lines[1:]] == [
        line.replace(str(patch), "P") for line in plain.stdout.splitlines()
    ]


def test_non_utf8_patch(corpus_dir: Path, cache_dir: Path, tmp_path: Path) -> None:
    lines = make_diff(corpus_dir, tmp_path / "c.diff").read_bytes().split(b"\n")
    lines[9] = b"+ caf\xe9 " + lines[9]
    bad = tmp_path / "latin1.diff"
    bad.write_bytes(b"\n".join(lines))
    result = lint(str(bad), cache=cache_dir)
    assert result.returncode == 2
    [error] = result.stderr.splitlines()
    assert error.startswith(f"{bad}:10: error: expected UTF-8 text; found byte 0xe9")


def test_base_errors(corpus_dir: Path, cache_dir: Path, tmp_path: Path) -> None:
    patch = make_diff(corpus_dir, tmp_path / "c.diff")
    missing = tmp_path / "none.rst"
    result = lint("--base", str(missing), str(patch), cache=cache_dir)
    assert result.returncode == 2
    assert result.stderr.startswith(f"{missing}:0: error: expected a readable file")
    wrong = lint("--base", str(SYNTHETIC), str(patch), cache=cache_dir)
    assert wrong.returncode == 2
    header = next(
        n for n, line in enumerate(patch.read_text().split("\n"), 1) if line.startswith("@@ ")
    )
    assert wrong.stderr.startswith(f"{patch}:{header}: error: expected the hunk's ")
    rst = lint("--base", str(corpus_dir / V6_7), str(SYNTHETIC), cache=cache_dir)
    assert rst.returncode == 2
    assert rst.stderr.startswith(f"{SYNTHETIC}:0: error: --base applies a patch")


# --- without the corpus -------------------------------------------------------------------------


def test_synthetic_file(cache_dir: Path) -> None:
    result = lint(str(SYNTHETIC), cache=cache_dir)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f'{SYNTHETIC}:17: verified: "Obsolete pages can\'t be used." (claim ' in out
    assert f'{SYNTHETIC}:21: verified: "Valid for leaf pages." (enforced by the field model' in out
    assert f'{SYNTHETIC}:16: unjudged: "A zap never makes a..." new or changed wording' in out
    assert "See role.direct" not in out  # descriptive: quiet in text
    assert lint("--strict", str(SYNTHETIC), cache=cache_dir).returncode == 1


def synthetic_table(tmp_path: Path) -> Path:
    """A table of our own binding the synthetic file's claim to the v3 blocking claim."""
    text = "A zap never makes a vCPU wait, not even once."
    path = tmp_path / "synthetic.toml"
    path.write_text(
        '[table]\nname = "synthetic"\n\n[[sentence]]\nentry = "mmu_valid_gen"\n'
        f'hash = "{sentence_hash(text)}"\nwords = "{first_words(text)}"\n'
        'wordings = ["v6.7"]\nclass = "behavioural"\nparaphrase = "vCPUs never wait."\n'
        f'claims = [{{ id = "{NEVER_BLOCKED}", expect = "refuted" }}]\n'
        f'sketch = "{sketch(text)}"\n',
        encoding="utf-8",
    )
    return path


def test_synthetic_table_refutes(tmp_path: Path, cache_dir: Path) -> None:
    table = parse_table(tomllib.loads(synthetic_table(tmp_path).read_text()), "synthetic")
    [report] = lint_prose([str(SYNTHETIC)], table=table, runner=ClaimRunner(cache_dir))
    [refuted] = [j for j in report.judgements if j.verdict == "refuted"]
    assert refuted.found.where.line == 16
    assert report.exit_code(strict=False) == 1
    text = render_text([report], table)
    assert f'{SYNTHETIC}:16: refuted: "A zap never makes a..." (claim {NEVER_BLOCKED}): ' in text
    doc = to_json([report], table, False, [])
    assert doc["exit"] == 1 and doc["table"] == "synthetic"


def test_quoted_reply_of_our_own(tmp_path: Path) -> None:
    """A reply that quotes a hunk, folds the indentation and splits an added line."""
    reply = tmp_path / "reply.txt"
    reply.write_text(
        "On Monday someone wrote:\n"
        "> --- a/Documentation/virt/kvm/x86/mmu.rst\n"
        "> +++ b/Documentation/virt/kvm/x86/mmu.rst\n"
        "> @@ -10,2 +10,5 @@ Shadow pages contain the following information:\n"
        "> context line of the entry before.\n"
        "> + mmu_valid_gen:\n"
        "> + Obsolete pages can't be used. A zap never\n"
        "\n"
        "Really?\n"
        "\n"
        "> makes a vCPU wait, not even once.\n",
        encoding="utf-8",
    )
    parsed = read_input(str(reply))
    assert parsed.kind == "reply"
    assert [(f.where.line, f.where.target_line, f.text) for f in parsed.sentences] == [
        (7, 12, "Obsolete pages can't be used."),
        (7, 12, "A zap never makes a vCPU wait, not even once."),
    ]
    assert parsed.notes == [(4, "the quoted hunk is trimmed: 3 of 5 new lines quoted")]


def test_plain_patch_hunk_without_file_header(tmp_path: Path) -> None:
    patch = tmp_path / "bare.diff"
    patch.write_text("@@ -1,1 +1,1 @@\n-a\n+b\n")
    with pytest.raises(LintInputError) as info:
        read_input(str(patch))
    assert info.value.line == 1 and "expected a file header" in info.value.message


# --- cache and speed ----------------------------------------------------------------------------


def test_cold_then_warm(tmp_path: Path) -> None:
    cache = tmp_path / "cold"
    cold = lint("--format", "json", str(SYNTHETIC), cache=cache)
    assert json.loads(cold.stdout)["claims_run"] == ["checks.fast_zap.obsolete_pages_unused"]
    assert cold.stderr == ""  # progress only on a terminal
    warm = lint("--format", "json", str(SYNTHETIC), cache=cache)
    assert json.loads(warm.stdout)["claims_run"] == []
    assert json.loads(cold.stdout)["files"] == json.loads(warm.stdout)["files"]


def test_warm_run_under_half_a_second(corpus_dir: Path, cache_dir: Path) -> None:
    """Warm cache, one mmu.rst: the prose check itself (imports included, in a fresh process).

    CPU time of the child, so that other jobs on a loaded machine do not make it flaky.
    """
    path = corpus_dir / V6_7
    assert lint(str(path), cache=cache_dir).returncode == 0  # fills the cache
    code = (
        "import sys, time; t = time.process_time(); "
        "from specmodel.prose.report import lint_prose, render_text; "
        "from specmodel.prose.table import load_table; "
        f"r = lint_prose([{str(path)!r}]); render_text(r, load_table()); "
        "print(time.process_time() - t)"
    )
    env = dict(os.environ, SPECMODEL_CACHE_DIR=str(cache_dir))
    times = []
    for _ in range(3):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
        )
        times.append(float(out.stdout))
    assert statistics.median(times) < 0.5, times
    start = time.perf_counter()
    judge(load_table(), [Found(None, "x.", Where("p", 1))], None)
    assert time.perf_counter() - start < 0.5


def test_every_verdict_line_matches_the_table(corpus_dir: Path, cache_dir: Path) -> None:
    """The table's CURRENT wording is what coverage counts and lint finds in v6.7."""
    [report] = lint_prose([str(corpus_dir / V6_7)], runner=ClaimRunner(cache_dir))
    assert all(j.record is not None and CURRENT in j.record.wordings for j in report.judgements)


def test_seed_with_base_before_the_entry(
    corpus_dir: Path, seed_path: Path, cache_dir: Path, tmp_path: Path
) -> None:
    """--base on a quoted reply: the v6.7 file without its mmu_valid_gen entry (and with the
    passthrough line the v3 patch saw) is the file the patch was written against."""
    lines = (corpus_dir / V6_7).read_text(encoding="utf-8").split("\n")
    start, end = lines.index("  mmu_valid_gen:"), lines.index("  gfn:")
    older = "\n".join(lines[:start] + lines[end:])
    assert older.count("(L1 CR4.LA57=0)") == 1
    base = tmp_path / "mmu.rst"
    base.write_text(older.replace("(L1 CR4.LA57=0)", "(L1 CR4.LA57=1)"), encoding="utf-8")
    result = lint("--base", str(base), str(seed_path), cache=cache_dir)
    assert result.returncode == 1, result.stderr
    refuted = next(line for line in result.stdout.splitlines() if ": refuted: " in line)
    assert refuted.startswith(f"{base}:212: refuted: ")
    assert refuted.endswith(f"[{seed_path}:27]")
    assert f"{base}:216: ambiguous: " in result.stdout


def test_progress_only_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from specmodel.prose import judge as judge_module

    class Terminal:
        def __init__(self) -> None:
            self.text = ""

        def isatty(self) -> bool:
            return True

        def write(self, text: str) -> int:
            self.text += text
            return len(text)

        def flush(self) -> None:
            pass

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    judge_module.terminal_progress("running claim x (1/2)")
    assert terminal.text == "specmodel lint: running claim x (1/2) ...\n"
    monkeypatch.undo()
    judge_module.terminal_progress("quiet")
    assert capsys.readouterr().err == ""


def test_format_patch_mbox(corpus_dir: Path, cache_dir: Path, tmp_path: Path) -> None:
    """A ``git format-patch`` message: mail headers, the diff with a/ b/ names, a signature."""
    diff = make_diff(corpus_dir, tmp_path / "c.diff").read_text(encoding="utf-8").split("\n")
    name = "Documentation/virt/kvm/x86/mmu.rst"
    body = [f"--- a/{name}", f"+++ b/{name}", *diff[2:]]
    mbox = tmp_path / "0001-docs.patch"
    mbox.write_text(
        "From 0123456789abcdef0123456789abcdef01234567 Mon Sep 17 00:00:00 2001\n"
        "From: A Developer <dev@example.org>\n"
        "Subject: [PATCH] KVM: Documentation: describe more fields\n\n"
        "Our own commit message.\n---\n"
        f" {name} | 1 +\n\ndiff --git a/{name} b/{name}\n" + "\n".join(body) + "-- \n2.43.0\n",
        encoding="utf-8",
    )
    result = lint("--format", "json", str(mbox), cache=cache_dir)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    [file] = doc["files"]
    assert file["kind"] == "patch" and file["target"] == name
    first = next(s for s in file["sentences"] if s["words"].startswith("The MMU generation of"))
    assert first["target"] == name and first["target_line"] == 212
    assert mbox.read_text().split("\n")[first["line"] - 1].startswith("+")
