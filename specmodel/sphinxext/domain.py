"""The ``spec`` domain: per-document records of models, fields, claims and verdicts.

Everything a directive concludes is stored here, keyed by docname, so that ``-j`` reads merge
it (``merge_domaindata``), a re-read document replaces it (``clear_doc``), and the build's end
can re-report every failing verdict even for documents that were not re-read.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Set
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from docutils import nodes
from sphinx.domains import Domain, ObjType
from sphinx.roles import XRefRole
from sphinx.util.nodes import make_refnode

from specmodel.sphinxext.records import Verdict
from specmodel.sphinxext.sources import Conflict, Mark

if TYPE_CHECKING:
    from docutils.parsers.rst import Directive
    from sphinx.addnodes import pending_xref
    from sphinx.builders import Builder
    from sphinx.environment import BuildEnvironment

#: Per-document tables; each maps docname -> list of records. ``marks``: the spec markup the
#: raw source has (sources.Mark); ``ran``: (path, line) of every spec directive that ran;
#: ``xrefs``: XrefUse; ``absorbed``: docutils messages turned into verdicts (printed once);
#: ``checks``: the checks (records.Check) run after reading (batch.py).
PER_DOC = ("models", "fields", "claims", "verdicts", "marks", "ran", "xrefs", "absorbed", "checks")


@dataclass(frozen=True)
class ModelDecl:
    """A ``spec:model`` directive."""

    model: str
    path: str
    line: int
    docname: str
    #: (name, C type) of every field of the model when the directive was read; a change
    #: to the model re-reads every document (the source fingerprint), refreshing it.
    fields: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class FieldDoc:
    """A ``spec:field`` directive that names a real field."""

    model: str
    name: str
    path: str
    line: int
    anchor: str
    docname: str
    #: whether the body has any text: an entry with none documents nothing (coverage)
    prose: bool = True


@dataclass(frozen=True)
class XrefUse:
    """A ``:spec:field:`` or ``:spec:claim:`` cross-reference, at the role's own line."""

    typ: str
    target: str
    path: str
    line: int
    docname: str


@dataclass(frozen=True)
class ClaimDoc:
    """A ``spec:claim`` directive, as a cross-reference target."""

    claim_id: str
    anchor: str


