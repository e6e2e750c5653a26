"""Every check runs in a worker process of its own: a pristine model for each directive, the
same verdicts serial and under ``-j``, and a hard time limit that no block can defeat."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from spec_helpers import line_of, spec_errors, verdicts

from specmodel.sphinxext import pool
from specmodel.sphinxext.records import Job

CONF = """\
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
extensions = ["specmodel.sphinxext"]
"""

#: A claim of the user's own (not in checks/) that reads the constants when it runs.
MYCLAIMS = """\
import specmodel.kernel as kernel
from specmodel.claims import ClaimContext, claim


@claim(
    statement="A fast zap yields after BATCH_ZAP_PAGES = 10 pages.",
    scenarios=("fast_zap",),
    mutants=("no_yield",),
)
def batch_is_ten(ctx: ClaimContext) -> None:
    batch = kernel.CONSTANTS["BATCH_ZAP_PAGES"]
    ctx.require(batch == 10, f"expected BATCH_ZAP_PAGES = 10, found {batch}")
    ctx.require_holds(ctx.explore("fast_zap", vcpus=1, pages=2))
"""

PATCHES = """\
Patches
=======

.. spec:run::

   import specmodel.kernel as kernel
   kernel.CONSTANTS["BATCH_ZAP_PAGES"] = 1
   kernel.BATCH_ZAP_PAGES = 1
   import specmodel.kernel.config as config
   config.Config.batch = 1

.. spec:run::

   import specmodel.kernel as kernel
   assert BATCH_ZAP_PAGES == 10, f"a pristine model has 10, found {BATCH_ZAP_PAGES}"
   assert kernel.BATCH_ZAP_PAGES == 10
"""

DEPENDS = """\
Depends
=======

.. spec:claim:: myclaims.batch_is_ten

   A zap yields every :spec:value:`BATCH_ZAP_PAGES = 10` pages.

.. spec:run::

   import specmodel.kernel as kernel
   assert kernel.CONSTANTS["BATCH_ZAP_PAGES"] == 10

.. spec:invariant:: kvm.arch.mmu_valid_gen in (0, 1)
   :vcpus: 1
   :pages: 2
"""


def write_project(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


def isolation_project(root: Path) -> Path:
    return write_project(
        root,
        {
            "conf.py": CONF,
            "myclaims.py": MYCLAIMS,
            "index.rst": "Index\n=====\n\n.. toctree::\n\n   a_patches\n   b_depends\n",
            "a_patches.rst": PATCHES,
            "b_depends.rst": DEPENDS,
        },
    )


def _summary(app: Any) -> list[tuple[str, int, str, str, str]]:
    return [
        (Path(v.path).name, v.line, v.kind, v.status, v.message)
        for v in verdicts(app)
        if v.kind in ("claim", "invariant", "run", "value")
    ]


def test_a_patched_model_never_leaks_into_later_checks_serial_or_parallel(
    make_app: Any, tmp_path: Path
) -> None:
    """a_patches.rst patches CONSTANTS, the module constant and the Config default; the
    checks after it, in the same and in the next document, still see the kernel's 10."""
    serial_src = isolation_project(tmp_path / "serial")
    serial = make_app("html", srcdir=serial_src, freshenv=True)
    serial.build()
    assert spec_errors(serial) == []
    assert serial.statuscode == 0
    found = _summary(serial)
    assert [(name, kind, status) for name, _, kind, status, _ in found] == [
        ("a_patches.rst", "run", "held"),
        ("a_patches.rst", "run", "held"),
        ("b_depends.rst", "claim", "held"),
        ("b_depends.rst", "value", "held"),
        ("b_depends.rst", "run", "held"),
        ("b_depends.rst", "invariant", "held"),
    ]

    parallel_src = isolation_project(tmp_path / "parallel")
    parallel = make_app("html", srcdir=parallel_src, freshenv=True, parallel=4)
    parallel.build()
    assert parallel.parallel == 4 and parallel.is_parallel_allowed("read")
    assert _summary(parallel) == found
    assert parallel.statuscode == 0


