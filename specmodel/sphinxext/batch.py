"""Run the checks the directives recorded, in worker processes, never in Sphinx's.

Directives record a :class:`~specmodel.sphinxext.records.Job` and a placeholder node. In a
serial read, the main process looks each one up in the cache at once and starts a miss in a
worker, so checking overlaps reading (:class:`BuildState`); ``-j`` readers only record. At
the end of reading (``env-updated``, after ``-j`` reads are merged), in the main process:

* each job's cache key is computed (:func:`specmodel.sphinxext.cache.job_key`) and a valid
  cache entry (every file it depends on unchanged) answers it, unless the build is fresh
  (``sphinx-build -E``, ``specmodel check --fresh``, ``specmodel_fresh = True``);
* every other job runs in the worker pool (:mod:`specmodel.sphinxext.pool`), on
  ``specmodel_workers`` processes, and its outcome is written back to the cache;
* each outcome becomes a verdict in the domain, located at the directive (or at the failing
  line of a spec:run block).

``doctree-resolved`` then swaps each placeholder for its verdict box, and ``env-get-outdated``
re-reads a document whose checks depend on a file that has changed since they ran.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment

from specmodel.sphinxext.cache import (
    FileHashes,
    ResultCache,
    fingerprint,
    job_key,
    verdict_settings,
)
from specmodel.sphinxext.domain import SpecDomain, spec_domain
from specmodel.sphinxext.records import Check, Outcome, Verdict
from specmodel.sphinxext.render import pending_verdict, verdict_box

if TYPE_CHECKING:
    # imported when the first check starts: a build with nothing to check (a warm one) never
    # needs them, nor multiprocessing
    from specmodel.sphinxext.pool import Scheduler
    from specmodel.sphinxext.progress import TerminalProgress

_ENV_PICKLE = "environment.pickle"


def workers(app: Sphinx) -> int:
    """``specmodel_workers``, where None (the default) is every core."""
    from specmodel.sphinxext.pool import default_workers

    value = app.config.specmodel_workers
    return default_workers() if value is None else max(1, int(value))


def bypass_cache(app: Sphinx) -> bool:
    """True when the build must not read the cache: ``specmodel_fresh``, or ``-E``.

    Sphinx does not keep the ``-E`` flag; a fresh environment although the previous build's
    pickled one is still there is what it leaves behind (a first build, or a new build
    folder, has none and may use the cache).
    """
    if app.config.specmodel_fresh:
        return True
    return bool(app.fresh_env_used) and (Path(app.doctreedir) / _ENV_PICKLE).exists()


def _cache(app: Sphinx) -> ResultCache:
    directory = app.config.specmodel_cache_dir
    return ResultCache(Path(directory) if directory else None)


def _model(domain: SpecDomain) -> str:
    return str(domain.data.get("fingerprint") or "") or fingerprint()


def _checks(domain: SpecDomain) -> Iterator[tuple[str, int, Check]]:
    table: dict[str, list[Check]] = domain.data.setdefault("checks", {})
    for docname in sorted(table):
        for index, check in enumerate(table[docname]):
            yield docname, index, check


class BuildState:
    """One build's checking: the settings keys are made of, the cache, and the scheduler.

    Made in the main process before reading (``env-before-read-docs``). During a serial read
    each directive's check is looked up in the cache and, on a miss, started in a worker at
    once (:meth:`take`), so the workers check what has been read while Sphinx reads on. Under
    ``-j`` the directives run in forked readers, which only record their jobs; the main
    process runs those after the merge.
    """

    def __init__(self, app: Sphinx, env: BuildEnvironment) -> None:
        self.pid = os.getpid()
        self.settings = verdict_settings(app.config)
        self.model = _model(spec_domain(env))
        self.hashes = FileHashes()
        self.cache = _cache(app)
        self.fresh = bypass_cache(app)
        self.app = app
        self.quiet = bool(app.quiet)
        self.progress: TerminalProgress | None = None
        self.submitted: set[str] = set()
        #: cache key -> ident of the job that runs it: the same check written twice (the
        #: same claim and options in two documents) runs once
        self.running_key: dict[str, str] = {}
        self.from_cache = 0

    @functools.cached_property
    def workers(self) -> int:
        return workers(self.app)

    @functools.cached_property
    def scheduler(self) -> Scheduler:
        """The worker pool, made when the first check starts."""
        from specmodel.sphinxext.pool import Scheduler

        return Scheduler(self.workers)

    @property
    def started(self) -> bool:
        """Whether any check has been started (so there is a scheduler)."""
        return "scheduler" in self.__dict__

    def lookup(self, check: Check) -> Check:
        """The check with its key, and its outcome when the cache has a valid one."""
        key = job_key(check.job, self.settings, self.model)
        entry = None if self.fresh else self.cache.get(key, self.hashes)
        if entry is None:
            return Check(check.job, key)
        self.from_cache += 1
        return Check(check.job, key, entry[0], entry[1], cached=True)

    def start(self, check: Check) -> None:
        """Queue a cache miss for a worker (longest first, by the time it took last time)."""
        if self.progress is None and not self.quiet:
            from specmodel.sphinxext.progress import TerminalProgress

            self.progress = TerminalProgress.on_terminal(self.workers)
            if self.progress is not None:
                self.scheduler.listener = self.progress
        self.submitted.add(check.job.ident)
        if check.key in self.running_key:
            return
        self.running_key[check.key] = check.job.ident
        stale = self.cache.load(check.key)
        self.scheduler.submit(check.job, stale[0].seconds if stale is not None else 0.0)

    def take(self, check: Check) -> Check:
        """For a directive being read: the cached outcome, or the check started in a worker
        (its outcome filled in after reading). Only in the process that made this state."""
        if os.getpid() != self.pid:
            return check
        found = self.lookup(check)
        if found.outcome is None:
            self.start(found)
        return found

    def finish(self, check: Check) -> Check:
        """The outcome of a started check (after :meth:`wait`), written back to the cache."""
        result = self.scheduler.results[self.running_key[check.key]]
        deps = self.hashes.dependencies(result.files)
        if result.outcome.status in ("held", "diverged"):
            # errors are not cached: most are bad input the author is about to fix, and a
            # time limit depends on the machine's load
            self.cache.put(check.key, result.outcome, deps)
        return Check(check.job, check.key, result.outcome, deps)

    def close(self) -> None:
        if self.started:
            self.scheduler.close()
        if self.progress is not None:
            self.progress.close(self.from_cache)
            self.progress = None


#: The build state of each environment being built (by id), in the process that made it.
_STATES: dict[int, BuildState] = {}


def begin(app: Sphinx, env: BuildEnvironment, docnames: list[str]) -> None:
    """``env-before-read-docs``: a new build state for this read phase, and the documents
    with checks moved to the front of the reading order (:func:`checks_first`)."""
    previous = _STATES.pop(id(env), None)
    if previous is not None:
        previous.close()
    _STATES[id(env)] = BuildState(app, env)
    checks_first(env, docnames)


#: A check directive at the start of a line (indented or not) of a document's source.
_CHECK_DIRECTIVE = re.compile(rb"^[ \t]*\.\. +spec:(?:claim|invariant|run)::", re.MULTILINE)


def checks_first(env: BuildEnvironment, docnames: list[str]) -> None:
    """Reorder ``docnames`` in place (Sphinx lets ``env-before-read-docs`` do so): the
    documents whose source has a check directive first, the others after, each group in
    its own order. In a serial read the workers then start at the first document instead
    of waiting while Sphinx reads pages without checks (an autodoc page can take a second);
    the verdicts and the pages built do not depend on the order documents are read in."""
    has_checks: dict[str, bool] = {}
    for docname in docnames:
        try:
            source = Path(env.doc2path(docname)).read_bytes()
        except OSError:  # Sphinx reports a missing source itself
            source = b""
        has_checks[docname] = _CHECK_DIRECTIVE.search(source) is not None
    docnames.sort(key=lambda docname: not has_checks[docname])  # stable


def current(env: BuildEnvironment) -> BuildState | None:
    """The build state of ``env`` if this process made it (not in a ``-j`` reader)."""
    state = _STATES.get(id(env))
    return state if state is not None and state.pid == os.getpid() else None


def keep_workers_busy(app: Sphinx, doctree: nodes.document) -> None:
    """``doctree-read``: between documents, collect finished checks and start queued ones."""
    if app.env is not None:
        state = current(app.env)
        if state is not None and state.started:
            state.scheduler.poll()


def run_pending(app: Sphinx, env: BuildEnvironment) -> None:
    """``env-updated``: give every check without an outcome one, from the cache or a worker."""
    domain = spec_domain(env)
    state = current(env) or BuildState(app, env)
    _STATES.pop(id(env), None)
    table: dict[str, list[Check]] = domain.data.setdefault("checks", {})
    try:
        waiting: list[tuple[str, int]] = []
        for docname, index, check in list(_checks(domain)):
            if check.outcome is not None:
                continue
            if check.job.ident not in state.submitted:  # read under -j, or not looked up
                check = state.lookup(check)
                table[docname][index] = check
                if check.outcome is None:
                    state.start(check)
            if check.outcome is None:
                waiting.append((docname, index))
            else:
                record(domain, check)
        if state.started:
            state.scheduler.wait()
        for docname, index in waiting:
            table[docname][index] = state.finish(table[docname][index])
            record(domain, table[docname][index])
    finally:
        state.close()


def abandon(app: Sphinx, exception: BaseException | None) -> None:
    """``build-finished``: stop the workers of a build that failed before its checks ran."""
    if app.env is not None:
        state = _STATES.pop(id(app.env), None)
        if state is not None:
            state.close()


def record(domain: SpecDomain, check: Check) -> None:
    job, outcome = check.job, check.outcome
    assert outcome is not None
    domain.add_verdict(
        Verdict(
            path=job.path,
            line=outcome.line or job.line,
            kind=job.kind,
            target=job.target,
            status=outcome.status,
            message=outcome.message,
            states=outcome.states,
            seconds=outcome.seconds,
            docname=job.docname,
            expect="violated" if job.expect == "violated" else "holds",
            cached=check.cached,
            generation=domain.generation,
        )
    )


def outdated(app: Sphinx, env: BuildEnvironment) -> set[str]:
    """Documents whose checks no longer match what they ran with: a file their code came
    from has changed, or a setting in their key has (``env-get-outdated``)."""
    domain = spec_domain(env)
    settings = verdict_settings(app.config)
    model = _model(domain)
    hashes = FileHashes()
    found: set[str] = set()
    for docname, _, check in _checks(domain):
        if docname in found or check.outcome is None:
            continue
        if check.key != job_key(check.job, settings, model) or not hashes.unchanged(check.deps):
            found.add(docname)
    return found


def resolve_placeholders(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """``doctree-resolved``: each placeholder becomes its check's verdict box."""
    placeholders = list(doctree.findall(pending_verdict))
    if not placeholders:
        return
    domain = spec_domain(app.env)
    table: dict[str, list[Check]] = domain.data.get("checks", {})
    by_ident = {c.job.ident: c for checks in table.values() for c in checks}
    for node in placeholders:
        check = by_ident.get(str(node.get("ident")))
        if check is None or check.outcome is None:
            outcome = Outcome("error", "this check has no verdict (it did not run)")
            box = verdict_box(outcome, what=str(node.get("ident")))
        else:
            box = verdict_box(check.outcome, what=check.job.what, expect=check.job.expect)
        node.replace_self(box)
