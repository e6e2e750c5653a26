"""Tests for ``specmodel explore`` (specmodel.cli.explore), run as a real subprocess."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import specmodel

ROOT = Path(__file__).resolve().parent.parent
STEP = re.compile(r"^\s*(\d+)\. (\S+)\s+(.*)$")


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "specmodel", "explore", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def numbered_steps(stdout: str) -> list[tuple[int, str, str]]:
    return [(int(m[1]), m[2], m[3]) for line in stdout.splitlines() if (m := STEP.match(line))]


def test_a_holding_scenario_exits_0_and_prints_its_figures() -> None:
    """Exit 0, a 'holds' line with states, transitions, depth and time, then the metrics."""
    proc = run("fast_zap", "--vcpus", "1", "--pages", "3", "--batch", "2")
    assert proc.returncode == 0, proc.stderr
    first, second = proc.stdout.splitlines()[:2]
    assert first.startswith("fast_zap(vcpus=1, pages=3, batch=2,")
    assert re.search(r": holds; \d+ states, \d+ transitions, depth \d+, [\d.]+ s$", first)
    assert second.startswith("metrics: max_vcpu_mmu_lock_wait=")
    assert "max_pages_zapped_per_mmu_lock_hold=" in second
    assert proc.stderr == ""


def test_a_long_run_reports_progress_on_stderr_when_asked() -> None:
    """--progress: states, states/s and depth on stderr about once a second."""
    proc = run("fast_zap", "--vcpus", "2", "--pages", "6", "--batch", "1", "--progress")
    assert proc.returncode == 0, proc.stderr
    took = re.search(r", ([\d.]+) s$", proc.stdout.splitlines()[0])
    assert took is not None
    assert float(took[1]) > 1.0, "progress shows after a second: pick a larger run"
    assert re.search(
        r"\d+ distinct states, [\d,]+ distinct states/s, \d+ transitions, depth \d+", proc.stderr
    )


def test_a_mutant_exits_1_with_a_numbered_trace_and_a_replay_call() -> None:
    """Exit 1: the violated invariant, steps 1..N naming thread and operation, replay line."""
    proc = run("fast_zap", "--mutant", "no_reload_request")
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout
    assert "VIOLATED (no_guest_on_obsolete_root_after_request)" in out.splitlines()[0]
    assert "invariant no_guest_on_obsolete_root_after_request violated: expected" in out
    steps = numbered_steps(out)
    assert [n for n, _, _ in steps] == list(range(1, 6))
    assert [t for _, t, _ in steps] == ["zapper"] * 4 + ["vcpu0"]
    assert "mmu_valid_gen 0 -> 1" in steps[2][2]
    replay_line = out.splitlines()[-1]
    assert replay_line.startswith("replay: specmodel.replay(")
    again = eval(replay_line.removeprefix("replay: "), {"specmodel": specmodel})
    assert again.violation.invariant == "no_guest_on_obsolete_root_after_request"
    assert len(again.violation.trace) == 5


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["fast_zapp"], ["unknown scenario 'fast_zapp'", "fast_zap", "page_reclaim"]),
        (
            ["fast_zap", "--mutant", "no_such"],
            ["unknown mutant 'no_such'", "no_reload_request", "pre_2abd5287f083"],
        ),
        (
            ["fast_zap", "--invariant", "kvm.arch.mmu_valid_gen =="],
            ["'kvm.arch.mmu_valid_gen =='", "not a Python expression"],
        ),
        (
            ["fast_zap", "--vcpus", "1", "--pages", "1", "--invariant", "kvm.nope"],
            ["'kvm.nope'", "AttributeError"],
        ),
        (["fast_zap", "--vcpus", "9"], ["vcpus", "0..3", "9"]),
        (["fast_zap", "--param", "steps=3"], ["'steps'", "pages", "vcpus"]),
        (["fast_zap", "--param", "pages=x"], ["pages", "integer", "'x'"]),
        (["fast_zap", "--param", "pages"], ["NAME=VALUE", "'pages'"]),
        (["fast_zap", "--exclude", "no_such"], ["'no_such'", "no_invalid_on_active"]),
        (["fast_zap", "--max-states", "10"], ["fast_zap", "more than 10 states"]),
    ],
    ids=[
        "scenario",
        "mutant",
        "syntax",
        "raises",
        "range",
        "param-name",
        "param-value",
        "param-form",
        "exclude",
        "budget",
    ],
)
def test_bad_input_exits_2_with_a_one_line_error(args: list[str], needles: list[str]) -> None:
    """Exit 2; stderr is one line starting 'specmodel explore: error:', no traceback."""
    proc = run(*args)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("specmodel explore: error: ")
    for needle in needles:
        assert needle in lines[0]


def test_json_output_parses_and_has_the_documented_keys() -> None:
    """--format json: one document (schema specmodel-explore/1) with the Exploration figures."""
    proc = run("fast_zap", "--mutant", "no_reload_request", "--format", "json")
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert doc["schema"] == "specmodel-explore/1"
    assert set(doc) >= {
        "scenario",
        "params",
        "mutant",
        "holds",
        "states",
        "transitions",
        "depth",
        "seconds",
        "exhaustive",
        "metrics",
        "invariants",
        "violation",
    }
    assert doc["scenario"] == "fast_zap"
    assert doc["mutant"] == ["no_reload_request"]
    assert doc["holds"] is False
    assert doc["params"]["pages"] == 4
    assert "max_vcpu_mmu_lock_wait" in doc["metrics"]
    violation = doc["violation"]
    assert violation["invariant"] == "no_guest_on_obsolete_root_after_request"
    assert violation["schedule"] == "0,0,0,0,1"
    assert [s["index"] for s in violation["trace"]] == list(range(1, 6))
    assert set(violation["trace"][0]) == {"index", "thread", "op", "holds", "waits", "mode"}
    held = json.loads(run("fast_zap", "--vcpus", "1", "--format", "json").stdout)
    assert held["holds"] is True
    assert held["violation"] is None


def test_json_output_is_the_same_in_two_processes_with_different_hash_seeds() -> None:
    """Determinism does not depend on PYTHONHASHSEED: same figures, same trace."""
    args = ("concurrent_zaps", "--mutant", "no_slots_lock", "--batch", "2", "--pages", "8")
    docs = [
        json.loads(run(*args, "--format", "json", env={"PYTHONHASHSEED": seed}).stdout)
        for seed in ("1", "2")
    ]
    for doc in docs:
        del doc["seconds"]
    assert docs[0] == docs[1]


def test_an_invariant_expression_and_a_refutable_property_can_be_given() -> None:
    """--invariant takes an expression over kvm or the name of a refuted wording."""
    proc = run("fast_zap", "--vcpus", "1", "--invariant", "kvm.arch.mmu_valid_gen == 0")
    assert proc.returncode == 1
    assert "invariant kvm.arch.mmu_valid_gen == 0 violated" in proc.stdout
    proc = run("fast_zap", "--invariant", "never_enters_on_obsolete_root")
    assert proc.returncode == 1
    assert "enter guest on root sp#0 (obsolete)" in numbered_steps(proc.stdout)[-1][2]


def test_the_random_strategy_is_available_and_seeded() -> None:
    """--strategy random --seed N finds the no_reload_request violation, reproducibly."""
    args = ("fast_zap", "--mutant", "no_reload_request", "--strategy", "random", "--seed", "7")
    first, second = run(*args), run(*args)
    assert first.returncode == second.returncode == 1
    assert numbered_steps(first.stdout) == numbered_steps(second.stdout)
    assert "random walks, not exhaustive" in first.stdout


def test_page_reclaim_on_the_fixed_kernel_exits_0() -> None:
    """`specmodel explore page_reclaim` holds."""
    proc = run("page_reclaim")
    assert proc.returncode == 0, proc.stdout
    assert proc.stdout.startswith("page_reclaim(")
    assert ": holds;" in proc.stdout


def test_page_reclaim_before_the_fix_exits_1_ending_with_the_invalid_page() -> None:
    """--mutant pre_2abd5287f083: the trace ends with FNAME(fetch) linking an INVALID page."""
    proc = run("page_reclaim", "--mutant", "pre_2abd5287f083")
    assert proc.returncode == 1
    assert "invariant no_invalid_on_active violated" in proc.stdout
    steps = numbered_steps(proc.stdout)
    last = steps[-1][2]
    assert last.startswith("FNAME(fetch): linked ")
    assert "INVALID" in last
    page = re.search(r"found (sp#\d+) \(invalid\)", proc.stdout)[1]  # type: ignore[index]
    assert f"{page} (" in last


def test_page_reclaim_past_the_invalid_page_ends_with_the_use_after_free() -> None:
    """--exclude no_invalid_on_active: the explorer goes on to USE-AFTER-FREE."""
    proc = run("page_reclaim", "--mutant", "pre_2abd5287f083", "--exclude", "no_invalid_on_active")
    assert proc.returncode == 1
    assert "invariant no_use_after_free violated" in proc.stdout
    steps = numbered_steps(proc.stdout)
    assert "USE-AFTER-FREE" in steps[-1][2]
    assert any("already invalid: list_add to invalid_list" in op for _, _, op in steps)


def test_other_parameters_pass_through_param() -> None:
    """--param sets scenario parameters beyond --vcpus/--pages/--batch."""
    proc = run("fast_zap", "--param", "preemptible=0", "--param", "entries=1", "--vcpus", "1")
    assert proc.returncode == 0, proc.stderr
    assert "preemptible=0, entries=1" in proc.stdout
    proc = run("page_reclaim", "--param", "steps=3", "--param", "fix_7a2c70e777a0=0")
    assert proc.returncode == 0, proc.stderr
    assert "steps=3" in proc.stdout and "fix_7a2c70e777a0=0" in proc.stdout


def test_top_level_help_lists_every_command_with_examples() -> None:
    """specmodel --help names each command and shows example invocations."""
    proc = subprocess.run(
        [sys.executable, "-m", "specmodel", "--help"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0
    for command in ("check", "claims", "explore", "lint"):
        assert f"    {command} " in proc.stdout
    assert "examples:" in proc.stdout and "specmodel check docs/" in proc.stdout


def test_version_is_printed() -> None:
    """specmodel --version prints the package version."""
    import specmodel

    proc = subprocess.run(
        [sys.executable, "-m", "specmodel", "--version"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"specmodel {specmodel.__version__}"


def test_no_command_is_a_usage_error() -> None:
    """Running specmodel with no command exits 2 and says a command is required."""
    proc = subprocess.run(
        [sys.executable, "-m", "specmodel"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert "COMMAND" in proc.stderr and "Traceback" not in proc.stderr


# -- budgets, JSON errors, progress, workers (issue 14, 18, 19) --------------------------------


def test_the_default_budgets_are_the_sphinx_extensions_defaults(tmp_path: Path) -> None:
    """explore's default --max-states/--time-limit equal specmodel_max_states/_time_limit."""
    from sphinx.application import Sphinx

    from specmodel.cli.explore import DEFAULT_MAX_STATES, DEFAULT_TIME_LIMIT

    (tmp_path / "conf.py").write_text("extensions = ['specmodel.sphinxext']\n")
    (tmp_path / "index.rst").write_text("Title\n=====\n")
    app = Sphinx(
        str(tmp_path),
        str(tmp_path),
        str(tmp_path / "_build"),
        str(tmp_path / "_doctrees"),
        "html",
        status=None,
        warning=None,
        freshenv=True,
    )
    assert app.config.specmodel_max_states == DEFAULT_MAX_STATES
    assert app.config.specmodel_time_limit == DEFAULT_TIME_LIMIT


