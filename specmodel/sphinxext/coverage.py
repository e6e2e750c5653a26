"""End-of-build field coverage: every field of every declared model documented exactly once."""

from __future__ import annotations

import os
from collections import defaultdict

from specmodel.sphinxext.domain import FieldDoc, ModelDecl, SpecDomain
from specmodel.sphinxext.records import Verdict


def _place(domain: SpecDomain, doc: FieldDoc) -> str:
    """``path:line``, naming the including document when the entry is in an included file
    (a fragment included from two documents is the same line twice)."""
    place = f"{doc.path}:{doc.line}"
    source = _source(domain, doc.docname)
    if source and os.path.abspath(source) != os.path.abspath(doc.path):
        place += f" (included from {source})"
    return place


def _source(domain: SpecDomain, docname: str) -> str:
    try:
        return str(domain.env.doc2path(docname))
    except Exception:  # a docname the project no longer has
        return ""


def coverage_verdicts(domain: SpecDomain) -> list[Verdict]:
    """A diverged verdict per field documented twice or more, per ``spec:field`` with no
    prose, and per undocumented field."""
    verdicts: list[Verdict] = []
    docs: dict[tuple[str, str], list[FieldDoc]] = defaultdict(list)
    for doc in sorted(domain.records("fields"), key=lambda d: (d.docname, d.line)):
        docs[doc.model, doc.name].append(doc)
    for (model, name), places in sorted(docs.items()):
        first = places[0]
        for again in places[1:]:
            here = ""
            if _source(domain, again.docname) and again.path != _source(domain, again.docname):
                here = f"; this one included from {_source(domain, again.docname)}"
            verdicts.append(
                Verdict(
                    path=again.path,
                    line=again.line,
                    kind="coverage",
                    target=f"{model}.{name}",
                    status="diverged",
                    message=(
                        f"field {name} of {model} is documented {len(places)} times; expected "
                        f"exactly one spec:field, first at {_place(domain, first)}{here}"
                    ),
                    docname=again.docname,
                )
            )
        for empty in places:
            if not empty.prose:
                verdicts.append(
                    Verdict(
                        path=empty.path,
                        line=empty.line,
                        kind="coverage",
                        target=f"{model}.{name}",
                        status="diverged",
                        message=(
                            f"spec:field {name} has no prose: an entry with no text documents "
                            f"nothing; expected a description of {model}.{name} in its body"
                        ),
                        docname=empty.docname,
                    )
                )
    declared: dict[str, ModelDecl] = {}
    for decl in sorted(domain.records("models"), key=lambda d: (d.docname, d.line)):
        declared.setdefault(decl.model, decl)
    for model, decl in sorted(declared.items()):
        # the field list the directive stored: no need to import the models here
        for name, c_type in decl.fields:
            if (model, name) not in docs:
                verdicts.append(
                    Verdict(
                        path=decl.path,
                        line=decl.line,
                        kind="coverage",
                        target=f"{model}.{name}",
                        status="diverged",
                        message=(
                            f"model {model}: field {name} ({c_type}) is documented "
                            f"nowhere; expected one '.. spec:field:: {name}' in the project"
                        ),
                        docname=decl.docname,
                    )
                )
    return verdicts


def all_verdicts(domain: SpecDomain) -> list[Verdict]:
    """Stored directive verdicts, then the project-wide coverage verdicts."""
    return domain.stored_verdicts() + coverage_verdicts(domain)
