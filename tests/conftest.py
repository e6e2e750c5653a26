"""Shared test configuration: Sphinx test roots, and the kernel mmu.rst corpus for lint."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# --- Sphinx extension (tests/sphinxext/): sphinx.testing fixtures over tests/roots/test-*/ ---
pytest_plugins = ("sphinx.testing.fixtures",)
collect_ignore = ["roots"]


@pytest.fixture(scope="session", autouse=True)
def _plain_text_output() -> Iterator[None]:
    """Subprocesses print without colour, whatever the CI runner sets.

    The tests read messages such as ``path:line: ERROR:`` from Sphinx and pytest
    output; Sphinx colours it when ``CI=true`` or ``FORCE_COLOR`` is set (and
    pytest with ``FORCE_COLOR``/``PY_COLORS``), which puts escape codes before
    the path. ``NO_COLOR`` wins over both in each tool.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NO_COLOR", "1")
        for name in ("FORCE_COLOR", "FORCE_COLOUR", "PY_COLORS"):
            patch.delenv(name, raising=False)
        yield


@pytest.fixture(scope="session")
def rootdir() -> Path:
    """Test roots for ``@pytest.mark.sphinx(testroot=...)``."""
    return Path(__file__).resolve().parent / "roots"


# --- lint corpus (tests/test_lint*.py): kernel mmu.rst copies live outside the repo (GPL text) ---
_REPO_ROOT = Path(__file__).resolve().parent.parent


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--corpus",
        metavar="DIR",
        default=None,
        help="folder of kernel mmu.rst copies for the lint tests "
        "(default: $SPECMODEL_CORPUS, else ../shared/corpus next to the repo)",
    )


@pytest.fixture(scope="session")
def corpus_dir(request: pytest.FixtureRequest) -> Path:
    """The mmu.rst corpus: --corpus, $SPECMODEL_CORPUS or ../shared/corpus; fails if none."""
    given = request.config.getoption("--corpus") or os.environ.get("SPECMODEL_CORPUS")
    if given:
        path = Path(given)
        if not path.is_dir():
            pytest.fail(
                f"lint corpus: expected a folder at {path} (from --corpus or "
                f"SPECMODEL_CORPUS); found none",
                pytrace=False,
            )
        return path
    default = _REPO_ROOT.parent / "shared" / "corpus"
    if not default.is_dir():
        pytest.fail(
            f"lint corpus: expected kernel mmu.rst copies in {default}; found none. Pass "
            "--corpus DIR or set SPECMODEL_CORPUS (the tests must not pass without it)",
            pytrace=False,
        )
    return default