def test_a_large_run_stops_at_the_default_state_budget_and_says_how_to_raise_it() -> None:
    """No --max-states: the default budget applies; the error names both flags."""
    proc = run("fast_zap", "--vcpus", "3", "--pages", "16", "--batch", "1")
    assert proc.returncode == 2
    assert proc.stdout == ""
    line = proc.stderr.strip()
    assert line.startswith("specmodel explore: error: fast_zap: explored more than 200000 states")
    assert "--max-states N (default 200000)" in line
    assert "--time-limit S (default 120)" in line
    assert "'none' lifts either" in line


def test_none_lifts_the_state_budget() -> None:
    """--max-states none: no budget (a run that needs more than a small one finishes)."""
    assert run("fast_zap", "--vcpus", "1", "--max-states", "20").returncode == 2
    proc = run("fast_zap", "--vcpus", "1", "--max-states", "none")
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize(
    ("args", "kind", "needles"),
    [
        (["fast_zap", "--max-states", "10"], "BudgetExceededError", ["more than 10 states"]),
        (["fast_zapp"], "UnknownNameError", ["unknown scenario 'fast_zapp'"]),
        (["fast_zap", "--max-states", "-5"], "SpecmodelError", ["--max-states", ">= 1", "-5"]),
        (["fast_zap", "--max-states", "lots"], "SpecmodelError", ["--max-states", "'lots'"]),
        (["fast_zap", "--time-limit", "0"], "SpecmodelError", ["--time-limit", "> 0", "'0'"]),
        (["fast_zap", "--workers", "0"], "SpecmodelError", ["--workers", ">= 1", "0"]),
        (["fast_zap", "--vcpus", "two"], "SpecmodelError", ["--vcpus", "'two'"]),
        (
            ["fast_zap", "--vcpus", "1", "--invariant", "kvm.arch.mmu_valid_gen + 1"],
            "InvariantExpressionError",
            ["'kvm.arch.mmu_valid_gen + 1'", "must evaluate to a bool", "found int"],
        ),
    ],
    ids=["budget", "scenario", "negative", "word", "time", "workers", "vcpus", "non-bool"],
)
def test_errors_come_out_as_json_under_format_json(
    args: list[str], kind: str, needles: list[str]
) -> None:
    """--format json: exit 2, stdout one JSON document with error.type and error.message."""
    proc = run(*args, "--format", "json")
    assert proc.returncode == 2
    doc = json.loads(proc.stdout)
    assert doc["schema"] == "specmodel-explore/1"
    assert doc["error"]["type"] == kind
    for needle in needles:
        assert needle in doc["error"]["message"]
    assert proc.stderr.strip() == f"specmodel explore: error: {doc['error']['message']}"


