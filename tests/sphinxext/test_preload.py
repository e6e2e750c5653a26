"""The parent imports the built-in claims once; a worker keeps them while their files are
unchanged and imports them afresh otherwise (real worker processes, no mocks of the pool)."""

from __future__ import annotations

import sys

import pytest

from specmodel.sphinxext import pool
from specmodel.sphinxext.records import Job

MODULE = "specmodel.checks.fast_zap"
PACKAGE = "specmodel.checks."

#: A block that tells whether its process has the parent's module object (which carries a
#: mark set in the parent) or one it imported itself.
SEES_THE_PARENTS = f"""\
import sys
module = sys.modules.get({MODULE!r})
assert module is not None and getattr(module, "_mark", None) == "parent", "imported afresh"
"""


def _job(ident: str, kind: str, target: str, code: str = "", **extra: object) -> Job:
    return Job(
        kind=kind,  # type: ignore[arg-type]
        ident=ident,
        docname="doc",
        path="/doc.rst",
        line=1,
        target=target,
        options=tuple(extra.items()),  # type: ignore[arg-type]
        code=code,
        first_line=3,
        max_states=200_000,
        time_limit=60.0,
    )


def _claim_job(ident: str) -> Job:
    return _job(ident, "claim", "checks.fast_zap.never_enters_on_obsolete_root", expect="violated")


def _unload_claims(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in a process that has not imported the built-in claims yet (restored after)."""
    for name in [n for n in sys.modules if n == "specmodel.checks" or n.startswith(PACKAGE)]:
        monkeypatch.delitem(sys.modules, name)


@pytest.fixture
def preloaded(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A fresh record of preloaded files for this test, filled by the real preload."""
    record: dict[str, str] = {}
    monkeypatch.setattr(pool, "_PRELOADED", record)
    _unload_claims(monkeypatch)
    pool._preload_claims()
    module = sys.modules[MODULE]
    monkeypatch.setattr(module, "_mark", "parent", raising=False)
    return record


def test_a_worker_keeps_the_built_in_claims_the_parent_imported(
    preloaded: dict[str, str],
) -> None:
    assert any(path.endswith("fast_zap.py") for path in preloaded)
    results = pool.run_jobs(
        [_job("doc#0", "run", "spec:run block", SEES_THE_PARENTS), _claim_job("doc#1")], 2
    )
    assert results["doc#0"].outcome.status == "held", results["doc#0"].outcome.message
    assert results["doc#1"].outcome.status == "held", results["doc#1"].outcome.message
    # the kept claim modules are still among the files the check depends on
    assert any(f.endswith("fast_zap.py") for f in results["doc#1"].files)


def test_a_changed_claim_file_is_imported_afresh_by_every_worker(
    preloaded: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # as if fast_zap.py had been edited after the parent imported it
    edited = next(path for path in preloaded if path.endswith("fast_zap.py"))
    monkeypatch.setitem(preloaded, edited, "0" * 64)
    results = pool.run_jobs(
        [_job("doc#0", "run", "spec:run block", SEES_THE_PARENTS), _claim_job("doc#1")], 1
    )
    outcome = results["doc#0"].outcome
    assert outcome.status == "diverged"
    assert "AssertionError at line 5: imported afresh" in outcome.message
    assert results["doc#1"].outcome.status == "held", results["doc#1"].outcome.message


def test_claim_modules_loaded_before_the_preload_are_imported_afresh(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A module this process imported earlier may be older than its file: never kept."""
    record: dict[str, str] = {}
    monkeypatch.setattr(pool, "_PRELOADED", record)
    _unload_claims(monkeypatch)
    import specmodel.checks.fast_zap  # noqa: F401  (loaded before the preload)

    pool._preload_claims()
    assert record and not any(path.endswith("fast_zap.py") for path in record)
    monkeypatch.setattr(sys.modules[MODULE], "_mark", "parent", raising=False)
    results = pool.run_jobs([_job("doc#0", "run", "spec:run block", SEES_THE_PARENTS)], 1)
    assert "imported afresh" in results["doc#0"].outcome.message


def test_a_claim_module_that_fails_to_import_in_the_parent_is_left_to_the_workers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    record: dict[str, str] = {}
    monkeypatch.setattr(pool, "_PRELOADED", record)
    with monkeypatch.context() as patch:

        def broken(package: str = "checks") -> None:
            raise SyntaxError("invalid syntax (fast_zap.py, line 3)")

        patch.setattr("specmodel.claims.all_claims", broken)
        pool._preload_claims()  # no exception in the parent
    assert record == {}  # nothing is kept: every worker imports the claims itself
    pool._refresh_baseline()
    assert pool._BASELINE.forget == pool._BASELINE.own
    results = pool.run_jobs([_claim_job("doc#1")], 1)
    assert results["doc#1"].outcome.status == "held", results["doc#1"].outcome.message
