"""The coverage report of a sentence table: how many sentences are bound, and which are not.

Counted over the table's current wording (v6.7): behavioural sentences are bound when they name
claims, structural ones when they name field-model checks; every unbound one is listed with
its stated reason. The same figures appear in ``specmodel claims``, in the docs build summary
and in the generated table of ``.. spec:prose-coverage::``.
"""

from __future__ import annotations

from dataclasses import dataclass

from specmodel.prose.table import CLASSES, Record, Table


@dataclass(frozen=True)
class Coverage:
    table: str
    sentences: int
    classes: dict[str, int]
    bound: dict[str, int]
    unbound: tuple[Record, ...]

    def summary(self) -> str:
        """One line: N sentences, bound behavioural/structural ones, unbound ones."""
        b, s = self.classes["behavioural"], self.classes["structural"]
        return (
            f"prose coverage ({self.table}): {self.sentences} sentences; "
            f"{self.bound['behavioural']} of {b} behavioural and {self.bound['structural']} of "
            f"{s} structural bound; {self.classes['descriptive']} descriptive, "
            f"{self.classes['outside']} outside the model; {len(self.unbound)} unbound "
            f"(each with a reason)"
        )

    def to_json(self) -> dict[str, object]:
        return {
            "table": self.table,
            "sentences": self.sentences,
            "classes": dict(self.classes),
            "bound": dict(self.bound),
            "unbound": [
                {"id": r.id, "class": r.cls, "words": r.words, "reason": r.reason}
                for r in self.unbound
            ],
        }


def coverage(table: Table) -> Coverage:
    current = table.current()
    classes = {c: sum(r.cls == c for r in current) for c in CLASSES}
    bound = {c: sum(r.cls == c and r.bound for r in current) for c in CLASSES}
    unbound = tuple(r for r in current if r.cls in ("behavioural", "structural") and not r.bound)
    return Coverage(table.name, len(current), classes, bound, unbound)


def binding_text(record: Record) -> str:
    """What a record is bound to, or why it is not, in one line (docs and reports)."""
    if record.claims:
        return "; ".join(
            f"{r.claim} ({r.reading + ': ' if r.reading else ''}expected {r.expect})"
            for r in record.claims
        )
    if record.checks:
        return ", ".join(record.checks)
    if record.cls == "outside":
        return f"{record.reason}; needs {record.needs}"
    return record.reason


def claims_section(
    claim_ids: list[str], name: str = "kvm_mmu_page"
) -> tuple[list[str], dict[str, object], bool]:
    """The ``specmodel claims`` section: text lines, JSON, and whether every binding resolves."""
    from specmodel.prose.table import binding_errors, load_table

    table = load_table(name)
    cov = coverage(table)
    errors = binding_errors(table, claim_ids)
    lines = [f"sentence table {name}:", f"    {cov.summary()}"]
    lines += [f"    unbound: {r.id} ({r.cls}): {r.reason}" for r in cov.unbound]
    lines += [f"    BAD BINDING: {e}" for e in errors]
    data = cov.to_json() | {"binding_errors": errors}
    return lines, data, not errors
