"""Run every spec directive of a source tree in-process, without rendering HTML.

``specmodel check`` calls :func:`check_sources`; it builds with Sphinx's ``dummy`` builder and
the same extension, so the CLI and ``sphinx-build`` reach the same verdicts on the same files.
"""

from __future__ import annotations

import io
import os
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


def _project(confdir: Path | None, overrides: Mapping[str, Any]) -> tuple[list[str], str]:
    """The project's extensions plus ours, and its root document (conf.py is read only to
    learn these)."""
    root = str(overrides.get("root_doc", "index"))
    if "extensions" in overrides:
        names = list(overrides["extensions"])
    elif confdir is None:
        names = []
    else:
        from sphinx.config import Config
        from sphinx.util.tags import Tags

        config = Config.read(confdir, overrides=dict(overrides), tags=Tags())
        names = list(config.extensions)
        root = str(overrides.get("root_doc", config.root_doc))
    if EXTENSION not in names:
        names.append(EXTENSION)
    return names, root


def _sources(folder: Path) -> list[Path]:
    """The .rst documents under ``folder``, build output left out."""
    return [p for p in folder.rglob("*.rst") if "_build" not in p.relative_to(folder).parts]


def common_folder(paths: Sequence[str | Path]) -> Path:
    """The folder that holds every path (a folder itself, or a file's parent)."""
    resolved = [Path(p).resolve() for p in paths]
    return Path(os.path.commonpath([p if p.is_dir() else p.parent for p in resolved]))


def documents(paths: Sequence[str | Path]) -> tuple[Path, list[str] | None]:
    """The source directory and the documents (srcdir-relative .rst paths) that ``paths``
    name: a set, whatever the order or overlap of the paths (``. a.rst`` is ``.``).

    The source directory is the paths' common folder. ``None`` means every document of
    it (a path named the folder itself). Raises :class:`EngineError` for a missing path.
    """
    if not paths:
        raise EngineError("expected at least one source folder or .rst file; found none")
    resolved: list[Path] = []
    for given in paths:
        path = Path(given).resolve()
        if not path.exists():
            raise EngineError(f"{given}: expected a directory or an .rst file; found nothing")
        resolved.append(path)
    srcdir = common_folder(resolved)
    if srcdir in resolved:
        return srcdir, None
    docs: set[str] = set()
    for path in resolved:
        for doc in _sources(path) if path.is_dir() else [path]:
            docs.add(doc.relative_to(srcdir).as_posix())
    return srcdir, sorted(docs)


def check_sources(
    path: str | Path | Sequence[str | Path],
    *,
    confdir: str | Path | None = None,
    builddir: str | Path | None = None,
    confoverrides: Mapping[str, Any] | None = None,
    parallel: int = 0,
    freshenv: bool = False,
    status: IO[str] | None = None,
    warning: IO[str] | None = None,
) -> CheckRun:
    """Build ``path`` (a source directory or an .rst file, or a list of them) with the dummy
    builder.

    Several paths are one set of documents (:func:`documents`): their common folder is
    built, restricted to those documents (``include_patterns``), so coverage spans them
    all and no document counts twice. ``confdir`` names the folder of the project's
    ``conf.py`` when it is not that folder itself. A folder with a ``conf.py`` is built
    with it (adding ``specmodel.sphinxext`` if it is not listed); otherwise with only this
    extension. ``builddir`` defaults to ``<srcdir>/_build/specmodel-check`` so a second
    run is incremental. Raises :class:`EngineError` when Sphinx cannot build at all.
    """
    from sphinx.application import Sphinx
    from sphinx.errors import SphinxError
    from sphinx.util.docutils import docutils_namespace, patch_docutils

    given = [path] if isinstance(path, str | Path) else list(path)
    srcdir, docs = documents(given)
    overrides: dict[str, Any] = dict(confoverrides or {})
    if docs is not None:
        overrides["include_patterns"] = docs
    if confdir is not None:
        confdir = Path(confdir).resolve()
        if not (confdir / "conf.py").is_file():
            raise EngineError(f"{confdir}: expected a conf.py there; found none")
    elif (srcdir / "conf.py").is_file():
        confdir = srcdir
    build = Path(builddir) if builddir is not None else srcdir / "_build" / "specmodel-check"
    captured = io.StringIO()
    app: Sphinx | None = None
    try:
        overrides["extensions"], root = _project(confdir, overrides)
        if docs is not None and f"{root}.rst" not in docs:
            # the root document must be one that is read (else "root file not found")
            overrides["root_doc"] = docs[0].removesuffix(".rst") if docs else root
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
        failed = _failed_so_far(app)
        if not failed:
            raise EngineError(f"{srcdir}: Sphinx could not build these sources: {exc}") from exc
        # the build stopped because of what these verdicts say (a root document that is
        # not UTF-8 is not read, then Sphinx cannot load it): report them, located
        located = "".join(f"{v.location}: ERROR: {v.message} [spec.error]\n" for v in failed)
        return CheckRun(
            verdicts=failed,
            statuscode=2,
            warnings=_ANSI.sub("", captured.getvalue()) + located,
            srcdir=srcdir,
        )
    domain = spec_domain(app.env)
    return CheckRun(
        verdicts=all_verdicts(domain),
        statuscode=app.statuscode,
        warnings=_ANSI.sub("", captured.getvalue()),
        fresh=len(domain.fresh_runs()),
        srcdir=srcdir,
    )


def _failed_so_far(app: Any) -> list[Verdict]:
    """The failing verdicts a build that raised had stored (none without an env)."""
    if app is None or getattr(app, "env", None) is None:
        return []
    try:
        return [v for v in spec_domain(app.env).stored_verdicts() if v.failed]
    except Exception:  # an env too broken to read: the caller reports the build error
        return []
