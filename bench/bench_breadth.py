"""guest_pt_writes (shadow pages in full): states, median seconds and bytes per stored state.

Usage: python bench/bench_breadth.py [--runs 3] [--compare REV]

Rows for the new scenario at its default and larger bounds, then (with ``--compare``) the
existing scenarios timed on this tree and on a worktree of REV in the same run, as a ratio,
to check that the shadow-page invariants (vacuous outside guest_pt_writes) cost them little.
One core; compare ratios between runs, not seconds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _util import in_subprocess

CODE = """
from specmodel import explore
base = _status_kib('VmRSS')
e = explore({scenario!r}, **{params!r})
result = dict(states=e.states, transitions=e.transitions, seconds=e.seconds, holds=e.holds,
              base_rss_kib=base)
"""

ROWS = (
    ("guest_pt_writes", {"vcpus": 1, "width": 2, "steps": 3}),
    ("guest_pt_writes", {"vcpus": 1, "width": 2, "steps": 4}),
    ("guest_pt_writes", {"vcpus": 1, "width": 3, "steps": 3}),
    ("guest_pt_writes", {"vcpus": 2, "width": 2, "steps": 2}),
)
EXISTING = (
    ("fast_zap", {"vcpus": 2, "pages": 8, "batch": 10}),
    ("fast_zap_tdp", {"vcpus": 2, "pages": 4, "batch": 2}),
    ("concurrent_zaps", {"vcpus": 0, "pages": 8, "batch": 2}),
    ("page_reclaim", {"vcpus": 1, "steps": 4}),
)


def measure(scenario: str, params: dict[str, int], runs: int) -> tuple[int, float, float]:
    rows = [in_subprocess(CODE.format(scenario=scenario, params=params)) for _ in range(runs)]
    seconds = statistics.median(float(r["seconds"]) for r in rows)  # type: ignore[arg-type]
    states = int(rows[0]["states"])  # type: ignore[call-overload]
    grown = statistics.median(
        (int(x["peak_rss_kib"]) - int(x["base_rss_kib"])) * 1024  # type: ignore[call-overload]
        for x in rows
    )
    return states, seconds, grown / max(states, 1)


def timed_elsewhere(tree: Path, scenario: str, params: dict[str, int], runs: int) -> float:
    code = (
        "import statistics, sys; from specmodel import explore; "
        f"print(statistics.median(explore({scenario!r}, **{params!r}).seconds "
        f"for _ in range({runs})))"
    )
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return float(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--compare", help="a git revision to compare the existing scenarios with")
    args = parser.parse_args()
    for scenario, params in ROWS:
        states, seconds, per_state = measure(scenario, params, args.runs)
        label = ", ".join(f"{k}={v}" for k, v in params.items())
        print(
            f"{scenario}({label}): {states} states, median {seconds:.2f} s, "
            f"{per_state:.0f} bytes/state"
        )
    if not args.compare:
        return
    here = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as tmp:
        other = Path(tmp) / "other"
        subprocess.run(
            ["git", "-C", str(here), "worktree", "add", "--detach", str(other), args.compare],
            check=True,
            capture_output=True,
        )
        try:
            for scenario, params in EXISTING:
                new = timed_elsewhere(here, scenario, params, args.runs)
                old = timed_elsewhere(other, scenario, params, args.runs)
                label = ", ".join(f"{k}={v}" for k, v in params.items())
                print(
                    f"{scenario}({label}): {new:.2f} s here, {old:.2f} s at "
                    f"{args.compare}, ratio {new / old:.2f}"
                )
        finally:
            subprocess.run(
                ["git", "-C", str(here), "worktree", "remove", "--force", str(other)],
                check=True,
                capture_output=True,
            )


if __name__ == "__main__":
    main()
