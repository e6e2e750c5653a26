"""Explorer throughput: distinct states per second and memory per stored state.

Usage: python bench/bench_explore.py [--pages 4,8,16,24] [--runs 3]

For fast_zap with 2 vCPUs and each page count, and for concurrent_zaps, reports the
distinct states, transitions, the median wall time of ``--runs`` runs, states per second
(also as a ratio to a fixed Python baseline timed in the same run), and the peak memory of a
fresh process per stored state. One core; the numbers vary with the machine's load, so
compare the ratios between runs, not the seconds.
"""

from __future__ import annotations

import argparse
import statistics

from _util import baseline_seconds, in_subprocess

CODE = """
import time
from specmodel import explore
base = _status_kib('VmRSS')
e = explore({scenario!r}, symmetry={symmetry}, **{params!r})
result = dict(states=e.states, transitions=e.transitions, seconds=e.seconds, holds=e.holds,
              base_rss_kib=base, metrics=dict(e.metrics))
"""


def measure(scenario: str, params: dict[str, int], runs: int, symmetry: bool = True) -> None:
    rows = [
        in_subprocess(CODE.format(scenario=scenario, params=params, symmetry=symmetry))
        for _ in range(runs)
    ]
    seconds = statistics.median(float(r["seconds"]) for r in rows)  # type: ignore[arg-type]
    r = rows[0]
    states = int(r["states"])  # type: ignore[call-overload]
    grown = statistics.median(
        (int(x["peak_rss_kib"]) - int(x["base_rss_kib"])) * 1024  # type: ignore[call-overload]
        for x in rows
    )
    base_rate = 200_000 / baseline_seconds()
    rate = states / seconds if seconds else 0.0
    label = ", ".join(f"{k}={v}" for k, v in params.items())
    print(
        f"{scenario}({label}) symmetry={symmetry}: {states} states, {r['transitions']} "
        f"transitions, median {seconds:.2f} s, {rate:,.0f} states/s "
        f"({rate / base_rate:.3f} x the baseline's inserts/s), {grown / max(states, 1):.0f} "
        f"bytes/state, metrics {r['metrics']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", default="4,8,16,24")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"baseline: {baseline_seconds():.3f} s for 200k tuple inserts")
    for pages in (int(p) for p in args.pages.split(",")):
        measure(
            "fast_zap", {"vcpus": 2, "pages": pages, "batch": 10}, args.runs if pages <= 16 else 1
        )
    measure("fast_zap", {"vcpus": 2, "pages": 8, "batch": 10}, 1, symmetry=False)
    measure("concurrent_zaps", {"vcpus": 0, "pages": 8, "batch": 2}, args.runs)
    measure("concurrent_zaps", {"vcpus": 1, "pages": 8, "batch": 2}, 1)


if __name__ == "__main__":
    main()
