"""On-disk cache of check outcomes, keyed by everything that can change them.

An entry is found by a key over what the directive states (kind, argument, options, a
spec:run block's code and first line), the budget, every ``specmodel_*`` configuration value
that can change a verdict, the specmodel version and a fingerprint of its sources. It is
*valid* only while every file the check's code came from still has the content it had when
the check ran: the worker records them (:mod:`specmodel.sphinxext.pool`), including a claim
module outside ``checks/`` and a helper module a spec:run block imports. An entry whose
dependencies changed is a miss. Writes are atomic, so concurrent builds may share the folder.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from specmodel.builtin_claims import builtin_claim_dirs
from specmodel.sphinxext.records import Dependency, Job, Outcome

_PACKAGE_DIR = Path(__file__).resolve().parents[1]
#: Bump when the entry format or the meaning of a key changes.
SCHEMA = "specmodel-cache/2"
#: Configuration values that cannot change a verdict (where the cache is, how many
#: processes run the checks, how progress is shown). Every other ``specmodel_*`` value is
#: part of the key, including ones added later.
NOT_VERDICT_SETTINGS = frozenset({"specmodel_cache_dir", "specmodel_workers", "specmodel_fresh"})


@functools.cache
def specmodel_version() -> str:
    """The installed specmodel version (part of every cache key)."""
    try:
        return importlib.metadata.version("specmodel")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def _source_roots() -> Iterator[Path]:
    yield _PACKAGE_DIR
    yield from builtin_claim_dirs()


def package_sources() -> list[Path]:
    """Every Python source of specmodel itself (a dependency of every check)."""
    return sorted(p for p in _PACKAGE_DIR.rglob("*.py") if "__pycache__" not in p.parts)


def fingerprint() -> str:
    """Hash of every source file of specmodel and of the ``checks`` package, plus the version.

    Computed afresh on each call (a few dozen small files), so a long-lived process notices an
    edited model. A changed fingerprint re-reads every document with spec directives.
    """
    digest = hashlib.sha256(specmodel_version().encode())
    for root in _source_roots():
        for path in sorted(root.rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            digest.update(str(path.relative_to(root)).encode())
            digest.update(b"\0")
            digest.update(path.read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()


def verdict_settings(config: Iterable[Any]) -> dict[str, str]:
    """``{name: repr(value)}`` of every ``specmodel_*`` value of a Sphinx config that can
    change a verdict (all but :data:`NOT_VERDICT_SETTINGS`)."""
    settings: dict[str, str] = {}
    for item in config:
        name = str(item.name)
        if name.startswith("specmodel_") and name not in NOT_VERDICT_SETTINGS:
            settings[name] = repr(item.value)
    return dict(sorted(settings.items()))


def job_key(job: Job, settings: Mapping[str, str], model_fingerprint: str) -> str:
    """The cache key of one check: what the directive states, its budget and the settings.

    The document path and the directive's line are not part of it (the same claim in two
    documents is one entry), except a spec:run block's first line, which its messages name.
    """
    payload = json.dumps(
        [
            SCHEMA,
            specmodel_version(),
            model_fingerprint,
            job.kind,
            job.target,
            sorted(job.options),
            job.code,
            job.first_line if job.kind == "run" else 0,
            job.max_states,
            job.time_limit,
            sorted(settings.items()),
        ],
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


class FileHashes:
    """sha256 of files, each read once per build (``None`` for a file that is gone)."""

    def __init__(self) -> None:
        self._known: dict[str, str | None] = {}

    def __call__(self, path: str) -> str | None:
        if path not in self._known:
            try:
                self._known[path] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
            except OSError:
                self._known[path] = None
        return self._known[path]

    def dependencies(self, paths: Iterable[str]) -> tuple[Dependency, ...]:
        """``(path, hash)`` of each path that exists, sorted."""
        found = ((p, self(p)) for p in sorted(set(paths)))
        return tuple((p, h) for p, h in found if h is not None)

    def unchanged(self, deps: Iterable[Dependency]) -> bool:
        """True when every dependency still has the content it had."""
        return all(self(path) == digest for path, digest in deps)


class ResultCache:
    """A directory of ``<key>.json`` entries: an outcome and the files it depends on."""

    def __init__(self, directory: Path | None) -> None:
        #: None disables the cache (``specmodel_cache_dir = None``)
        self.directory = directory

    def load(self, key: str) -> tuple[Outcome, tuple[Dependency, ...]] | None:
        """The stored entry, valid or not (None when there is none or it is unreadable)."""
        if self.directory is None:
            return None
        try:
            data = json.loads((self.directory / f"{key}.json").read_text(encoding="utf-8"))
            if data.get("schema") != SCHEMA:
                return None
            deps = tuple((str(p), str(h)) for p, h in data["deps"])
            return Outcome.from_json(data["outcome"]), deps
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            # a missing, unreadable or foreign file is a miss, never an error
            return None

    def get(self, key: str, hashes: FileHashes) -> tuple[Outcome, tuple[Dependency, ...]] | None:
        """The entry if every file it depends on is unchanged, else None (a miss)."""
        entry = self.load(key)
        if entry is None or not hashes.unchanged(entry[1]):
            return None
        return entry

    def put(self, key: str, outcome: Outcome, deps: Iterable[Dependency]) -> None:
        if self.directory is None:
            return
        tmp: str | None = None
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".json")
            entry = {"schema": SCHEMA, "outcome": outcome.to_json(), "deps": list(deps)}
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(entry, handle)
            os.replace(tmp, self.directory / f"{key}.json")
        except OSError:
            # a read-only cache directory slows builds down but does not change verdicts
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
