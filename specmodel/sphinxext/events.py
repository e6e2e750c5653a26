"""Event handlers: model fingerprinting, read generations, the final report.

The markup checks (what docutils could not read) live in :mod:`specmodel.sphinxext.markup`;
:class:`MarkupErrors` and :func:`connect` are re-exported here, where ``setup()`` finds them.

Verdicts are reported (and the exit status set) only in ``build-finished``, from the domain
data, so every build, including an unchanged incremental one, reports every failing verdict
exactly once and fails (SPHINX.md 2.6, 2.7).
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.environment import BuildEnvironment
from sphinx.util import logging

from specmodel.sphinxext.cache import fingerprint
from specmodel.sphinxext.coverage import all_verdicts
from specmodel.sphinxext.domain import SpecDomain, spec_domain
from specmodel.sphinxext.markup import MarkupErrors as MarkupErrors
from specmodel.sphinxext.markup import connect as connect
from specmodel.sphinxext.records import Verdict

logger = logging.getLogger(__name__)


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
