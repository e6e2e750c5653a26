"""pytest plugin (entry point ``pytest11``): ``--spec-docs PATH`` turns every spec directive
in the .rst files under PATH into a test item with the same verdict as ``specmodel check``.

The directives are run once per PATH, at collection, by the same engine as the CLI; each
item then reports its ``path:line`` and the verdict.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from specmodel.cli.check import _find_conf, _relative


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("specmodel")
    group.addoption(
        "--spec-docs",
        action="append",
        default=[],
        metavar="PATH",
        help="run the spec directives of the .rst files under PATH as test items",
    )


class SpecDirectiveFailed(Exception):
    """A spec directive that diverged from the model or could not run."""


class SpecItem(pytest.Item):
    """One spec directive (or project-wide coverage check) as a test item."""

    def __init__(self, *, verdict: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.verdict = verdict

    def runtest(self) -> None:
        v = self.verdict
        if v.status == "skipped":
            pytest.skip(f"{v.location}: {v.message or 'exploration skipped'}")
        if v.failed:
            raise SpecDirectiveFailed(f"{v.location}: {v.status}: {v.message}")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, SpecDirectiveFailed):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        v = self.verdict
        return Path(v.path), max(v.line - 1, 0), f"{v.kind} {v.target}"


class SpecDocs(pytest.Collector):
    """The spec directives of one --spec-docs PATH."""

    def collect(self) -> Iterator[SpecItem]:
        from specmodel.sphinxext.engine import EngineError, check_sources

        target = Path(self.name)
        if not target.exists():
            raise pytest.UsageError(
                f"--spec-docs {self.name}: expected a source folder or an .rst file; found nothing"
            )
        try:
            run = check_sources(target, confdir=_find_conf(target.resolve()))
        except EngineError as exc:
            raise pytest.UsageError(f"--spec-docs {self.name}: {exc}") from None
        seen: dict[str, int] = {}
        for v in run.verdicts:
            name = f"{_relative(v.path)}:{v.line}::{v.kind}:{v.target}"
            seen[name] = seen.get(name, 0) + 1
            if seen[name] > 1:
                name = f"{name}#{seen[name]}"
            yield SpecItem.from_parent(self, name=name, verdict=v)


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    for path in config.getoption("spec_docs"):
        items.extend(SpecDocs.from_parent(session, name=path).collect())
