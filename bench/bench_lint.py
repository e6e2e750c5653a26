"""Time ``specmodel lint`` on one mmu.rst: median of N in-process runs, plus one CLI run.

Usage: python bench/bench_lint.py FILE.rst [N]   (N defaults to 50)
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from specmodel.lint import default_catalog, lint_file


def main(argv: list[str]) -> int:
    if not argv or len(argv) > 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    path, runs = argv[0], int(argv[1]) if len(argv) == 2 else 50
    start = time.perf_counter()
    default_catalog()  # the first call builds the field list from the models
    catalog_s = time.perf_counter() - start
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        report = lint_file(path)
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    cli = subprocess.run(
        [sys.executable, "-m", "specmodel", "lint", path], capture_output=True, check=False
    )
    cli_s = time.perf_counter() - start
    print(
        f"lint {path}: median {statistics.median(times) * 1e3:.3f} ms over {runs} runs "
        f"(min {min(times) * 1e3:.3f} ms, max {max(times) * 1e3:.3f} ms; exit {report.exit_code}); "
        f"catalog from models {catalog_s * 1e3:.1f} ms once; "
        f"'python -m specmodel lint' end to end {cli_s * 1e3:.0f} ms (exit {cli.returncode})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
