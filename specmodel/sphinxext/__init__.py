"""Sphinx extension: ``extensions = ["specmodel.sphinxext"]`` adds the ``spec`` domain."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sphinx.application import Sphinx
    from sphinx.util.typing import ExtensionMetadata

#: Bump when the shape of stored domain data or verdict records changes.
ENV_VERSION = 3


def _add_static(app: Sphinx) -> None:
    """Ship the stylesheet of verdict boxes, field headers and counterexamples with the
    extension, so every project that loads it gets it (HTML builders only)."""
    static = Path(__file__).parent / "static"
    if str(static) not in app.config.html_static_path:
        app.config.html_static_path.append(str(static))
    app.add_css_file("specmodel.css")


def setup(app: Sphinx) -> ExtensionMetadata:
    """Register the domain, directives, roles, config values and event handlers."""
    from specmodel.sphinxext import batch, config, directives, events, prose, roles
    from specmodel.sphinxext.cache import specmodel_version
    from specmodel.sphinxext.domain import SpecDomain
    from specmodel.structs.versions import DEFAULT_KERNEL

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
    app.add_config_value(
        "specmodel_kernel",
        DEFAULT_KERNEL,
        "env",
        types=frozenset({str}),
        description="Kernel version whose struct kvm_mmu_page and role bits spec:model "
        "coverage and spec:field require (default: the newest the model knows).",
    )
    app.add_config_value(
        "specmodel_workers",
        None,
        "",
        types=frozenset({int, type(None)}),
        description="Worker processes that run the checks (None = one per core).",
    )
    app.add_config_value(
        "specmodel_fresh",
        False,
        "",
        types=frozenset({bool}),
        description="Run every check afresh, ignoring cached results (still writing them).",
    )
    app.add_domain(SpecDomain)
    app.add_directive_to_domain("spec", "model", directives.ModelDirective)
    app.add_directive_to_domain("spec", "field", directives.FieldDirective)
    app.add_directive_to_domain("spec", "claim", directives.ClaimDirective)
    app.add_directive_to_domain("spec", "invariant", directives.InvariantDirective)
    app.add_directive_to_domain("spec", "run", directives.RunDirective)
    app.add_role_to_domain("spec", "value", roles.ValueRole())
    app.add_transform(events.MarkupErrors)
    # before every other config-inited handler (and Sphinx's own type warning, priority 800)
    app.connect("config-inited", config.validate_config, priority=100)
    events.connect(app)
    app.connect("config-inited", events.resolve_cache_dir)
    app.connect("env-get-outdated", events.outdated_by_model)
    app.connect("env-before-read-docs", events.next_generation)
    app.connect("env-before-read-docs", batch.begin)
    app.connect("doctree-read", batch.keep_workers_busy)
    app.connect("env-updated", batch.run_pending)
    app.connect("doctree-resolved", batch.resolve_placeholders)
    app.connect("build-finished", events.report)
    app.connect("build-finished", batch.abandon)
    app.connect("builder-inited", _add_static)
    prose.setup(app)  # specmodel_prose: judge unmodified kernel mmu.rst files (sphinxext/prose.py)
    return {
        "version": specmodel_version(),
        "env_version": ENV_VERSION,
        "parallel_read_safe": True,
        "parallel_write_safe": True,
    }