def test_a_non_bool_invariant_is_an_error_naming_the_type_not_a_verdict() -> None:
    """An expression giving an int is neither held nor violated: exit 2, type named."""
    proc = run("fast_zap", "--vcpus", "1", "--invariant", "kvm.arch.mmu_valid_gen + 1")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "must evaluate to a bool (True or False), found int 1" in proc.stderr
    assert "held" not in proc.stderr


#: A run of a few seconds (long enough for progress reports, which start after one).
MEDIUM = ("--vcpus", "2", "--pages", "5", "--batch", "2")


def test_no_progress_in_a_pipe_unless_asked() -> None:
    """stderr is a pipe here: nothing but the result, even for a run over a second."""
    proc = run("fast_zap", *MEDIUM)
    assert proc.returncode == 0
    assert proc.stderr == ""


def test_progress_on_a_terminal_rewrites_one_line_in_colour_unless_no_color() -> None:
    """On a pty: one line rewritten with carriage returns, dim unless NO_COLOR."""
    import pty

    def on_pty(env: dict[str, str]) -> str:
        leader, follower = pty.openpty()
        proc = subprocess.Popen(
            [sys.executable, "-m", "specmodel", "explore", "fast_zap", *MEDIUM],
            stdout=subprocess.PIPE,
            stderr=follower,
            cwd=ROOT,
            env={k: v for k, v in {**os.environ, **env}.items() if v != "<unset>"},
        )
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        proc.wait(timeout=120)
        os.close(leader)
        assert proc.returncode == 0
        return b"".join(chunks).decode()

    coloured = on_pty({"NO_COLOR": "<unset>", "FORCE_COLOR": "<unset>", "TERM": "xterm"})
    assert "\r\x1b[K\x1b[2mspecmodel explore: " in coloured
    assert "distinct states/s" in coloured
    assert coloured.endswith("\r\x1b[K")  # the line is cleared at the end
    plain = on_pty({"NO_COLOR": "1", "TERM": "xterm"})
    assert "\r\x1b[Kspecmodel explore: " in plain
    assert "\x1b[2m" not in plain