def test_a_patch_that_leaks_is_seen_in_its_own_block_only(make_app: Any, tmp_path: Path) -> None:
    """The patching block itself does see its patch (the check is real, not a no-op)."""
    src = write_project(
        tmp_path / "own",
        {
            "conf.py": CONF,
            "index.rst": "Own\n===\n\n.. spec:run::\n\n"
            "   import specmodel.kernel as kernel\n"
            "   kernel.CONSTANTS['BATCH_ZAP_PAGES'] = 1\n"
            "   assert kernel.CONSTANTS['BATCH_ZAP_PAGES'] == 10, 'patched'\n",
        },
    )
    app = make_app("html", srcdir=src, freshenv=True)
    app.build()
    index = src / "index.rst"
    assert spec_errors(app) == [
        f"{index}:{line_of(index, 'patched')}: ERROR: spec:run block diverges from the model: "
        "the prose expects it to run without error; it raised AssertionError at line "
        f"{line_of(index, 'patched')}: patched [spec.divergence]"
    ]


ESCAPES = """\
Escapes
=======

.. spec:run::

   while True:
       try:
           while True:
               pass
       except BaseException:
           pass

.. spec:run::

   raise KeyboardInterrupt

.. spec:run::

   raise SystemExit(3)

.. spec:run::

   import os
   os._exit(0)

.. spec:run::

   import ctypes
   ctypes.string_at(0)

.. spec:run::

   assert BATCH_ZAP_PAGES == 10
"""


def test_blocks_that_escape_the_time_limit_or_kill_their_process_are_located_errors(
    make_app: Any, tmp_path: Path
) -> None:
    """A loop that swallows the alarm is killed at its limit; KeyboardInterrupt and
    SystemExit are exceptions like any other; os._exit and a segfault end only their worker.
    The build goes on and the last block is still checked."""
    src = write_project(
        tmp_path / "escapes",
        {"conf.py": CONF + "specmodel_time_limit = 0.5\n", "index.rst": ESCAPES},
    )
    app = make_app("html", srcdir=src, freshenv=True)
    started = time.monotonic()
    app.build()
    elapsed = time.monotonic() - started
    index = src / "index.rst"

    def at(text: str, nth: int = 1) -> str:
        return f"{index}:{line_of(index, text, nth)}: ERROR: "

    assert spec_errors(app) == [
        at(".. spec:run::", 1) + "spec:run block ran longer than its time limit of 0.5 s "
        "(specmodel_time_limit) and was stopped [spec.error]",
        at("raise KeyboardInterrupt")
        + f"spec:run block raised KeyboardInterrupt at line {line_of(index, 'raise Keyboard')}"
        " [spec.error]",
        at("raise SystemExit")
        + f"spec:run block raised SystemExit at line {line_of(index, 'raise SystemExit')}: "
        "exit status 3 [spec.error]",
        at(".. spec:run::", 4) + "spec:run block ended the worker process running it (exit "
        "status 0) before it reported a verdict; a check must not call os._exit() [spec.error]",
        at(".. spec:run::", 5) + "spec:run block crashed the worker process running it "
        "(SIGSEGV) before it reported a verdict [spec.error]",
    ]
    assert [v.status for v in verdicts(app)][-1] == "held"
    assert app.statuscode == 1
    loop = verdicts(app)[0]
    assert 0.5 <= loop.seconds <= 0.5 + pool.grace(0.5) + 1.0
    assert elapsed < 60  # nothing hung (the limit plus its grace, plus the build itself)
    assert "Traceback" not in app.warning.getvalue()


def _job(n: int, code: str) -> Job:
    return Job(
        kind="run",
        ident=f"doc#{n}",
        docname="doc",
        path="/doc.rst",
        line=n * 10,
        target="spec:run block",
        options=(),
        code=textwrap.dedent(code),
        first_line=n * 10 + 2,
        what="spec:run block",
        max_states=200_000,
        time_limit=30.0,
    )


