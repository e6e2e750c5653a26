"""Event handlers: model fingerprinting, read generations, markup errors, the final report.

Verdicts are reported (and the exit status set) only in ``build-finished``, from the domain
data, so every build, including an unchanged incremental one, reports every failing verdict
exactly once and fails (SPHINX.md 2.6, 2.7).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence, Set
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.environment import BuildEnvironment
from sphinx.transforms import SphinxTransform
from sphinx.util import logging

from specmodel.sphinxext.cache import fingerprint
from specmodel.sphinxext.coverage import all_verdicts
from specmodel.sphinxext.domain import SpecDomain, spec_domain
from specmodel.sphinxext.records import Verdict

logger = logging.getLogger(__name__)

DIRECTIVES = ("claim", "field", "invariant", "model", "run")
ROLES = ("claim", "field", "value")
# docutils 0.22 quotes names with typographic quotes in the doctree, ASCII ones in the log
_Q = '["\u201c\u201d]'
_UNKNOWN_DIRECTIVE = re.compile(rf"Unknown directive type {_Q}spec:([^\"\u201d]*){_Q}", re.I)
_UNKNOWN_ROLE = re.compile(rf"Unknown interpreted text role {_Q}spec:([^\"\u201d]*){_Q}", re.I)
_DIRECTIVE_ERROR = re.compile(rf"Error in {_Q}(spec:[^\"\u201d]*){_Q} directive:\s*(.*)", re.S)


def resolve_cache_dir(app: Sphinx, config: Config) -> None:
    """``config-inited``: '' means ``<confdir>/.specmodel_cache``; relative to the confdir."""
    value = config.specmodel_cache_dir
    if value is None:
        return
    base = Path(app.confdir or app.srcdir)
    config.specmodel_cache_dir = str(base / (value or ".specmodel_cache"))


def outdated_by_model(
    app: Sphinx, env: BuildEnvironment, added: Set[str], changed: Set[str], removed: Set[str]
) -> Sequence[str]:
    """``env-get-outdated``: re-read every document with checks when the model changed, and
    each document with a check whose dependencies (files, settings) changed since it ran."""
    from specmodel.sphinxext.batch import outdated

    domain = spec_domain(env)
    current = fingerprint()
    if domain.data.get("fingerprint") == current:
        return sorted(outdated(app, env) & set(env.found_docs) - set(removed))
    domain.data["fingerprint"] = current
    return sorted(domain.docs_with_checks() & set(env.found_docs) - set(removed))


def next_generation(app: Sphinx, env: BuildEnvironment, docnames: list[str]) -> None:
    """``env-before-read-docs``: verdicts computed from here on carry a new generation."""
    domain = spec_domain(env)
    domain.data["generation"] = domain.generation + 1


class MarkupErrors(SphinxTransform):
    """Turn docutils' ERROR messages about spec markup into verdicts (they exit 0 otherwise).

    A misspelled ``.. spec:claimm::``, an unknown ``:spec:xyz:`` role and a directive with the
    wrong number of arguments are only docutils system messages; they are filtered out of the
    doctree at priority 999, so this runs just before.
    """

    default_priority = 990

    def apply(self, **kwargs: Any) -> None:
        domain = spec_domain(self.env)
        for message in list(self.document.findall(nodes.system_message)):
            if message.get("level", 0) < 3:
                continue
            text = message.astext() if not message.children else message[0].astext()
            found = _describe(text)
            if found is None:
                continue
            target, description = found
            domain.add_verdict(
                Verdict(
                    path=os.path.abspath(
                        message.get("source") or self.env.doc2path(self.env.docname)
                    ),
                    line=int(message.get("line") or 0),
                    kind="markup",
                    target=target,
                    status="error",
                    message=description,
                    docname=self.env.docname,
                    generation=domain.generation,
                )
            )


def _describe(text: str) -> tuple[str, str] | None:
    if match := _UNKNOWN_DIRECTIVE.search(text):
        valid = ", ".join(f"spec:{d}" for d in DIRECTIVES)
        name = f"spec:{match[1]}"
        return name, f"unknown directive {name}; expected one of: {valid}"
    if match := _UNKNOWN_ROLE.search(text):
        valid = ", ".join(f":spec:{r}:" for r in ROLES)
        name = f":spec:{match[1]}:"
        return name, f"unknown role {name}; expected one of: {valid}"
    if match := _DIRECTIVE_ERROR.search(text):
        detail = " ".join(match[2].split(".. ")[0].split())
        return match[1], f"{match[1]} directive: {detail}"
    return None


def report(app: Sphinx, exception: BaseException | None) -> None:
    """``build-finished``: log every failing verdict at its location and fail the build."""
    if exception is not None or app.env is None:
        return
    domain = app.env.domains["spec"]
    if not isinstance(domain, SpecDomain):
        return
    verdicts = all_verdicts(domain)
    for verdict in verdicts:
        if verdict.failed:
            logger.error(
                verdict.message,
                location=verdict.location,
                type="spec",
                subtype="divergence" if verdict.status == "diverged" else "error",
            )
    summary = _summary(verdicts)
    if summary:
        logger.info(summary)
    if any(v.failed for v in verdicts):
        app.statuscode = 1


def _summary(verdicts: list[Verdict]) -> str:
    checks = [v for v in verdicts if v.kind in ("claim", "invariant", "run")]
    if not verdicts:
        return ""
    counts = {s: sum(v.status == s for v in verdicts) for s in ("held", "diverged", "error")}
    skipped = sum(v.status == "skipped" for v in checks)
    text = (
        f"specmodel: {len(verdicts)} verdicts, {counts['held']} held, "
        f"{counts['diverged']} diverged, {counts['error']} errors; "
        f"{sum(v.states for v in checks)} states explored"
    )
    if skipped:
        text += f"; {skipped} checks skipped (specmodel_skip_exploration)"
    return text
