"""The sentence table: one record per known sentence of the kvm_mmu_page field list.

The table is ``kvm_mmu_page.toml`` next to this module (its header comment documents the
format). :func:`load_table` parses and validates its shape; :func:`binding_errors` checks that
every bound claim id and structural check exists (it imports ``checks`` and the field models, so
lint does not call it on its warm path; the tests and ``specmodel claims`` do).
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specmodel.errors import SpecmodelError

TABLES_DIR = Path(__file__).resolve().parent
CLASSES = ("behavioural", "structural", "descriptive", "outside")
EXPECT = ("verified", "refuted")
WORDINGS = ("v6.7", "v3", "review")
#: The wording the coverage report counts (the sentence table proper).
CURRENT = "v6.7"
PENDING = "claim pending"


class TableError(SpecmodelError):
    """The sentence table is malformed: names the record (1-based) and what is wrong."""


@dataclass(frozen=True)
class Reading:
    """One claim a sentence is bound to; ``reading`` names the interpretation (or '')."""

    claim: str
    expect: str
    reading: str = ""


@dataclass(frozen=True)
class Record:
    """One known sentence."""

    id: str
    entry: str
    hash: str
    words: str
    wordings: tuple[str, ...]
    cls: str
    paraphrase: str
    sketch: str
    #: Bound claims. ``ambiguous_readings``: alternatives (a verdict per reading); otherwise
    #: all of them must hold for the sentence to be verified.
    claims: tuple[Reading, ...] = ()
    ambiguous_readings: bool = False
    checks: tuple[str, ...] = ()
    reason: str = ""
    needs: str = ""

    @property
    def bound(self) -> bool:
        return bool(self.claims or self.checks)

    @property
    def judged(self) -> bool:
        """Whether lint gives the sentence a verdict from a claim."""
        return bool(self.claims)


@dataclass(frozen=True)
class Table:
    name: str
    source: str
    records: tuple[Record, ...]

    @functools.cached_property
    def by_hash(self) -> Mapping[str, tuple[Record, ...]]:
        found: dict[str, list[Record]] = {}
        for record in self.records:
            found.setdefault(record.hash, []).append(record)
        return {k: tuple(v) for k, v in found.items()}

    def current(self) -> tuple[Record, ...]:
        """The records of the current wording (what coverage counts)."""
        return tuple(r for r in self.records if CURRENT in r.wordings)

    def lookup(self, sentence_hash: str, entry: str | None) -> Record | None:
        """The record for this hash, preferring one of ``entry``."""
        found = self.by_hash.get(sentence_hash, ())
        for record in found:
            if entry is None or record.entry == entry:
                return record
        return found[0] if found else None


def table_path(name: str) -> Path:
    return TABLES_DIR / f"{name}.toml"


def available_tables() -> list[str]:
    return sorted(p.stem for p in TABLES_DIR.glob("*.toml"))


@functools.cache
def load_table(name: str = "kvm_mmu_page") -> Table:
    """Parse and validate the table ``name``; TableError naming the record on a bad one."""
    path = table_path(name)
    if not path.is_file():
        raise TableError(
            f"unknown sentence table {name!r}; expected one of: {', '.join(available_tables())}"
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise TableError(f"{path}: expected TOML; {exc}") from None
    return parse_table(data, str(path))


def parse_table(data: Mapping[str, Any], where: str) -> Table:
    head = data.get("table", {})
    records: list[Record] = []
    counters: dict[tuple[str, str], int] = {}
    for number, raw in enumerate(data.get("sentence", []), 1):
        records.append(_record(raw, f"{where}: sentence {number}", counters))
    seen: dict[tuple[str, str], str] = {}
    for record in records:
        key = (record.entry, record.hash)
        if key in seen:
            raise TableError(
                f"{where}: sentence {record.id} repeats {seen[key]} (same entry and hash)"
            )
        seen[key] = record.id
    return Table(str(head.get("name", "")), str(head.get("source", "")), tuple(records))


_KEYS = {
    "entry", "hash", "words", "wordings", "class", "paraphrase", "sketch",
    "claims", "readings", "checks", "reason", "needs",
}  # fmt: skip


def _text(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise TableError(f"{where}: expected a non-empty string {key!r}; found {value!r}")
    return value


def _record(raw: Mapping[str, Any], where: str, counters: dict[tuple[str, str], int]) -> Record:
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise TableError(f"{where}: unknown key(s) {', '.join(unknown)}; expected {sorted(_KEYS)}")
    entry = _text(raw, "entry", where)
    digest = _text(raw, "hash", where)
    if len(digest) != 16 or any(c not in "0123456789abcdef" for c in digest):
        raise TableError(
            f"{where}: expected 'hash' to be 16 lower-case hex digits; found {digest!r}"
        )
    wordings = raw.get("wordings")
    if not isinstance(wordings, list) or not wordings or any(w not in WORDINGS for w in wordings):
        raise TableError(f"{where}: expected 'wordings' from {list(WORDINGS)}; found {wordings!r}")
    cls = _text(raw, "class", where)
    if cls not in CLASSES:
        raise TableError(f"{where}: expected 'class' one of {list(CLASSES)}; found {cls!r}")
    label = wordings[0] if CURRENT not in wordings else CURRENT
    counters[(entry, label)] = counters.get((entry, label), 0) + 1
    n = counters[(entry, label)]
    slug = entry.replace(" / ", "/")
    record_id = f"{slug}#{n}" if label == CURRENT else f"{slug}#{label}.{n}"
    where = f"{where} ({record_id})"
    claims, readings = raw.get("claims"), raw.get("readings")
    bound: tuple[Reading, ...] = ()
    if claims is not None and readings is not None:
        raise TableError(f"{where}: expected 'claims' or 'readings', not both")
    if claims is not None or readings is not None:
        if cls != "behavioural":
            raise TableError(f"{where}: a {cls} sentence is bound to no claim; found claims")
        items = claims if claims is not None else readings
        if not isinstance(items, list) or not items:
            raise TableError(f"{where}: expected a non-empty list of claims; found {items!r}")
        bound = tuple(_reading(item, where, readings is not None) for item in items)
        if readings is not None and len(bound) < 2:
            raise TableError(f"{where}: 'readings' needs two or more; use 'claims' for one")
    checks = raw.get("checks", [])
    if not isinstance(checks, list) or any(not isinstance(c, str) for c in checks):
        raise TableError(f"{where}: expected 'checks' to be a list of strings; found {checks!r}")
    if checks and cls != "structural":
        raise TableError(f"{where}: only structural sentences name field-model checks")
    reason = raw.get("reason", "")
    needs = raw.get("needs", "")
    if cls == "structural" and not checks and not reason:
        raise TableError(f"{where}: a structural sentence needs 'checks' or a 'reason'")
    if cls == "behavioural" and not bound and not reason:
        raise TableError(
            f"{where}: a behavioural sentence needs 'claims', 'readings' or a 'reason' "
            f"(e.g. {PENDING!r})"
        )
    if cls in ("descriptive", "outside") and not reason:
        raise TableError(f"{where}: a {cls} sentence needs a one-line 'reason'")
    if cls == "outside" and not needs:
        raise TableError(f"{where}: an outside sentence needs 'needs' (what a model would need)")
    if bound and reason:
        raise TableError(f"{where}: a bound sentence has no 'reason' (drop the pending line)")
    return Record(
        id=record_id,
        entry=entry,
        hash=digest,
        words=_text(raw, "words", where),
        wordings=tuple(wordings),
        cls=cls,
        paraphrase=_text(raw, "paraphrase", where),
        sketch=str(raw.get("sketch", "")),
        claims=bound,
        ambiguous_readings=readings is not None,
        checks=tuple(checks),
        reason=str(reason),
        needs=str(needs),
    )


def _reading(item: object, where: str, named: bool) -> Reading:
    if not isinstance(item, dict):
        raise TableError(f"{where}: expected {{ id = ..., expect = ... }}; found {item!r}")
    claim_id = item.get("id")
    expect = item.get("expect")
    if not isinstance(claim_id, str) or not claim_id:
        raise TableError(f"{where}: expected a claim 'id'; found {claim_id!r}")
    if expect not in EXPECT:
        raise TableError(f"{where}: expected 'expect' one of {list(EXPECT)}; found {expect!r}")
    reading = item.get("reading", "")
    if named and not reading:
        raise TableError(f"{where}: each of 'readings' needs a 'reading' name")
    return Reading(claim_id, str(expect), str(reading))


def binding_errors(table: Table, claim_ids: Iterable[str] | None = None) -> list[str]:
    """Bindings that name no existing claim or field-model check (empty when all resolve)."""
    from specmodel.structs.fields import MODELS, field_specs

    if claim_ids is None:
        from specmodel.claims import all_claims

        claim_ids = [c.id for c in all_claims()]
    known = set(claim_ids)
    fields = {s.name for model in MODELS for s in field_specs(model)}
    errors: list[str] = []
    for record in table.records:
        for reading in record.claims:
            if reading.claim not in known:
                errors.append(f"{record.id}: unknown claim {reading.claim!r}")
        for check in record.checks:
            kind, _, name = check.partition(":")
            if kind == "field":
                ok = name in fields
            elif kind == "rule":
                model, _, attr = name.partition(".")
                ok = model in MODELS and callable(getattr(MODELS[model], attr, None))
            else:
                ok = False
            if not ok:
                errors.append(
                    f"{record.id}: unknown check {check!r}; expected 'field:<name>' or "
                    "'rule:<Model>.<validator>' of the field models"
                )
    return errors