def test_progress_in_a_pipe_when_asked_names_random_steps_apart() -> None:
    """--progress in a pipe: plain lines; a swarm reports distinct states and steps walked."""
    proc = run(
        "fast_zap",
        "--vcpus",
        "2",
        "--pages",
        "6",
        "--strategy",
        "swarm",
        "--workers",
        "2",
        "--walks",
        "4",
        "--max-steps",
        "8000",
        "--progress",
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines and all(line.startswith("specmodel explore: ") for line in lines)
    assert "\x1b" not in proc.stderr
    assert re.search(r"\d+ distinct states, .* 8000 steps walked in \d+ walks", lines[-1])
    first = proc.stdout.splitlines()[0]
    assert re.search(r"holds; \d+ distinct states seen, 8000 steps walked in \d+ walks", first)
    assert "2 workers (swarm of random walks, not exhaustive)" in first


def test_workers_shard_the_search_with_the_same_figures() -> None:
    """--workers 2 gives the same states, transitions, depth and metrics as one process."""
    args = ("fast_zap", "--vcpus", "2", "--pages", "4", "--batch", "2", "--format", "json")
    one = json.loads(run(*args).stdout)
    two = json.loads(run(*args, "--workers", "2").stdout)
    assert two["workers"] == 2 and one["workers"] == 1
    for key in ("holds", "states", "transitions", "depth", "metrics", "exhaustive"):
        assert one[key] == two[key], key


def test_json_names_distinct_states_and_steps_walked_apart_for_random_walks() -> None:
    """Random walks: "states" is distinct states; "steps_walked" and "walks" are separate."""
    proc = run("fast_zap", "--strategy", "random", "--max-steps", "2000", "--format", "json")
    doc = json.loads(proc.stdout)
    assert doc["strategy"] == "random" and doc["exhaustive"] is False
    assert doc["steps_walked"] == 2000 == doc["transitions"]
    assert doc["walks"] > 1
    assert 1 < doc["states"] < 2000
