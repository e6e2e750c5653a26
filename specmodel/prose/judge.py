"""Verdicts for sentences: the sentence table's binding, and the bound claims' results.

A sentence is looked up by the hash of its normal form (:mod:`specmodel.prose.normalise`).
Verdicts: ``verified`` (every bound claim holds, or a structural sentence whose field-model check
exists), ``refuted`` (a bound claim is violated), ``ambiguous`` (readings whose claims disagree),
``descriptive``, ``outside`` (the model does not cover it), ``unjudged`` (unknown wording, or a
known behavioural sentence whose claim is still pending). Claim results come from
:class:`ClaimRunner`, which runs only the project's own claims (``checks``) and caches their
outcomes per model fingerprint (:func:`specmodel.sphinxext.cache.fingerprint`), so a warm run
imports no model code.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from specmodel.prose.normalise import first_words, sentence_hash, similarity, sketch
from specmodel.prose.table import Record, Table

VERDICTS = ("verified", "refuted", "ambiguous", "descriptive", "outside", "unjudged")
#: Below this Jaccard index a known sentence is not offered as "similar".
NEAREST_MIN = 0.3


@dataclass(frozen=True)
class ClaimOutcome:
    """One claim's result on the kernel model (what the cache stores)."""

    id: str
    holds: bool
    message: str
    steps: int = 0
    trace: tuple[str, ...] = ()
    schedule: str = ""
    seconds: float = 0.0
    states: int = 0


