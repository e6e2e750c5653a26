"""Run the checks the directives recorded: after reading, in worker processes, all at once.

Directives record a :class:`~specmodel.sphinxext.records.Job` and a placeholder node. Then,
in the main process (``env-updated``, after ``-j`` reads are merged):

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

from collections.abc import Iterator
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment

from specmodel.sphinxext import pool
from specmodel.sphinxext.cache import (
    FileHashes,
    ResultCache,
    fingerprint,
    job_key,
    verdict_settings,
)
from specmodel.sphinxext.domain import SpecDomain, spec_domain
from specmodel.sphinxext.progress import TerminalProgress
from specmodel.sphinxext.records import Check, Outcome, Verdict
from specmodel.sphinxext.render import pending_verdict, verdict_box

_ENV_PICKLE = "environment.pickle"


def workers(app: Sphinx) -> int:
    """``specmodel_workers``, where None (the default) is every core."""
    value = app.config.specmodel_workers
    return pool.default_workers() if value is None else max(1, int(value))


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


def run_pending(app: Sphinx, env: BuildEnvironment) -> None:
    """``env-updated``: give every check without an outcome one, from the cache or a worker."""
    domain = spec_domain(env)
    pending = [(d, i, c) for d, i, c in _checks(domain) if c.outcome is None]
    if not pending:
        return
    settings = verdict_settings(app.config)
    model = _model(domain)
    hashes = FileHashes()
    cache = _cache(app)
    fresh = bypass_cache(app)
    table: dict[str, list[Check]] = domain.data["checks"]
    todo: list[tuple[str, int, Check]] = []
    hints: dict[str, float] = {}
    for docname, index, check in pending:
        key = job_key(check.job, settings, model)
        entry = None if fresh else cache.get(key, hashes)
        if entry is not None:
            outcome, deps = entry
            table[docname][index] = Check(check.job, key, outcome, deps, cached=True)
            continue
        stale = cache.load(key)  # how long it took last time, to start the longest first
        hints[check.job.ident] = stale[0].seconds if stale is not None else 0.0
        todo.append((docname, index, Check(check.job, key)))
    count = workers(app)
    progress = None
    if todo and not app.quiet:
        progress = TerminalProgress.on_terminal(len(todo), len(pending) - len(todo), count)
    # longest first (by the previous run), then in document order: a shorter build on N cores
    order = sorted(todo, key=lambda t: -hints[t[2].job.ident])
    try:
        results = pool.run_jobs([c.job for _, _, c in order], count, progress)
    finally:
        if progress is not None:
            progress.close()
    for docname, index, check in todo:
        result = results[check.job.ident]
        deps = hashes.dependencies(result.files)
        if result.outcome.status in ("held", "diverged"):
            # errors are not cached: most are bad input the author is about to fix, and a
            # time limit depends on the machine's load
            cache.put(check.key, result.outcome, deps)
        table[docname][index] = Check(check.job, check.key, result.outcome, deps)
    for docname, index, _check in pending:
        _record(domain, table[docname][index])


def _record(domain: SpecDomain, check: Check) -> None:
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
