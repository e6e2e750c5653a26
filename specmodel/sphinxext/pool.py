"""Worker processes for the checks: a fresh process per check, at most N at a time.

Every ``spec:claim``, ``spec:invariant`` and ``spec:run`` runs in a process of its own, forked
from a parent that never runs a check, so each one starts from a pristine model: a block that
patches ``specmodel.kernel.CONSTANTS`` or any other module state changes nothing for the
checks after it, in a serial build and under ``-j`` alike. The parent enforces the time limit
by killing a worker that overruns it, so a block that catches ``BaseException`` in a loop, or
calls ``os._exit()``, or crashes, is one error verdict and never a hung or aborted build.

No sphinx import: the extension (``sphinx-build`` and ``specmodel check``) comes through here.
"""

from __future__ import annotations

import atexit
import faulthandler
import functools
import gc
import hashlib
import heapq
import importlib
import multiprocessing
import multiprocessing.connection
import os
import signal
import site
import sys
import sysconfig
import time
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from specmodel.sphinxext.cache import package_sources
from specmodel.sphinxext.records import Job, Outcome
from specmodel.sphinxext.runner import run_job, subject, time_limit_message

_PACKAGE_DIR = str(Path(__file__).resolve().parents[1]) + os.sep


def default_workers() -> int:
    """Every core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


#: How long a worker may take to start before its time limit runs anyway.
_STARTUP = 60.0


def grace(limit: float) -> float:
    """How long past its time limit a worker may take before the parent kills it: the
    worker's own alarm fires at the limit; this only has to cover reporting the verdict."""
    return max(1.0, 0.1 * limit)


@dataclass(frozen=True)
class Result:
    """What a worker reports: the outcome and the files the check's code came from."""

    outcome: Outcome
    #: every module file the check's process had loaded that is neither in the standard
    #: library nor in an installed distribution (site-packages), plus specmodel's sources
    files: tuple[str, ...] = ()


# -- inside the worker ------------------------------------------------------------------------


@functools.cache
def _package_files() -> tuple[str, ...]:
    return tuple(str(p) for p in package_sources())


@functools.cache
def _installed_roots() -> tuple[str, ...]:
    """Folders of the standard library and of installed distributions."""
    roots: set[str] = set()
    for name in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(name)
        if path:
            roots.add(path)
    roots.update(getattr(site, "getsitepackages", list)())
    user = getattr(site, "getusersitepackages", lambda: "")()
    if user:
        roots.add(user)
    return tuple(sorted(os.path.realpath(r) + os.sep for r in roots))


#: ``__file__`` -> the real path when it is project code, else None (filled in the parent
#: before it forks, so a worker only looks at the modules its check imported)
_CLASSIFIED: dict[str, str | None] = {}


def _project_file(module: object) -> str | None:
    path = getattr(module, "__file__", None)
    if not isinstance(path, str) or not path:
        return None
    if path not in _CLASSIFIED:
        real = os.path.realpath(path)
        own = not real.startswith(_installed_roots()) and os.path.isfile(real)
        _CLASSIFIED[path] = real if own else None
    return _CLASSIFIED[path]


def project_modules() -> dict[str, str]:
    """``{module name: file}`` of every loaded module that is the project's own code: not
    the standard library, not an installed distribution, not the driving script."""
    found: dict[str, str] = {}
    for name, module in list(sys.modules.items()):
        if name in ("__main__", "__mp_main__"):
            continue
        path = _project_file(module)
        if path is not None:
            found[name] = path
    return found


@dataclass(frozen=True)
class _Baseline:
    """The parent's project modules, computed in the parent before it forks, so a worker
    need not walk ``sys.modules`` (touching every module object would copy the parent's
    memory page by page, tens of milliseconds per check)."""

    count: int  #: len(sys.modules) when computed
    files: tuple[str, ...]  #: files of the project modules loaded in the parent
    #: the project modules that are not specmodel's own (claims, helpers) ...
    own: tuple[str, ...]
    #: ... and those of them each check imports afresh: all, but the built-in claim modules
    #: the parent preloaded while their files are unchanged
    forget: tuple[str, ...]


