"""Shared test configuration: Sphinx test roots, and the kernel mmu.rst corpus (``corpus_dir``)."""

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


# --- the kernel mmu.rst corpus: real kernel files live outside the repo (GPL text) ---
#
# A test that needs it takes the ``corpus_dir`` fixture or is marked ``@pytest.mark.corpus``
# (both work in any test module). On a fresh clone with no corpus such tests are collected and
# reported as skipped, with the way to run them; CI sets SPECMODEL_REQUIRE_CORPUS=1 (or passes
# --require-corpus), under which a missing corpus is an error, so CI can never skip them.
_REPO_ROOT = Path(__file__).resolve().parent.parent
CORPUS_ENV = "SPECMODEL_CORPUS"
REQUIRE_ENV = "SPECMODEL_REQUIRE_CORPUS"
CORPUS_MARKER = "corpus"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--corpus",
        metavar="DIR",
        default=None,
        help=f"folder of kernel mmu.rst copies for the corpus tests "
        f"(default: ${CORPUS_ENV}, else ../shared/corpus next to the repo)",
    )
    parser.addoption(
        "--require-corpus",
        action="store_true",
        default=False,
        help=f"a missing corpus is an error, not a skip (also {REQUIRE_ENV}=1; CI sets it)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{CORPUS_MARKER}: needs the kernel mmu.rst corpus from outside the repo "
        f"({CORPUS_ENV}=DIR); skipped without it unless {REQUIRE_ENV}=1",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that take ``corpus_dir`` carry the marker too, so ``-m corpus`` selects them all."""
    for item in items:
        if "corpus_dir" in getattr(item, "fixturenames", ()):
            item.add_marker(CORPUS_MARKER)


def _corpus_required(config: pytest.Config) -> bool:
    flag = os.environ.get(REQUIRE_ENV, "").strip().lower()
    return bool(config.getoption("--require-corpus")) or flag not in ("", "0", "false", "no")


def find_corpus(config: pytest.Config) -> Path:
    """The corpus folder: --corpus, $SPECMODEL_CORPUS or ../shared/corpus.

    A folder named explicitly that does not exist is always an error (a typo must not turn
    into skips). With none found, the test is skipped, or fails under --require-corpus /
    SPECMODEL_REQUIRE_CORPUS=1.
    """
    given = config.getoption("--corpus") or os.environ.get(CORPUS_ENV)
    if given:
        path = Path(given)
        if not path.is_dir():
            pytest.fail(
                f"lint corpus: expected a folder at {path} (from --corpus or "
                f"{CORPUS_ENV}); found none",
                pytrace=False,
            )
        return path
    default = _REPO_ROOT.parent / "shared" / "corpus"
    if default.is_dir():
        return default
    if _corpus_required(config):
        pytest.fail(
            f"lint corpus: expected kernel mmu.rst copies in {default}; found none, and "
            f"{REQUIRE_ENV} makes the corpus tests mandatory. Pass --corpus DIR or set "
            f"{CORPUS_ENV}=DIR",
            pytrace=False,
        )
    pytest.skip(
        f"needs the kernel mmu.rst corpus (outside the repo); run with {CORPUS_ENV}=DIR "
        f"(a folder of mmu-*.rst files) or --corpus DIR"
    )


@pytest.fixture(scope="session")
def corpus_dir(request: pytest.FixtureRequest) -> Path:
    """The mmu.rst corpus folder (see ``find_corpus``): skips or fails the test without it."""
    return find_corpus(request.config)


@pytest.fixture(autouse=True)
def _corpus_marker(request: pytest.FixtureRequest) -> None:
    """``@pytest.mark.corpus`` without the fixture: the same skip-or-fail rule."""
    if request.node.get_closest_marker(CORPUS_MARKER) is not None:
        find_corpus(request.config)
