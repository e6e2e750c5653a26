"""Build time of the project's docs: cold, warm and after a one-line prose change, each as a
ratio to the same docs built without specmodel's extension in the same run; the cold build
on one worker process and on every core (``specmodel_workers``); then ``specmodel check
docs/`` cold and warm against ``sphinx-build`` of the same docs.

Wall seconds are medians of ``--runs`` rounds; each round runs every variant once, so the
ratios compare builds made under the same load. CPU seconds (the build and its worker
processes) are printed too, for every variant: on a shared machine they move less than wall
time; so is the least time the cold build could take on idle cores (its CPU seconds over the
cores), as a ratio to the plain build's CPU seconds. Last, where
the checks' time went (per scenario, and the longest checks) in the one-worker build. A
build that fails stops the benchmark with its output.

Usage: python bench/bench_docs.py [--runs 3]   (from the repository root)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


#: CPU seconds of the last timed() command, its worker processes included
LAST_CPU = [0.0]


def timed(cmd: list[str], cwd: Path) -> float:
    """Wall seconds of ``cmd``, which must succeed (a failed build would time nothing)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(
            f"bench_docs: {' '.join(cmd)} failed (exit {done.returncode}):\n"
            + "\n".join((done.stdout + done.stderr).splitlines()[-20:])
        )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    LAST_CPU[0] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall


def sphinx(src: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "sphinx",
        "-q",
        "-c",
        str(src),
        str(src / "docs"),
        str(out),
        *extra,
    ]


def _three(work: Path, out: Path, *extra: str) -> dict[str, float]:
    """Cold (-E), warm (nothing changed), after a one-line prose change: wall and CPU."""
    found = {"cold": timed(sphinx(work, out, "-E", *extra), work), "cold_cpu": LAST_CPU[0]}
    found.update(warm=timed(sphinx(work, out, *extra), work), warm_cpu=LAST_CPU[0])
    index = work / "docs" / "index.rst"
    original = index.read_text()
    index.write_text(original + "\nOne more sentence of prose.\n")
    found.update(prose=timed(sphinx(work, out, *extra), work), prose_cpu=LAST_CPU[0])
    index.write_text(original)
    return found


def breakdown(cache: Path, top: int = 8) -> str:
    """Where a build's check time went, from the entries it cached: seconds per scenario
    (of each check's first exploration) and the longest checks."""
    entries = []
    for path in cache.glob("*.json"):
        outcome = json.loads(path.read_text())["outcome"]
        first = outcome["summary"][0] if outcome["summary"] else "?"
        scenario = first.split("(")[0] if "(" in first else "spec:run"
        entries.append((float(outcome["seconds"]), int(outcome["states"]), scenario, first))
    total = sum(e[0] for e in entries)
    by: dict[str, float] = {}
    for seconds, _, scenario, _ in entries:
        by[scenario] = by.get(scenario, 0.0) + seconds
    lines = [f"{len(entries)} checks, {total:.2f} s in all (as each measured itself):"]
    lines += [f"  {s:<16} {v:6.2f} s" for s, v in sorted(by.items(), key=lambda x: -x[1])]
    lines.append(f"the {top} longest:")
    for seconds, states, _, first in sorted(entries, reverse=True)[:top]:
        shown = first if len(first) <= 110 else f"{first[:40]} ... {first[-66:]}"
        lines.append(f"  {seconds:5.2f} s {states:7d} states  {shown}")
    return "\n".join(lines)


def one_round(work: Path) -> dict[str, float]:
    plain = _three(work, work / "plain", "-D", "extensions=sphinx.ext.autodoc")
    ours = _three(work, work / "html", "-D", f"specmodel_cache_dir={work / 'cache'}")
    one = timed(
        sphinx(
            work,
            work / "html1",
            "-E",
            "-D",
            f"specmodel_cache_dir={work / 'cache1'}",
            "-D",
            "specmodel_workers=1",
        ),
        work,
    )
    one_cpu = LAST_CPU[0]
    shutil.rmtree(work / "docs" / "_build", ignore_errors=True)
    report = work / "report.json"
    check_cold = timed(
        [
            sys.executable,
            "-m",
            "specmodel",
            "check",
            "--fresh",
            "--format",
            "json",
            "--output",
            str(report),
            "docs",
        ],
        work,
    )
    states = float(json.loads(report.read_text())["summary"]["states"])
    check_warm = timed([sys.executable, "-m", "specmodel", "check", "docs"], work)
    return {
        **{f"plain_{k}": v for k, v in plain.items()},
        **ours,
        "cold_one_worker": one,
        "cold_one_worker_cpu": one_cpu,
        "check_cold": check_cold,
        "check_warm": check_warm,
        "states": states,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    cores = (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )
    load_before = os.getloadavg()[0]
    rounds = []
    where = ""
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp) / "repo"
            shutil.copytree(
                ROOT,
                work,
                ignore=shutil.ignore_patterns(
                    ".git", ".venv", "_build", ".specmodel_cache", "__pycache__"
                ),
            )
            rounds.append(one_round(work))
            # the one-worker build's own timings: no other check shares the cores with it
            where = breakdown(work / "cache1")
            raw = ", ".join(f"{k} {v:.2f}" for k, v in rounds[-1].items())
            print(f"round {len(rounds)}: {raw}", flush=True)
    med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    print(
        f"{cores} cores; load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} "
        f"after; medians of {args.runs} rounds"
    )
    for key, title in (
        ("cold", "cold build, every check run"),
        ("warm", "warm, nothing changed"),
        ("prose", "after a one-line prose change"),
    ):
        plain = med[f"plain_{key}"]
        print(
            f"{title}: {med[key]:.2f} s = {med[key] / plain:.2f} x the plain build's "
            f"{plain:.2f} s (same docs without the extension)"
        )
    print(
        f"cold build on 1 worker process: {med['cold_one_worker']:.2f} s = "
        f"{med['cold_one_worker'] / med['plain_cold']:.2f} x plain; every core "
        f"({cores}): {med['cold'] / med['cold_one_worker']:.2f} x the 1-worker time"
    )
    for key in ("cold", "warm", "prose"):
        plain_cpu, cpu = med[f"plain_{key}_cpu"], med[f"{key}_cpu"]
        print(
            f"CPU seconds, {key}: plain {plain_cpu:.2f}, specmodel {cpu:.2f} "
            f"({cpu / plain_cpu:.2f} x)"
            + (f", on 1 worker {med['cold_one_worker_cpu']:.2f}" if key == "cold" else "")
        )
    # what no scheduling can beat: the cold build's CPU seconds spread over every core, as a
    # ratio to the plain build's CPU seconds (its wall time on an idle machine)
    bound = med["cold_cpu"] / cores
    print(
        f"on {cores} idle cores the cold build needs at least {bound:.2f} s (its CPU seconds / "
        f"{cores}) = {bound / med['plain_cold_cpu']:.2f} x the plain build's CPU seconds"
    )
    print(f"states explored by a cold build: {int(med['states'])}")
    print(f"checks of the last round's one-worker build: {where}")
    print(
        f"specmodel check docs/ cold: {med['check_cold']:.2f} s = "
        f"{med['check_cold'] / med['cold']:.2f} x sphinx-build cold"
    )
    print(
        f"specmodel check docs/ warm: {med['check_warm']:.2f} s = "
        f"{med['check_warm'] / med['warm']:.2f} x sphinx-build warm"
    )


if __name__ == "__main__":
    main()
