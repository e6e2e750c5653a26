"""Sphinx extension: ``extensions = ["specmodel.sphinxext"]`` adds the ``spec`` domain."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sphinx.application import Sphinx
    from sphinx.util.typing import ExtensionMetadata

#: Bump when the shape of stored domain data or verdict records changes.
ENV_VERSION = 2


def _add_static(app: Sphinx) -> None:
    """Ship the stylesheet of verdict boxes, field headers and counterexamples with the
    extension, so every project that loads it gets it (HTML builders only)."""
    static = Path(__file__).parent / "static"
    if str(static) not in app.config.html_static_path:
        app.config.html_static_path.append(str(static))
    app.add_css_file("specmodel.css")


def setup(app: Sphinx) -> ExtensionMetadata:
    """Register the domain, directives, roles, config values and event handlers."""
    from specmodel.sphinxext import directives, events, roles
    from specmodel.sphinxext.cache import specmodel_version
    from specmodel.sphinxext.domain import SpecDomain

    app.add_config_value(
        "specmodel_cache_dir",
        "",
        "",
        types=frozenset({str, type(None)}),
        description="Where check results are cached ('' = <confdir>/.specmodel_cache, "
        "None = no cache).",
    )
    app.add_config_value(
        "specmodel_max_states",
        200_000,
        "env",
        types=frozenset({int, type(None)}),
        description="State budget of each spec:claim / spec:invariant (None = unbounded).",
    )
    app.add_config_value(
        "specmodel_time_limit",
        120.0,
        "env",
        types=frozenset({int, float, type(None)}),
        description="Seconds each spec:claim / spec:invariant / spec:run may take "
        "(None = no limit).",
    )
    app.add_config_value(
        "specmodel_skip_exploration",
        False,
        "env",
        types=frozenset({bool}),
        description="Skip running checks (quick prose edits); coverage is still enforced.",
    )
    app.add_domain(SpecDomain)
    app.add_directive_to_domain("spec", "model", directives.ModelDirective)
    app.add_directive_to_domain("spec", "field", directives.FieldDirective)
    app.add_directive_to_domain("spec", "claim", directives.ClaimDirective)
    app.add_directive_to_domain("spec", "invariant", directives.InvariantDirective)
    app.add_directive_to_domain("spec", "run", directives.RunDirective)
    app.add_role_to_domain("spec", "value", roles.ValueRole())
    app.add_transform(events.MarkupErrors)
    events.connect(app)
    app.connect("config-inited", events.resolve_cache_dir)
    app.connect("env-get-outdated", events.outdated_by_model)
    app.connect("env-before-read-docs", events.next_generation)
    app.connect("build-finished", events.report)
    app.connect("builder-inited", _add_static)
    return {
        "version": specmodel_version(),
        "env_version": ENV_VERSION,
        "parallel_read_safe": True,
        "parallel_write_safe": True,
    }
