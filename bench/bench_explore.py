"""Explorer throughput: distinct states per second, memory per stored state, and the same
figures as ratios to the pure-Python BFS ceiling (../shared/bench/ceiling.py) timed in the
same run.

Usage: python bench/bench_explore.py [--runs 3] [--time-limit 60] [--src DIR] [--only NAME]
       [--installed PYTHON]

Each case runs in a fresh interpreter. A case that does not finish within ``--time-limit``
is reported with the figures of its last progress report (marked "partial"). ``--src`` runs
another source tree (e.g. an export of main) for before/after tables. The machine's load
moves the seconds; the ratio to the ceiling, measured before and after each case, moves
less: compare those.

``--installed PYTHON`` also runs every case with the specmodel installed for ``PYTHON`` (a
venv with the mypyc-compiled wheel, say: ``python -m venv /tmp/c && /tmp/c/bin/pip install
.``), from a folder outside any source tree, alternating with the ``--src`` runs, and prints
the same-run ratio of its states/s to theirs (the compiled build's speedup).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _util import in_subprocess

ROOT = Path(__file__).resolve().parent.parent
# ../shared beside the clone (CI's layout); the first parent that has it, wherever the clone is
CEILING = next(
    (
        p / "shared" / "bench" / "ceiling.py"
        for p in ROOT.parents
        if (p / "shared" / "bench" / "ceiling.py").is_file()
    ),
    ROOT.parent / "shared" / "bench" / "ceiling.py",
)

CODE = """
import sys, time
if {src!r} is not None:
    sys.path.insert(0, {src!r})
import specmodel
from specmodel import explore
from specmodel.errors import BudgetExceededError
base = _status_kib('VmRSS')
last = []
start = time.perf_counter()
kwargs = dict({kwargs!r})
try:
    e = explore({scenario!r}, time_limit={limit!r}, max_states=None,
                progress=last.append, **kwargs)
    result = dict(states=e.states, transitions=e.transitions, seconds=e.seconds,
                  holds=e.holds, partial=False, depth=e.depth)
except BudgetExceededError:
    info = last[-1]
    result = dict(states=info.states, transitions=info.transitions, seconds=info.seconds,
                  holds=None, partial=True, depth=info.depth)
result['base_rss_kib'] = base
result['compiled'] = bool(getattr(specmodel, 'compiled', False))
"""

#: (label, scenario, explore() keyword arguments)
CASES: list[tuple[str, str, dict[str, object]]] = [
    ("fast_zap 2v x 16p b10", "fast_zap", {"vcpus": 2, "pages": 16, "batch": 10}),
    ("concurrent_zaps 2v x 24p", "concurrent_zaps", {"vcpus": 2, "pages": 24}),
    ("page_reclaim 2v steps=3", "page_reclaim", {"vcpus": 2, "steps": 3}),
    (
        "fast_zap 2v x 16p b10, 2 workers",
        "fast_zap",
        {"vcpus": 2, "pages": 16, "batch": 10, "workers": 2},
    ),
]


def ceiling_rate(states: int = 200_000) -> float:
    out = subprocess.run(
        [sys.executable, str(CEILING), str(states)], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"-> ([\d,]+) states/s", out)
    assert match is not None, out
    return float(match[1].replace(",", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of the cases under 60 s")
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--src", default=str(ROOT), help="source tree to import specmodel from")
    parser.add_argument("--only", help="run only cases whose label contains this")
    parser.add_argument(
        "--installed",
        metavar="PYTHON",
        help="also run each case with PYTHON's installed specmodel (e.g. the compiled wheel)",
    )
    args = parser.parse_args()
    src = os.path.abspath(args.src)
    print(f"source: {src}")
    if args.installed:
        print(f"installed: {args.installed}")
    print(
        "| case | states | seconds | states/s | bytes/state | ceiling states/s | ratio |\n"
        "|---|---|---|---|---|---|---|"
    )
    away = tempfile.mkdtemp()  # the installed runs start here: no source tree on sys.path
    for label, scenario, kwargs in CASES:
        if args.only and args.only not in label:
            continue
        if "workers" in kwargs and "explorer/sharded.py" not in _files(src):
            continue
        variants: dict[str, tuple[str, str | None, str | None]] = {"": (sys.executable, src, None)}
        if args.installed:
            variants[" [installed]"] = (args.installed, None, away)
        rows: dict[str, list[dict[str, object]]] = {v: [] for v in variants}
        ceilings = [ceiling_rate()]
        for _ in range(args.runs):
            for variant, (python, tree, cwd) in variants.items():
                code = CODE.format(
                    src=tree, kwargs=kwargs, scenario=scenario, limit=args.time_limit
                )
                rows[variant].append(in_subprocess(code, python=python, cwd=cwd))
                ceilings.append(ceiling_rate())
            last = [r[-1] for r in rows.values()]
            if any(r["partial"] or float(r["seconds"]) > 60 for r in last):  # type: ignore[arg-type]
                break  # one long run is enough (and all the machine can spare)
        ceiling = statistics.median(ceilings)
        rates = {v: _row(label + v, r, ceiling) for v, r in rows.items()}
        if args.installed:
            compiled = {bool(r["compiled"]) for r in rows[" [installed]"]}
            speedup = rates[" [installed]"] / rates[""]
            print(
                f"same-run ratio installed/source states/s: {speedup:.2f} "
                f"(installed build {'compiled' if compiled == {True} else 'pure Python'})",
                flush=True,
            )


def _row(label: str, rows: list[dict[str, object]], ceiling: float) -> float:
    """Print the table row of one case's runs; return the median states/s."""
    rates = [int(r["states"]) / float(r["seconds"]) for r in rows]  # type: ignore[call-overload, arg-type]
    rate: float = statistics.median(rates)
    row = rows[rates.index(rate)] if rate in rates else rows[0]
    grown = statistics.median(
        (int(r["peak_rss_kib"]) - int(r["base_rss_kib"])) * 1024 / int(r["states"])  # type: ignore[call-overload]
        for r in rows
    )
    partial = " (partial)" if row["partial"] else ""
    print(
        f"| {label} | {row['states']}{partial} | {float(row['seconds']):.1f} | "  # type: ignore[arg-type]
        f"{rate:,.0f} | {grown:.0f} | {ceiling:,.0f} | {rate / ceiling:.3f} |",
        flush=True,
    )
    return rate


def _files(src: str) -> str:
    return " ".join(str(p.relative_to(src)) for p in Path(src, "specmodel").rglob("*.py"))


if __name__ == "__main__":
    main()
