"""End-of-build field coverage: every field of every declared model documented exactly once."""

from __future__ import annotations

from collections import defaultdict

from specmodel.sphinxext.domain import FieldDoc, ModelDecl, SpecDomain
from specmodel.sphinxext.records import Verdict


def coverage_verdicts(domain: SpecDomain) -> list[Verdict]:
    """A diverged verdict per field documented twice or more, and per undocumented field."""
    verdicts: list[Verdict] = []
    docs: dict[tuple[str, str], list[FieldDoc]] = defaultdict(list)
    for doc in sorted(domain.records("fields"), key=lambda d: (d.docname, d.line)):
        docs[doc.model, doc.name].append(doc)
    for (model, name), places in sorted(docs.items()):
        first = places[0]
        for again in places[1:]:
            verdicts.append(
                Verdict(
                    path=again.path,
                    line=again.line,
                    kind="coverage",
                    target=f"{model}.{name}",
                    status="diverged",
                    message=(
                        f"field {name} of {model} is documented {len(places)} times; expected "
                        f"exactly one spec:field, first at {first.path}:{first.line}"
                    ),
                    docname=again.docname,
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