class SpecDomain(Domain):
    """Directives and roles that tie prose to the specmodel reference model."""

    name = "spec"
    label = "specmodel"
    object_types = {  # noqa: RUF012 (Domain declares these as plain class attributes)
        "field": ObjType("field", "field"),
        "claim": ObjType("claim", "claim"),
    }
    roles = {  # noqa: RUF012
        "field": XRefRole(),
        "claim": XRefRole(),
    }
    initial_data = {  # noqa: RUF012
        "models": {},
        "fields": {},
        "claims": {},
        "verdicts": {},
        #: the checks (records.Check) each document asks for, run after reading (batch.py)
        "checks": {},
        "marks": {},
        "ran": {},
        "xrefs": {},
        "absorbed": {},
        #: bumped before each read phase; verdicts computed in it carry its number
        "generation": 0,
        #: specmodel sources fingerprint the stored verdicts were computed with
        "fingerprint": "",
    }
    data_version = 2
    dangling_warnings = {  # noqa: RUF012
        "field": "spec:field reference target not found: %(target)s",
        "claim": "spec:claim reference target not found: %(target)s",
    }

    def directive(self, name: str) -> type[Directive] | None:
        """The registered directive, noting (path, line) in ``ran`` whenever one runs, so
        the markup the raw source has can be compared with what docutils actually ran."""
        base = super().directive(name)
        if base is None or getattr(base, "_specmodel_noted", False):
            return base

        class Noted(base):  # type: ignore[valid-type,misc]
            _specmodel_noted = True

            def run(self) -> list[nodes.Node]:
                source, line = self.get_source_info()
                path = os.path.abspath(source or self.env.doc2path(self.env.docname))
                spec_domain(self.env).add("ran", self.env.docname, (path, int(line or 0)))
                return list(super().run())

        self._directive_cache[name] = Noted
        return Noted

    # -- per-document bookkeeping -------------------------------------------------------------

    def _table(self, name: str) -> dict[str, list[Any]]:
        table: dict[str, list[Any]] = self.data.setdefault(name, {})
        return table

    def add(self, table: str, docname: str, record: object) -> None:
        self._table(table).setdefault(docname, []).append(record)

    def add_verdict(self, verdict: Verdict) -> None:
        self.add("verdicts", verdict.docname, verdict)

    def clear_doc(self, docname: str) -> None:
        for name in PER_DOC:
            self._table(name).pop(docname, None)

    def merge_domaindata(self, docnames: Set[str], otherdata: dict[str, Any]) -> None:
        for name in PER_DOC:
            theirs = otherdata.get(name, {})
            for docname in docnames:
                if docname in theirs:
                    self._table(name)[docname] = list(theirs[docname])

    def records(self, table: str) -> Iterator[Any]:
        for docname in sorted(self._table(table)):
            yield from self._table(table)[docname]

    @property
    def generation(self) -> int:
        return int(self.data.get("generation", 0))

    def stored_verdicts(self) -> list[Verdict]:
        """Every verdict of every document, in document order."""
        return sorted(self.records("verdicts"), key=lambda v: (v.docname, v.path, v.line))

    def fresh_runs(self) -> list[Verdict]:
        """Checks computed (not taken from the cache) in the latest read phase."""
        return [
            v
            for v in self.records("verdicts")
            if v.generation == self.generation
            and not v.cached
            and v.status != "skipped"
            and v.kind in ("claim", "invariant", "run")
        ]

    def marks(self, docname: str) -> list[Mark | Conflict]:
        """The spec markup the raw source of ``docname`` (and its includes) has."""
        return list(self._table("marks").get(docname, ()))

    def owner(self, path: str) -> str | None:
        """The document whose source (or an include of it) is ``path`` and has spec markup."""
        for docname in sorted(self._table("marks")):
            marks = self._table("marks")[docname]
            if not any(isinstance(m, Mark) for m in marks):
                continue
            own = os.path.abspath(self.env.doc2path(docname))
            if own == path or any(m.path == path for m in marks):
                return docname
        return None

    def absorbed(self) -> set[tuple[str, str, str]]:
        """Docutils messages (source, line, first line) that became verdicts."""
        return {key for keys in self._table("absorbed").values() for key in keys}

    def locate(self, docname: str, path: str, line: int, text: str, taken: set[Mark]) -> int:
        """The line of the role ``text`` (its first line, or a ``:spec:name:`` prefix) near
        ``line``, where docutils located it: a paragraph's first line, or one line late in
        a simple table. Each line found is added to ``taken``, so a second identical role in
        the same paragraph gets the next one."""
        first = text.splitlines()[0] if text else ""
        for exact in (True, False):
            found = [
                m
                for m in self.marks(docname)
                if isinstance(m, Mark)
                and m.kind == "role"
                and m.path == path
                and m not in taken
                and (m.text == first if exact else m.text.startswith(first))
            ]
            if found:
                best = min(found, key=lambda m: (abs(m.line - line), m.line))
                taken.add(best)
                return best.line
        return line

    def docs_with_checks(self) -> set[str]:
        return {d for d, vs in self._table("verdicts").items() if vs}

    # -- cross-references -----------------------------------------------------------------------

    def _targets(self, typ: str) -> Iterator[tuple[str, str, str]]:
        """``(name, docname, anchor)`` for fields or claims, first one wins."""
        if typ == "field":
            for docname in sorted(self._table("fields")):
                for doc in self._table("fields")[docname]:
                    yield doc.name, docname, doc.anchor
        elif typ == "claim":
            for docname in sorted(self._table("claims")):
                for claim in self._table("claims")[docname]:
                    yield claim.claim_id, docname, claim.anchor

    def _find(self, typ: str, target: str) -> tuple[str, str] | None:
        for name, docname, anchor in self._targets(typ):
            if name == target:
                return docname, anchor
        return None

    def resolve_xref(
        self,
        env: BuildEnvironment,
        fromdocname: str,
        builder: Builder,
        typ: str,
        target: str,
        node: pending_xref,
        contnode: nodes.Element,
    ) -> nodes.reference | None:
        found = self._find(typ, target)
        if found is None:
            return None
        return make_refnode(builder, fromdocname, found[0], found[1], contnode, target)

    def resolve_any_xref(
        self,
        env: BuildEnvironment,
        fromdocname: str,
        builder: Builder,
        target: str,
        node: pending_xref,
        contnode: nodes.Element,
    ) -> list[tuple[str, nodes.reference]]:
        results: list[tuple[str, nodes.reference]] = []
        for typ in ("field", "claim"):
            found = self._find(typ, target)
            if found is not None:
                ref = make_refnode(builder, fromdocname, found[0], found[1], contnode, target)
                results.append((f"spec:{typ}", ref))
        return results

    def get_objects(self) -> Iterable[tuple[str, str, str, str, str, int]]:
        seen: set[tuple[str, str]] = set()
        for typ in ("field", "claim"):
            for name, docname, anchor in self._targets(typ):
                if (typ, name) not in seen:
                    seen.add((typ, name))
                    yield name, name, typ, docname, anchor, 1


#: the document attribute holding the role marks already matched to a role (see locate)
_TAKEN = "_specmodel_taken"


def taken_roles(document: nodes.document, *, pop: bool = False) -> set[Mark]:
    """The role marks of ``document`` already matched (:meth:`SpecDomain.locate`); shared
    by the roles (while parsing) and the markup transform (after), dropped by the latter
    so the doctree pickles without it."""
    if pop:
        taken: set[Mark] = document.__dict__.pop(_TAKEN, set())
        return taken
    kept: set[Mark] = document.__dict__.setdefault(_TAKEN, set())
    return kept


def spec_domain(env: BuildEnvironment) -> SpecDomain:
    domain = env.domains["spec"]
    assert isinstance(domain, SpecDomain)
    return domain