def test_the_pool_gives_the_same_outcomes_on_one_worker_and_on_several() -> None:
    """Order and worker count change nothing: each job sees a pristine process."""
    jobs = [
        _job(0, "import specmodel.kernel as k\nk.CONSTANTS['ACC_ALL'] = 0\n"),
        _job(1, "assert ACC_ALL == 7, ACC_ALL\n"),
        _job(
            2,
            "import specmodel\nr = specmodel.explore('fast_zap', vcpus=1, pages=2)\n"
            "assert r.holds\nprint(r.states)\n",
        ),
        _job(3, "assert BATCH_ZAP_PAGES == 11\n"),
        _job(4, "undefined + 1\n"),
    ]

    def outcomes(workers: int, order: list[Job]) -> dict[str, Any]:
        results = pool.run_jobs(order, workers)
        return {
            k: r.outcome.__class__(**{**vars(r.outcome), "seconds": 0.0})
            for k, r in results.items()
        }

    one = outcomes(1, jobs)
    several = outcomes(3, list(reversed(jobs)))
    assert one == several
    assert [one[j.ident].status for j in jobs] == ["held", "held", "held", "diverged", "error"]
    assert one["doc#3"].line == 32  # the failing line of the block, in document lines


@pytest.mark.parametrize("workers", [1, 2])
def test_specmodel_workers_sets_the_number_of_processes(
    make_app: Any, tmp_path: Path, workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []
    real = pool.Scheduler.__init__

    def spy(self: pool.Scheduler, count: int, listener: Any = None) -> None:
        seen.append(count)
        real(self, count, listener)

    monkeypatch.setattr(pool.Scheduler, "__init__", spy)
    src = isolation_project(tmp_path / f"workers{workers}")
    app = make_app("html", srcdir=src, freshenv=True, confoverrides={"specmodel_workers": workers})
    app.build()
    assert seen == [workers]
    assert app.statuscode == 0


@pytest.mark.parametrize("how", ["ctrl-c", "kill-9"])
def test_an_interrupted_or_killed_build_leaves_no_worker_behind(tmp_path: Path, how: str) -> None:
    """Ctrl-C: the workers ignore SIGINT (the parent's to handle); the parent kills them on
    its way out instead of waiting for a block that never ends (no time limit here).
    kill -9 of the build: each worker dies with its parent (PR_SET_PDEATHSIG)."""
    marker = tmp_path / "worker.pid"
    src = write_project(
        tmp_path / "interrupt",
        {
            "conf.py": CONF + "specmodel_time_limit = None\n",
            "index.rst": "Loop\n====\n\n.. spec:run::\n\n"
            "   import os\n"
            f"   with open({str(marker)!r}, 'w') as f:\n"
            "       f.write(str(os.getpid()))\n"
            "   while True:\n"
            "       pass\n",
        },
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "sphinx", "-q", str(src), str(tmp_path / "html")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not (marker.exists() and marker.read_text()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marker.read_text(), "the worker never started"
    worker = int(marker.read_text())
    if how == "ctrl-c":
        os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole group
    else:
        os.kill(proc.pid, signal.SIGKILL)
    alive = True
    try:
        proc.communicate(timeout=30)  # the pipes close when the worker is gone too
        for _ in range(50):
            try:
                os.kill(worker, 0)
            except ProcessLookupError:
                alive = False
                break
            time.sleep(0.1)
    except subprocess.TimeoutExpired:
        proc.kill()
    finally:
        if alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker, signal.SIGKILL)
    assert not alive, "the worker outlived its build"
    assert proc.returncode != 0


def test_specmodel_check_reports_the_escapes_as_errors_and_exits_2(tmp_path: Path) -> None:
    docs = write_project(
        tmp_path / "docs",
        {"conf.py": CONF + "specmodel_time_limit = 0.5\n", "index.rst": ESCAPES},
    )
    proc = subprocess.run(
        [sys.executable, "-m", "specmodel", "check", "docs"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    index = docs / "index.rst"
    lines = proc.stdout.splitlines()
    assert lines[0] == (
        f"docs/index.rst:{line_of(index, '.. spec:run::')}: error: spec:run block ran longer "
        "than its time limit of 0.5 s (specmodel_time_limit) and was stopped"
    )
    assert lines[1].startswith(f"docs/index.rst:{line_of(index, 'raise KeyboardInterrupt')}: ")
    assert lines[-1].startswith("specmodel check: 6 checked, 1 held, 0 diverged, 5 errors")
    assert "Traceback" not in proc.stderr
