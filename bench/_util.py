"""Shared helpers for the benchmarks: run a measurement in a fresh process, take medians."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable


def baseline_seconds(n: int = 200_000) -> float:
    """A fixed Python workload (build, hash and store tuples) timed in this run, so figures
    can be given as ratios that machine noise affects less."""
    start = time.perf_counter()
    seen = {}
    for i in range(n):
        seen[(i, (i & 7, i >> 3), (0, 1, 2))] = i
    return time.perf_counter() - start


def median_of(runs: int, fn: Callable[[], float]) -> float:
    return statistics.median(fn() for _ in range(runs))


def in_subprocess(code: str) -> dict[str, object]:
    """Run ``code`` (which prints one JSON object) in a fresh interpreter; add its peak RSS."""
    wrapper = (
        "import json, resource, sys\n"
        f"{code}\n"
        "result['peak_rss_kib'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(json.dumps(result))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", wrapper], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]
