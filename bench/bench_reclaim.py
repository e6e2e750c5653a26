"""page_reclaim: exhausting the fixed kernel, and finding CVE-2026-64561 on the old one.

Usage: python bench/bench_reclaim.py [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics

from _util import baseline_seconds, in_subprocess

CODE = """
from specmodel import explore
base = _status_kib('VmRSS')
e = explore('page_reclaim', mutant={mutant!r}, exclude={exclude!r})
result = dict(states=e.states, seconds=e.seconds, holds=e.holds, base_rss_kib=base,
              violation=e.violation.invariant if e.violation else None,
              trace=len(e.violation.trace) if e.violation else 0)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"baseline: {baseline_seconds():.3f} s for 200k tuple inserts")
    cases = [
        ("fixed kernel, exhaust", None, ()),
        ("pre_2abd5287f083, first violation", "pre_2abd5287f083", ()),
        ("pre_2abd5287f083, use-after-free", "pre_2abd5287f083", ("no_invalid_on_active",)),
    ]
    for title, mutant, exclude in cases:
        rows = [
            in_subprocess(CODE.format(mutant=mutant, exclude=exclude)) for _ in range(args.runs)
        ]
        seconds = statistics.median(float(r["seconds"]) for r in rows)  # type: ignore[arg-type]
        r = rows[0]
        mem = (int(r["peak_rss_kib"]) - int(r["base_rss_kib"])) / 1024  # type: ignore[call-overload]
        print(
            f"{title}: {r['states']} states, median {seconds:.2f} s, peak +{mem:.0f} MiB, "
            f"holds={r['holds']}, violation={r['violation']}, trace {r['trace']} steps"
        )


if __name__ == "__main__":
    main()
