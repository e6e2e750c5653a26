"""pytest plugin (entry point ``pytest11``): ``--spec-docs PATH`` turns every spec directive
in the .rst files under PATH into a test item with the same verdict as ``specmodel check``."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("specmodel")
    group.addoption(
        "--spec-docs",
        action="append",
        default=[],
        metavar="PATH",
        help="run the spec directives of the .rst files under PATH as tests",
    )
