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


#: Prelude of every measured child: ``_status_kib(field)`` reads /proc/self/status. Not
#: ``ru_maxrss``: Linux carries it over from the parent across fork and exec, so a child of a
#: large benchmark process would report the parent's size as its own peak.
_PRELUDE = (
    "def _status_kib(field):\n"
    "    with open('/proc/self/status') as f:\n"
    "        for line in f:\n"
    "            if line.startswith(field + ':'):\n"
    "                return int(line.split()[1])\n"
    "    raise RuntimeError(field + ' not in /proc/self/status')\n"
)


def in_subprocess(
    code: str, python: str = sys.executable, cwd: str | None = None
) -> dict[str, object]:
    """Run ``code`` (which sets ``result``, a dict) in a fresh interpreter (``python``, in
    folder ``cwd``); add its peak resident memory. ``code`` may call
    ``_status_kib('VmRSS')`` for a baseline."""
    wrapper = (
        "import json, sys\n"
        f"{_PRELUDE}"
        f"{code}\n"
        "result['peak_rss_kib'] = _status_kib('VmHWM')\n"
        "print(json.dumps(result))\n"
    )
    out = subprocess.run(
        [python, "-c", wrapper], capture_output=True, text=True, check=True, cwd=cwd
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]
