"""On-disk cache of check outcomes, keyed by everything that can change them.

The key hashes the specmodel version, a fingerprint of the model's and the checks' source files,
the directive kind, argument, options and body, and the budget. Writes are atomic, so forked
``-j`` readers may share the directory.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from specmodel.sphinxext.records import Outcome

_PACKAGE_DIR = Path(__file__).resolve().parents[1]


def specmodel_version() -> str:
    """The installed specmodel version (part of every cache key)."""
    try:
        return importlib.metadata.version("specmodel")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def _source_roots() -> Iterator[Path]:
    yield _PACKAGE_DIR
    from specmodel.claims import builtin_claim_dirs  # the built-in claims (specmodel.checks)

    yield from builtin_claim_dirs()


def fingerprint() -> str:
    """Hash of every source file of specmodel and of the ``checks`` package, plus the version.

    Computed afresh on each call (a few dozen small files), so a long-lived process notices an
    edited model.
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


def cache_key(
    model_fingerprint: str,
    kind: str,
    argument: str,
    options: Mapping[str, str],
    content: str,
    budget: Mapping[str, Any],
) -> str:
    """The key of one directive's outcome."""
    payload = json.dumps(
        [
            specmodel_version(),
            model_fingerprint,
            kind,
            argument,
            sorted(options.items()),
            content,
            sorted(budget.items()),
        ],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


class ResultCache:
    """A directory of ``<key>.json`` outcome files."""

    def __init__(self, directory: Path | None) -> None:
        #: None disables the cache (``specmodel_cache_dir = None``)
        self.directory = directory

    def get(self, key: str) -> Outcome | None:
        if self.directory is None:
            return None
        try:
            data = json.loads((self.directory / f"{key}.json").read_text(encoding="utf-8"))
            return Outcome.from_json(data)
        except (OSError, ValueError, KeyError, TypeError):
            # a missing, unreadable or foreign file is a miss, never an error
            return None

    def put(self, key: str, outcome: Outcome) -> None:
        if self.directory is None:
            return
        tmp: str | None = None
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(outcome.to_json(), handle)
            os.replace(tmp, self.directory / f"{key}.json")
        except OSError:
            # a read-only cache directory slows builds down but does not change verdicts
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
