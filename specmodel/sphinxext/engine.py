"""Run every spec directive of a source tree in-process, without rendering HTML.

``specmodel check`` calls :func:`check_sources`; it builds with Sphinx's ``dummy`` builder and
the same extension, so the CLI and ``sphinx-build`` reach the same verdicts on the same files.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from specmodel.errors import SpecmodelError
from specmodel.sphinxext.coverage import all_verdicts
from specmodel.sphinxext.domain import spec_domain
from specmodel.sphinxext.records import Verdict

EXTENSION = "specmodel.sphinxext"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class EngineError(SpecmodelError, RuntimeError):
    """The sources could not be built at all (bad conf.py, missing directory, ...)."""


@dataclass
class CheckRun:
    """The result of one in-process build."""

    #: every verdict: directives, roles, markup errors, then project-wide coverage
    verdicts: list[Verdict]
    #: what sphinx-build would exit with (1 when any verdict failed)
    statuscode: int
    #: everything Sphinx logged as a warning or error, including the located verdict messages
    warnings: str = ""
    #: checks computed in this run (the rest came from the env or the result cache)
    fresh: int = 0
    srcdir: Path = field(default_factory=Path)

    @property
    def failed(self) -> bool:
        return any(v.failed for v in self.verdicts)


def _extensions(confdir: Path | None, overrides: Mapping[str, Any]) -> list[str]:
    """The project's extensions plus ours (conf.py is read only to learn its list)."""
    if "extensions" in overrides:
        names = list(overrides["extensions"])
    elif confdir is None:
        names = []
    else:
        from sphinx.config import Config
        from sphinx.util.tags import Tags

        names = list(Config.read(confdir, overrides=dict(overrides), tags=Tags()).extensions)
    if EXTENSION not in names:
        names.append(EXTENSION)
    return names


def check_sources(
    path: str | Path,
    *,
    confdir: str | Path | None = None,
    builddir: str | Path | None = None,
    confoverrides: Mapping[str, Any] | None = None,
    parallel: int = 0,
    freshenv: bool = False,
    status: IO[str] | None = None,
    warning: IO[str] | None = None,
) -> CheckRun:
    """Build ``path`` (a source directory, or one .rst file) with the dummy builder.

    ``confdir`` names the folder of the project's ``conf.py`` when it is not ``path``
    itself. A directory with a ``conf.py`` is built with it (adding ``specmodel.sphinxext`` if it is
    not listed); otherwise with only this extension. A single file is built alone (as the
    only ``include_patterns`` entry of its directory). ``builddir`` defaults to
    ``<srcdir>/_build/specmodel-check`` so a second run is incremental. Raises
    :class:`EngineError` when Sphinx cannot build at all.
    """
    from sphinx.application import Sphinx
    from sphinx.errors import SphinxError
    from sphinx.util.docutils import docutils_namespace, patch_docutils

    target = Path(path).resolve()
    if not target.exists():
        raise EngineError(f"{path}: expected a directory or an .rst file; found nothing")
    overrides: dict[str, Any] = dict(confoverrides or {})
    if target.is_file():
        srcdir = target.parent
        overrides["include_patterns"] = [target.name]
        overrides.setdefault("root_doc", target.stem)
    else:
        srcdir = target
    if confdir is not None:
        confdir = Path(confdir).resolve()
        if not (confdir / "conf.py").is_file():
            raise EngineError(f"{confdir}: expected a conf.py there; found none")
    elif (srcdir / "conf.py").is_file():
        confdir = srcdir
    build = Path(builddir) if builddir is not None else srcdir / "_build" / "specmodel-check"
    captured = io.StringIO()
    try:
        overrides["extensions"] = _extensions(confdir, overrides)
        # as sphinx-build does: docutils' registries are process-global
        with patch_docutils(confdir), docutils_namespace():
            app = Sphinx(
                srcdir,
                confdir,
                build / "dummy",
                build / "doctrees",
                "dummy",
                confoverrides=overrides,
                status=status if status is not None else io.StringIO(),
                warning=warning if warning is not None else captured,
                freshenv=freshenv,
                parallel=parallel,
            )
            app.build()
    except (SphinxError, OSError, SyntaxError) as exc:
        raise EngineError(f"{srcdir}: Sphinx could not build these sources: {exc}") from exc
    domain = spec_domain(app.env)
    return CheckRun(
        verdicts=all_verdicts(domain),
        statuscode=app.statuscode,
        warnings=_ANSI.sub("", captured.getvalue()),
        fresh=len(domain.fresh_runs()),
        srcdir=srcdir,
    )


def summarize(verdicts: Sequence[Verdict]) -> dict[str, float]:
    """Counts for a report's summary line: checked, held, diverged, errors, states, seconds."""
    return {
        "checked": len(verdicts),
        "held": sum(v.status == "held" for v in verdicts),
        "diverged": sum(v.status == "diverged" for v in verdicts),
        "errors": sum(v.status == "error" for v in verdicts),
        "skipped": sum(v.status == "skipped" for v in verdicts),
        "states": sum(v.states for v in verdicts),
        "seconds": round(sum(v.seconds for v in verdicts), 3),
    }