_BASELINE = _Baseline(-1, (), (), ())
#: The built-in claim modules the parent imported itself (:func:`_preload_claims`), by
#: real path, with the sha256 each file had just before: while every one is unchanged, a
#: worker keeps them instead of importing them again.
_PRELOADED: dict[str, str] = {}


def _sha256(path: str) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def _refresh_baseline() -> None:
    """In the parent, before a fork: recompute the baseline if modules were imported, and
    forget the preloaded claim modules too if one of their files has changed since."""
    global _BASELINE
    if _BASELINE.count != len(sys.modules):
        found = project_modules()
        own = tuple(sorted(n for n, f in found.items() if not f.startswith(_PACKAGE_DIR)))
        _BASELINE = _Baseline(len(sys.modules), tuple(sorted(set(found.values()))), own, own)
    if _PRELOADED and all(_sha256(p) == h for p, h in _PRELOADED.items()):
        forget = tuple(n for n in _BASELINE.own if _module_file(n) not in _PRELOADED)
    else:
        forget = _BASELINE.own
    if forget != _BASELINE.forget:
        _BASELINE = replace(_BASELINE, forget=forget)


def _module_file(name: str) -> str | None:
    module = sys.modules.get(name)
    return None if module is None else _project_file(module)


class _ImportRecorder:
    """A meta path finder that finds nothing and records every module name imported."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> None:
        self.names.append(fullname)

    def files(self) -> set[str]:
        found: set[str] = set()
        for name in self.names:
            module = sys.modules.get(name)
            path = None if module is None else _project_file(module)
            if path is not None:
                found.add(path)
        return found


#: libc, loaded in the parent (Linux), for prctl(PR_SET_PDEATHSIG) in the workers
_LIBC: Any = None
_PR_SET_PDEATHSIG = 1


def _load_libc() -> None:
    global _LIBC
    if _LIBC is None and sys.platform.startswith("linux"):
        try:
            import ctypes

            _LIBC = ctypes.CDLL(None, use_errno=True)
        except (OSError, AttributeError):  # no libc to load: workers just outlive a kill -9
            _LIBC = False


def _die_with(parent: int) -> None:
    """A worker is killed when its parent dies (SIGTERM or SIGKILL skip the parent's exit
    handlers), so no orphan keeps checking after the build is gone."""
    if _LIBC:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _work(conn: Connection, job: Job, parent: int) -> None:
    """The worker: run one job, send back its Result."""
    _die_with(parent)
    # Ctrl-C is the parent's to handle (it stops every worker); a block that raises
    # KeyboardInterrupt itself is still an exception like any other
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # a crash in a check is reported as its located error verdict; the dump faulthandler would
    # print (it is on under pytest and python -X faulthandler) belongs to no document
    faulthandler.disable()
    recorder = _ImportRecorder()
    try:
        # the project's own modules (claims, helpers) are imported afresh from disk
        for name in _BASELINE.forget:
            sys.modules.pop(name, None)
        sys.meta_path.insert(0, recorder)
        conn.send(None)  # started: the parent's clock for the time limit runs from here
        outcome = run_job(job)
    except BaseException as exc:  # run_job converts everything; this is a last resort
        outcome = Outcome(
            "error",
            f"{subject(job.kind, job.target)}: internal error while checking "
            f"({type(exc).__name__}: {exc}); please report this to specmodel",
        )
    files = set(_BASELINE.files) | recorder.files() | set(_package_files())
    conn.send(Result(outcome, tuple(sorted(files))))
    conn.close()


# -- in the parent ----------------------------------------------------------------------------


def _context() -> Any:
    """fork where there is one (cheap: the parent has already imported the model)."""
    if "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _preload() -> None:
    """Import the model in the parent once, so forked workers do not each import it."""
    for name in ("pydantic", "specmodel.claims", "specmodel.explorer", "specmodel.structs"):
        importlib.import_module(name)
    _preload_claims()
    _package_files()
    _load_libc()


def _preload_claims() -> None:
    """Import the built-in claims (``specmodel.checks``) in the parent as well: a claim job
    looks its id up among all of them, so each worker would import every claim module again
    (about 6 ms a check). Each file is hashed before the import; a worker imports them
    afresh if one has changed since (see :func:`_refresh_baseline`). Only modules imported
    here are kept: one this process had loaded before may be older than its file (edited
    since), so the workers go on importing it afresh. A claim module that fails to import
    is left to the workers, whose checks report it as they always have."""
    if _PRELOADED:
        return
    from specmodel.builtin_claims import builtin_claim_dirs
    from specmodel.claims import all_claims

    loaded = set(project_modules().values())
    hashes = {}
    for folder in builtin_claim_dirs():
        for path in sorted(folder.rglob("*.py")):
            real = os.path.realpath(path)
            if real not in loaded:
                hashes[real] = _sha256(real)
    try:
        all_claims()
    except (Exception, SystemExit):
        return
    _PRELOADED.update({p: h for p, h in hashes.items() if h is not None})


@dataclass
class _Running:
    job: Job
    process: BaseProcess
    reader: Connection
    started: float
    deadline: float | None


class Listener:
    """Progress callbacks (the default does nothing)."""

    def started(self, job: Job) -> None:
        pass

    def finished(self, job: Job, outcome: Outcome) -> None:
        pass

    def tick(self, running: Sequence[tuple[Job, float]]) -> None:
        """Called about twice a second with each running job and its seconds so far."""


def _death(job: Job, exitcode: int | None) -> Outcome:
    what = subject(job.kind, job.target)
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return Outcome(
            "error",
            f"{what} crashed the worker process running it ({name}) before it reported a verdict",
        )
    return Outcome(
        "error",
        f"{what} ended the worker process running it (exit status {exitcode}) before it "
        "reported a verdict; a check must not call os._exit()",
    )


def _receive(run: _Running) -> Result | None:
    """Read what a worker sent: None after its start message (its time limit now runs),
    else its Result (or an error verdict for one that died without sending one)."""
    try:
        message = run.reader.recv()
    except (EOFError, OSError):
        message = False
    if message is None:
        limit = run.job.time_limit
        if limit is not None and limit > 0:
            run.deadline = time.monotonic() + limit + grace(limit)
        return None
    return _finish(run, message)


def _finish(run: _Running, result: object) -> Result:
    """The result a worker sent, or an error verdict for one that died without sending."""
    run.process.join(5)
    if run.process.is_alive():  # sent its verdict but does not exit: stop it
        run.process.kill()
        run.process.join()
    run.reader.close()
    if isinstance(result, Result):
        return result
    return Result(_death(run.job, run.process.exitcode))


def _stop(run: _Running) -> None:
    run.process.kill()
    run.process.join()
    run.reader.close()


#: Every scheduler with workers that may still run, so an exiting parent stops them.
_LIVE: weakref.WeakSet[Scheduler] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    """At exit (Ctrl-C included, which skips Sphinx's build-finished): kill the workers.

    Registered after multiprocessing's own exit handler, so it runs first: that one joins
    every non-daemon child, and a worker stuck in a loop would make it wait forever.
    (Workers are not daemons so that a check may start processes of its own.)
    """
    for scheduler in list(_LIVE):
        scheduler.close()


class Scheduler:
    """Runs jobs in fresh worker processes, at most ``workers`` at a time, driven from the
    caller's thread (no threads: forking from a threaded process is unsafe). ``submit`` and
    ``poll`` never block for long, so the Sphinx process can keep reading documents while
    the workers check the ones it has read; ``wait`` runs everything to the end."""

    def __init__(self, workers: int, listener: Listener | None = None) -> None:
        self.workers = max(1, workers)
        self.listener = listener or Listener()
        self.results: dict[str, Result] = {}
        self._queue: list[tuple[float, int, Job]] = []  # (-priority, order, job), a heap
        self._running: dict[Connection, _Running] = {}
        self._context = _context()
        self._frozen = False
        self._order = 0
        _LIVE.add(self)

    def submit(self, job: Job, priority: float = 0.0) -> None:
        """Queue ``job`` (higher ``priority`` first, then in the order submitted); start it
        at once if a worker is free."""
        heapq.heappush(self._queue, (-priority, self._order, job))
        self._order += 1
        self.poll()

    def pending(self) -> int:
        return len(self._queue) + len(self._running)

    def _start(self, job: Job) -> None:
        if not self._frozen:
            _preload()
            # the parent's objects stay out of the workers' garbage collections, so a worker
            # does not touch (and copy) the parent's whole heap
            gc.freeze()
            self._frozen = True
        _refresh_baseline()
        reader, writer = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=_work, args=(writer, job, os.getpid()), name=f"specmodel {job.ident}"
        )
        process.start()
        writer.close()  # the child holds the only write end: EOF when it dies
        now = time.monotonic()
        limit = job.time_limit
        # until it reports that it started (a loaded machine may be slow to fork)
        deadline = None if limit is None or limit <= 0 else now + limit + _STARTUP
        self._running[reader] = _Running(job, process, reader, now, deadline)
        self.listener.started(job)

    def _done(self, run: _Running, result: Result) -> None:
        outcome = result.outcome
        if outcome.status == "error" and not outcome.seconds:
            outcome = _with_seconds(outcome, time.monotonic() - run.started)
            result = Result(outcome, result.files)
        self.results[run.job.ident] = result
        self.listener.finished(run.job, outcome)

    def poll(self, timeout: float = 0.0) -> None:
        """Start queued jobs on free workers, collect finished ones, stop overdue ones;
        waits at most ``timeout`` seconds for a worker to report."""
        while self._queue and len(self._running) < self.workers:
            self._start(heapq.heappop(self._queue)[2])
        if not self._running:
            return
        deadlines = [r.deadline for r in self._running.values() if r.deadline is not None]
        if deadlines:
            timeout = max(0.0, min(timeout, min(deadlines) - time.monotonic()))
        for ready in multiprocessing.connection.wait(list(self._running), timeout):
            assert isinstance(ready, Connection)
            result = _receive(self._running[ready])
            if result is not None:
                self._done(self._running.pop(ready), result)
        now = time.monotonic()
        for reader, run in list(self._running.items()):
            if run.deadline is not None and now >= run.deadline:
                del self._running[reader]
                _stop(run)
                what = subject(run.job.kind, run.job.target)
                message = time_limit_message(what, run.job.time_limit)
                self._done(run, Result(Outcome("error", message)))
        while self._queue and len(self._running) < self.workers:
            self._start(heapq.heappop(self._queue)[2])
        self.listener.tick([(r.job, now - r.started) for r in self._running.values()])

    def wait(self) -> dict[str, Result]:
        """Run every submitted job to its end; the results by ``Job.ident``."""
        while self.pending():
            self.poll(0.5)
        return self.results

    def close(self) -> None:
        """Stop every worker still running (an exception or Ctrl-C in the parent)."""
        for run in self._running.values():
            _stop(run)
        self._running.clear()
        self._queue.clear()
        if self._frozen:
            gc.unfreeze()
            self._frozen = False


def run_jobs(
    jobs: Iterable[Job], workers: int, listener: Listener | None = None
) -> dict[str, Result]:
    """Run each job in a fresh worker process, at most ``workers`` at a time, in the order
    given; results by ``Job.ident``. Identical to running them one after the other in one
    pristine process, whatever ``workers`` is."""
    scheduler = Scheduler(workers, listener)
    try:
        for job in jobs:
            scheduler.submit(job)
        return scheduler.wait()
    finally:
        scheduler.close()


def _with_seconds(outcome: Outcome, seconds: float) -> Outcome:
    return replace(outcome, seconds=seconds)
