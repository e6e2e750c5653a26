"""page_reclaim: exhausting the fixed kernel, finding CVE-2026-64561 on the old one, and the
two-vCPU configurations past one process (sharded BFS, swarm).

Usage: python bench/bench_reclaim.py [--runs 3] [--time-limit 60] [--only TEXT]

Each case runs in a fresh interpreter; a case over ``--time-limit`` is reported with the
figures of its last progress report (marked "partial").
"""

from __future__ import annotations

import argparse
import statistics

from _util import baseline_seconds, in_subprocess

CODE = """
from specmodel import explore
from specmodel.errors import BudgetExceededError
base = _status_kib('VmRSS')
last = []
try:
    e = explore('page_reclaim', time_limit={limit!r}, progress=last.append, **{kwargs!r})
    result = dict(states=e.states, seconds=e.seconds, holds=e.holds, partial=False,
                  violation=e.violation.invariant if e.violation else None,
                  trace=len(e.violation.trace) if e.violation else 0,
                  steps=e.steps_walked)
except BudgetExceededError:
    info = last[-1]
    result = dict(states=info.states, seconds=info.seconds, holds=None, partial=True,
                  violation=None, trace=0, steps=info.steps)
result['base_rss_kib'] = base
"""

CASES: list[tuple[str, dict[str, object]]] = [
    ("fixed kernel, 1 vCPU, exhaust", {}),
    ("pre_2abd5287f083, first violation", {"mutant": "pre_2abd5287f083"}),
    (
        "pre_2abd5287f083, use-after-free",
        {"mutant": "pre_2abd5287f083", "exclude": ("no_invalid_on_active",)},
    ),
    ("fixed kernel, 2 vCPUs, steps=3", {"vcpus": 2, "steps": 3, "max_states": None}),
    (
        "fixed kernel, 2 vCPUs, steps=3, 2 workers",
        {"vcpus": 2, "steps": 3, "max_states": None, "workers": 2},
    ),
    (
        "pre_2abd5287f083, 2 vCPUs, swarm of 8 (2 workers)",
        {
            "vcpus": 2,
            "mutant": "pre_2abd5287f083",
            "strategy": "swarm",
            "workers": 2,
            "walks": 8,
            "max_steps": 80_000,
        },
    ),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--only")
    args = parser.parse_args()
    print(f"baseline: {baseline_seconds():.3f} s for 200k tuple inserts")
    for title, kwargs in CASES:
        if args.only and args.only not in title:
            continue
        rows = []
        for _ in range(args.runs):
            rows.append(in_subprocess(CODE.format(kwargs=kwargs, limit=args.time_limit)))
            if rows[-1]["partial"] or float(rows[-1]["seconds"]) > 30:  # type: ignore[arg-type]
                break
        seconds = statistics.median(float(r["seconds"]) for r in rows)  # type: ignore[arg-type]
        r = rows[0]
        states = int(r["states"])  # type: ignore[call-overload]
        mem = (int(r["peak_rss_kib"]) - int(r["base_rss_kib"])) * 1024  # type: ignore[call-overload]
        partial = " (partial: time limit)" if r["partial"] else ""
        print(
            f"{title}: {states} states{partial}, median {seconds:.2f} s, "
            f"{states / seconds:,.0f} states/s, peak +{mem / 2**20:.0f} MiB "
            f"({mem / max(states, 1):.0f} B/state), holds={r['holds']}, "
            f"violation={r['violation']}, trace {r['trace']} steps, {r['steps']} steps walked",
            flush=True,
        )


if __name__ == "__main__":
    main()
