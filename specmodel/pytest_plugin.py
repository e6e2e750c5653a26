"""pytest plugin (entry point ``pytest11``): ``--spec-docs PATH`` turns every spec directive
in the .rst files under PATH into a test item with the same verdict as ``specmodel check``.

The items are ordinary pytest items of a collector per .rst file, so they are counted by
``--collect-only``, selected by node id (``docs/bad.rst::line 4 spec:invariant ...``) and
``-k``, reported in JUnit XML with classname ``docs.bad.rst`` and the directive as the name,
and distributed by pytest-xdist. The directives of one PATH are run once per process, when
the first of its files is collected, by the same engine as the CLI (each xdist worker builds
into its own folder; the result cache they share makes the second build cheap).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from specmodel.cli.check import _find_conf
from specmodel.sphinxext.records import Verdict

_PLUGIN_NAME = "specmodel-spec-docs"
#: Longest directive target kept in an item name (expressions can be long); the location and
#: the kind already identify the directive, and a clash gets a ``#2`` suffix.
_MAX_TARGET = 80


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("specmodel")
    group.addoption(
        "--spec-docs",
        action="append",
        default=[],
        metavar="PATH",
        help="run the spec directives of the .rst files under PATH (a Sphinx source folder "
        "or one .rst file) as test items; may be given several times",
    )


def pytest_configure(config: pytest.Config) -> None:
    given: list[str] = config.getoption("spec_docs")
    if given and not config.pluginmanager.has_plugin(_PLUGIN_NAME):
        config.pluginmanager.register(SpecDocsPlugin(config, given), _PLUGIN_NAME)


class SpecDirectiveFailed(Exception):
    """A spec directive that diverged from the model or could not run."""


class SpecDocsPlugin:
    """Collects the .rst files under the --spec-docs roots and runs each root once."""

    def __init__(self, config: pytest.Config, given: list[str]) -> None:
        self.roots: list[Path] = []
        for text in given:
            root = Path(text).resolve()
            if not root.exists():
                raise pytest.UsageError(
                    f"--spec-docs {text}: expected a source folder or an .rst file; found nothing"
                )
            if root.is_file() and root.suffix != ".rst":
                raise pytest.UsageError(
                    f"--spec-docs {text}: expected a source folder or an .rst file; "
                    f"found a {root.suffix or 'extensionless'} file"
                )
            if root not in self.roots:
                self.roots.append(root)
        self._runs: dict[Path, list[Verdict] | str] = {}
        self._add_to_args(config)

    def _add_to_args(self, config: pytest.Config) -> None:
        """Collect each root unless an argument already covers it or selects inside it (a
        node id such as ``docs/bad.rst::line 4 ...``), so ``pytest --spec-docs docs``
        collects the docs whatever ``testpaths`` says."""
        invocation = config.invocation_params.dir
        given = [(invocation / arg.split("::")[0]).resolve() for arg in config.args]
        for root in self.roots:
            if not any(_within(root, path) or _within(path, root) for path in given):
                config.args.append(str(root))

    def root_of(self, path: Path) -> Path | None:
        resolved = path.resolve()
        for root in self.roots:
            if resolved == root or (root.is_dir() and _within(resolved, root)):
                return root
        return None

    def verdicts(self, root: Path) -> list[Verdict] | str:
        """The verdicts of every directive under ``root``, or the reason it could not run."""
        if root not in self._runs:
            self._runs[root] = _run(root)
        return self._runs[root]

    @pytest.hookimpl
    def pytest_collect_file(self, file_path: Path, parent: pytest.Collector) -> Any:
        if file_path.suffix != ".rst":
            return None
        root = self.root_of(file_path)
        if root is None:
            return None
        return SpecFile.from_parent(parent, path=file_path, root=root, plugin=self)


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _run(root: Path) -> list[Verdict] | str:
    from specmodel.sphinxext.engine import EngineError, check_sources

    srcdir = root if root.is_dir() else root.parent
    # One build folder per process: xdist workers each build, never into the same folder.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    builddir = srcdir / "_build" / "specmodel-pytest" / worker
    try:
        run = check_sources(root, confdir=_find_conf(root), builddir=builddir)
    except EngineError as exc:
        return f"--spec-docs {root}: {exc}"
    return list(run.verdicts)


def item_name(verdict: Verdict) -> str:
    """``line 4 spec:invariant <target>``: the target on one line, without ``::`` (the node-id
    separator) and shortened when long."""
    target = re.sub(r"\s+", " ", verdict.target).strip().replace("::", ": :")
    if len(target) > _MAX_TARGET:
        target = target[: _MAX_TARGET - 3].rstrip() + "..."
    kind = verdict.kind if verdict.kind in ("coverage", "markup") else f"spec:{verdict.kind}"
    return f"line {verdict.line} {kind} {target}".rstrip()


class SpecFile(pytest.File):
    """The spec directives of one .rst file under a --spec-docs root."""

    def __init__(self, *, root: Path, plugin: SpecDocsPlugin, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.root = root
        self.plugin = plugin

    def collect(self) -> Iterator[SpecItem]:
        found = self.plugin.verdicts(self.root)
        if isinstance(found, str):
            raise self.CollectError(found)
        here = self.path.resolve()
        mine = [v for v in found if Path(v.path).resolve() == here]
        seen: dict[str, int] = {}
        for v in sorted(mine, key=lambda v: (v.line, v.kind, v.target)):
            name = item_name(v)
            seen[name] = seen.get(name, 0) + 1
            if seen[name] > 1:
                name = f"{name} #{seen[name]}"
            yield SpecItem.from_parent(self, name=name, verdict=v)


class SpecItem(pytest.Item):
    """One spec directive (or project-wide coverage check) as a test item."""

    def __init__(self, *, verdict: Verdict, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.verdict = verdict

    @property
    def location_text(self) -> str:
        """``path:line`` of the directive, the path relative to where pytest was started."""
        path = Path(self.verdict.path)
        with contextlib.suppress(ValueError):  # elsewhere: the path as the engine gave it
            path = path.resolve().relative_to(self.config.invocation_params.dir.resolve())
        return f"{path}:{self.verdict.line}"

    def runtest(self) -> None:
        v = self.verdict
        if v.status == "skipped":
            pytest.skip(f"{self.location_text}: {v.message or 'exploration skipped'}")
        if v.failed:
            raise SpecDirectiveFailed(f"{self.location_text}: {v.status}: {v.message}")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, SpecDirectiveFailed):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        v = self.verdict
        return self.path, max(v.line - 1, 0), self.name
