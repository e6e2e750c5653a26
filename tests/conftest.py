"""Shared test configuration (each section names its owner; append, never remove)."""

# --- Sphinx extension (tests/sphinxext/): sphinx.testing fixtures over tests/roots/test-*/ ---
from pathlib import Path as _SphinxPath

import pytest as _sphinx_pytest

pytest_plugins = ("sphinx.testing.fixtures",)
collect_ignore = ["roots"]


@_sphinx_pytest.fixture(scope="session")
def rootdir() -> _SphinxPath:
    """Test roots for ``@pytest.mark.sphinx(testroot=...)``."""
    return _SphinxPath(__file__).resolve().parent / "roots"


# --- lint corpus (tests/test_lint*.py): kernel mmu.rst copies live outside the repo (GPL text) ---
import os as _os  # noqa: E402 (sections append; imports stay in their section)
from pathlib import Path as _Path  # noqa: E402

import pytest as _pytest  # noqa: E402

_REPO_ROOT = _Path(__file__).resolve().parent.parent


def pytest_addoption(parser: _pytest.Parser) -> None:
    parser.addoption(
        "--corpus",
        metavar="DIR",
        default=None,
        help="folder of kernel mmu.rst copies for the lint tests "
        "(default: $SPECMODEL_CORPUS, else ../shared/corpus next to the repo)",
    )


@_pytest.fixture(scope="session")
def corpus_dir(request: _pytest.FixtureRequest) -> _Path:
    """The mmu.rst corpus: --corpus, $SPECMODEL_CORPUS or ../shared/corpus; fails if none."""
    given = request.config.getoption("--corpus") or _os.environ.get("SPECMODEL_CORPUS")
    if given:
        path = _Path(given)
        if not path.is_dir():
            _pytest.fail(
                f"lint corpus: expected a folder at {path} (from --corpus or "
                f"SPECMODEL_CORPUS); found none",
                pytrace=False,
            )
        return path
    default = _REPO_ROOT.parent / "shared" / "corpus"
    if not default.is_dir():
        _pytest.fail(
            f"lint corpus: expected kernel mmu.rst copies in {default}; found none. Pass "
            "--corpus DIR or set SPECMODEL_CORPUS (the tests must not pass without it)",
            pytrace=False,
        )
    return default