def model_fingerprint() -> str:
    """SHA-256 over the source files of specmodel and of the ``checks`` package.

    What :func:`specmodel.sphinxext.cache.fingerprint` hashes, without the installed version
    (reading package metadata costs more than a warm lint run may take; the sources decide
    the verdicts). Computed afresh per run, so an edited model or claim is never served stale.
    """
    import hashlib
    import importlib.util

    digest = hashlib.sha256()
    roots = [Path(__file__).resolve().parents[1]]
    # The built-in claims: installed as specmodel.checks (see specmodel.claims); in a source
    # tree used without installing, the checks/ folder beside the package.
    spec = importlib.util.find_spec("specmodel.checks")
    if spec is not None and spec.submodule_search_locations:
        roots.extend(Path(p) for p in spec.submodule_search_locations)
    elif (roots[0].parent / "checks").is_dir():
        roots.append(roots[0].parent / "checks")
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            digest.update(f"{root.name}/{path.relative_to(root)}".encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def default_cache_dir() -> Path:
    """``$SPECMODEL_CACHE_DIR``, else ``$XDG_CACHE_HOME/specmodel``, else ``~/.cache/specmodel``."""
    given = os.environ.get("SPECMODEL_CACHE_DIR")
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "specmodel"


class ClaimRunner:
    """Claim outcomes, from the cache file of this model fingerprint or by running them."""

    def __init__(
        self,
        cache_dir: Path | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.fingerprint = model_fingerprint()
        self.cache_dir = cache_dir
        self.progress = progress
        self.ran: list[str] = []
        self._outcomes: dict[str, ClaimOutcome] = {}
        if cache_dir is not None:
            self._outcomes.update(self._read())

    @property
    def _file(self) -> Path | None:
        if self.cache_dir is None:
            return None
        return self.cache_dir / f"prose-{self.fingerprint[:24]}.json"

    def _read(self) -> dict[str, ClaimOutcome]:
        path = self._file
        if path is None:
            return {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return {
                k: ClaimOutcome(**{**v, "trace": tuple(v["trace"])})
                for k, v in data["claims"].items()
            }
        except (OSError, ValueError, KeyError, TypeError):
            return {}  # no cache, or one from an incompatible version: run again

    def _write(self) -> None:
        path = self._file
        if path is None:
            return
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            payload = {
                "fingerprint": self.fingerprint,
                "claims": {k: asdict(v) for k, v in sorted(self._outcomes.items())},
            }
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".prose-", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as stream:
                json.dump(payload, stream, indent=1, sort_keys=True)
            os.replace(tmp, path)

    def outcomes(self, claim_ids: Iterable[str]) -> dict[str, ClaimOutcome]:
        """The outcome of each claim, running (and caching) the ones not cached."""
        wanted = sorted(set(claim_ids))
        missing = [c for c in wanted if c not in self._outcomes]
        if missing:
            from specmodel.claims import get_claim

            for n, claim_id in enumerate(missing, 1):
                if self.progress is not None:
                    self.progress(f"running claim {claim_id} ({n}/{len(missing)})")
                start = time.perf_counter()
                result = get_claim(claim_id).run()
                trace = result.trace
                self._outcomes[claim_id] = ClaimOutcome(
                    claim_id,
                    result.holds,
                    " ".join(result.message.split()),
                    len(trace) if trace is not None else 0,
                    tuple(step.render() for step in trace.steps) if trace is not None else (),
                    trace.schedule if trace is not None else "",
                    round(time.perf_counter() - start, 3),
                    result.states,
                )
                self.ran.append(claim_id)
            self._write()
        return {c: self._outcomes[c] for c in wanted}


def terminal_progress(message: str) -> None:
    """Progress on stderr, only when it is a terminal."""
    if sys.stderr.isatty():
        print(f"specmodel lint: {message} ...", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Where:
    """Where a sentence was read: ``path:line``, and for a patch the target file's line."""

    path: str
    line: int
    target: str | None = None
    target_line: int | None = None

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class Found:
    """A sentence as read from the input."""

    entry: str | None
    text: str
    where: Where


@dataclass(frozen=True)
class ReadingVerdict:
    claim: str
    reading: str
    expect: str
    verdict: str
    outcome: ClaimOutcome


@dataclass(frozen=True)
class Judgement:
    """The verdict on one sentence and what it rests on."""

    found: Found
    verdict: str
    hash: str
    words: str
    record: Record | None = None
    readings: tuple[ReadingVerdict, ...] = ()
    nearest: tuple[Record, float] | None = None
    reason: str = ""
    notes: tuple[str, ...] = field(default=())


def _nearest(table: Table, found: Found) -> tuple[Record, float] | None:
    mine = sketch(found.text)
    best: tuple[Record, float] | None = None
    for record in table.records:
        if found.entry is not None and record.entry != found.entry:
            continue
        score = similarity(mine, record.sketch)
        if score >= NEAREST_MIN and (best is None or score > best[1]):
            best = (record, score)
    return best


def needed_claims(table: Table, found: Sequence[Found]) -> set[str]:
    """The claims the verdicts on ``found`` depend on."""
    ids: set[str] = set()
    for item in found:
        record = table.lookup(sentence_hash(item.text), item.entry)
        if record is not None:
            ids.update(r.claim for r in record.claims)
    return ids


def judge(table: Table, found: Sequence[Found], runner: ClaimRunner | None) -> list[Judgement]:
    """A verdict for each sentence (claims run through ``runner``; None: none needed)."""
    needed = needed_claims(table, found)
    outcomes = runner.outcomes(needed) if (needed and runner is not None) else {}
    return [_judge_one(table, item, outcomes) for item in found]


def _judge_one(table: Table, found: Found, outcomes: dict[str, ClaimOutcome]) -> Judgement:
    digest = sentence_hash(found.text)
    words = first_words(found.text)
    if len(words) < len(found.text):
        words += "..."
    record = table.lookup(digest, found.entry)
    if record is None:
        return Judgement(
            found,
            "unjudged",
            digest,
            words,
            nearest=_nearest(table, found),
            reason="no known sentence has this wording",
        )
    notes: list[str] = []
    if found.entry is not None and record.entry != found.entry:
        notes.append(f"known from the entry {record.entry!r}")
    if record.cls == "descriptive":
        return Judgement(
            found, "descriptive", digest, words, record, reason=record.reason, notes=tuple(notes)
        )
    if record.cls == "outside":
        return Judgement(
            found,
            "outside",
            digest,
            words,
            record,
            reason=f"{record.reason}; a model would need {record.needs}",
            notes=tuple(notes),
        )
    if record.cls == "structural":
        if record.checks:
            return Judgement(
                found,
                "verified",
                digest,
                words,
                record,
                reason="enforced by the field model: " + ", ".join(record.checks),
                notes=tuple(notes),
            )
        return Judgement(
            found, "unjudged", digest, words, record, reason=record.reason, notes=tuple(notes)
        )
    if not record.claims:
        return Judgement(
            found, "unjudged", digest, words, record, reason=record.reason, notes=tuple(notes)
        )
    readings: list[ReadingVerdict] = []
    for bound in record.claims:
        outcome = outcomes.get(bound.claim)
        if outcome is None:
            return Judgement(
                found,
                "unjudged",
                digest,
                words,
                record,
                reason=f"claim {bound.claim} was not run",
                notes=tuple(notes),
            )
        verdict = "verified" if outcome.holds else "refuted"
        if verdict != bound.expect:
            notes.append(
                f"the table expects {bound.claim} to be {bound.expect}; "
                f"the model now says {verdict}"
            )
        readings.append(ReadingVerdict(bound.claim, bound.reading, bound.expect, verdict, outcome))
    verdicts = {r.verdict for r in readings}
    if record.ambiguous_readings and len(verdicts) > 1:
        overall = "ambiguous"
    else:
        overall = "refuted" if "refuted" in verdicts else "verified"
    refuted = next((r for r in readings if r.verdict == "refuted"), None)
    if refuted is not None:
        reason = refuted.outcome.message
    else:
        reason = "holds in " + ", ".join(f"{r.outcome.states} states" for r in readings)
    return Judgement(
        found, overall, digest, words, record, tuple(readings), reason=reason, notes=tuple(notes)
    )


def judgement_json(j: Judgement, traces: bool = True) -> dict[str, Any]:
    """The JSON form of a judgement (full traces unless ``traces`` is False)."""
    out: dict[str, Any] = {
        "path": j.found.where.path,
        "line": j.found.where.line,
        "target": j.found.where.target,
        "target_line": j.found.where.target_line,
        "entry": j.found.entry,
        "hash": j.hash,
        "words": j.words,
        "verdict": j.verdict,
        "reason": j.reason,
        "notes": list(j.notes),
        "known": None,
        "readings": [],
        "nearest": None,
    }
    if j.record is not None:
        r = j.record
        out["known"] = {
            "id": r.id,
            "class": r.cls,
            "paraphrase": r.paraphrase,
            "wordings": list(r.wordings),
            "checks": list(r.checks),
            "reason": r.reason,
            "needs": r.needs,
        }
    for reading in j.readings:
        o = reading.outcome
        item: dict[str, Any] = {
            "claim": reading.claim,
            "reading": reading.reading,
            "expect": reading.expect,
            "verdict": reading.verdict,
            "message": o.message,
            "steps": o.steps,
            "schedule": o.schedule,
        }
        if traces:
            item["trace"] = list(o.trace)
        out["readings"].append(item)
    if j.nearest is not None:
        rec, score = j.nearest
        out["nearest"] = {
            "id": rec.id,
            "words": rec.words,
            "paraphrase": rec.paraphrase,
            "similarity": round(score, 2),
            "only_similar": True,
        }
    return out
