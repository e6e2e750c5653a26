"""specmodel_* conf values: validated once at config-inited, by real sphinx-build runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from specmodel.sphinxext.config import VALUES, positive_int

INDEX = "T\n=\n\n.. spec:run::\n\n   assert 1 + 1 == 2\n"


def build(tmp_path: Path, conf: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """sphinx-build (dummy builder) of a one-page project with ``conf`` as conf.py; ``extra``
    are more sphinx-build arguments (``-D name=value``)."""
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "conf.py").write_text('extensions = ["specmodel.sphinxext"]\n' + conf)
    (src / "index.rst").write_text(INDEX)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-q",
            "-b",
            "dummy",
            str(src),
            str(tmp_path / "out"),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
    )


@pytest.mark.parametrize(
    ("conf", "expected"),
    [
        (
            'specmodel_skip_exploration = "false"',
            "specmodel_skip_exploration = 'false': expected True or False (skip running the "
            "checks); got the string 'false'; write False",
        ),
        (
            'specmodel_max_states = "abc"',
            "specmodel_max_states = 'abc': expected a positive int (states per check) or None "
            "(no limit); got a str",
        ),
        ("specmodel_max_states = -5", "specmodel_max_states = -5: expected a positive int"),
        ("specmodel_max_states = 0", "got 0, which is not positive"),
        ("specmodel_max_states = 2.5", "specmodel_max_states = 2.5: expected a positive int"),
        ("specmodel_max_states = 1000.0", "got a float 1000.0; write 1000"),
        ("specmodel_max_states = True", "got a bool"),
        ("specmodel_time_limit = -1", "specmodel_time_limit = -1: expected a positive number"),
        ('specmodel_time_limit = float("nan")', "got nan, which is not finite"),
        ('specmodel_time_limit = "60"', "specmodel_time_limit = '60': expected a positive"),
        ("specmodel_cache_dir = 3", "specmodel_cache_dir = 3: expected a path as a string"),
        (
            'specmodel_kernel = "v7.0"',
            "specmodel_kernel = 'v7.0': expected one of 'v5.10', 'v6.9', 'v6.14', 'v6.16'",
        ),
        ("specmodel_max_state = 10", "specmodel_max_state: no such config value; expected one"),
        ("specmodel_prose = True", "specmodel_prose = True: expected a string ('' = off"),
    ],
)
def test_a_bad_value_stops_the_build_once_naming_it(
    tmp_path: Path, conf: str, expected: str
) -> None:
    """Exit 2 (Sphinx's configuration error), the message once, before any check runs."""
    proc = build(tmp_path, conf + "\n")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count(expected) == 1, proc.stderr
    assert "Configuration error" in proc.stderr
    assert f"bad configuration in {tmp_path / 'src'}/conf.py" in proc.stderr
    # Sphinx 9 shows a ConfigError with the raising frame as context, never a Python traceback
    assert "Traceback (most recent call last)" not in proc.stderr


def test_every_bad_value_is_listed_in_the_one_error(tmp_path: Path) -> None:
    """Two bad values: one error with two lines, in name order."""
    proc = build(tmp_path, 'specmodel_time_limit = 0\nspecmodel_max_states = "x"\n')
    assert proc.returncode == 2
    first = proc.stderr.index("specmodel_max_states = 'x'")
    assert first < proc.stderr.index("specmodel_time_limit = 0")


def test_good_values_build(tmp_path: Path) -> None:
    """None budgets, a float time limit, booleans and a known kernel are accepted."""
    proc = build(
        tmp_path,
        "specmodel_max_states = None\nspecmodel_time_limit = 2.5\n"
        'specmodel_skip_exploration = False\nspecmodel_kernel = "v6.9"\n',
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


def test_check_reports_a_bad_conf_value_as_bad_input(tmp_path: Path) -> None:
    """specmodel check on the same project: exit 2 with the same message, no traceback."""
    build(tmp_path, "")
    (tmp_path / "src" / "conf.py").write_text(
        'extensions = ["specmodel.sphinxext"]\nspecmodel_max_states = "abc"\n'
    )
    proc = subprocess.run(
        [sys.executable, "-m", "specmodel", "check", "src"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert proc.returncode == 2
    assert "specmodel_max_states = 'abc': expected a positive int" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_table_has_one_check_per_registered_value() -> None:
    """Every config value the extension registers has a line in VALUES."""
    from specmodel.sphinxext import setup

    names: list[str] = []

    class Recorder:
        def add_config_value(self, name: str, *args: object, **kwargs: object) -> None:
            names.append(name)

        def __getattr__(self, name: str) -> object:
            return lambda *args, **kwargs: None

    setup(Recorder())  # type: ignore[arg-type]
    assert set(names) <= set(VALUES), set(names) - set(VALUES)


def test_a_check_is_one_line_to_add() -> None:
    """A helper's value (e.g. specmodel_workers) is validated by adding one table entry."""
    check = positive_int(optional=True, what="worker processes")
    assert check.message("specmodel_workers", 4) is None
    assert check.message("specmodel_workers", "4") == (
        "specmodel_workers = '4': expected a positive int (worker processes) or None "
        "(no limit); got a str"
    )


@pytest.mark.parametrize("given", ["1", "2", "none", " 3 "])
def test_workers_from_the_command_line(tmp_path: Path, given: str) -> None:
    """-D specmodel_workers=2: Sphinx leaves a -D value whose default is None a string; it
    is read as the number (or None) it stands for."""
    proc = build(tmp_path, "", "-D", f"specmodel_workers={given}")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            "two",
            "specmodel_workers = 'two': expected a positive int (worker processes; None: "
            "every core) or None (no limit); got a str",
        ),
        ("0", "specmodel_workers = 0: expected a positive int"),
        ("2.5", "specmodel_workers = '2.5': expected a positive int"),
    ],
)
def test_a_bad_workers_value_from_the_command_line_is_named(
    tmp_path: Path, given: str, expected: str
) -> None:
    proc = build(tmp_path, "", "-D", f"specmodel_workers={given}")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count(expected) == 1, proc.stderr
    assert "Traceback (most recent call last)" not in proc.stderr


def test_the_workers_parsed_from_the_command_line_are_used(make_app: Any, tmp_path: Path) -> None:
    """What the build runs with is the parsed number, not the string."""
    (tmp_path / "conf.py").write_text('extensions = ["specmodel.sphinxext"]\n')
    (tmp_path / "index.rst").write_text(INDEX)
    app = make_app("dummy", srcdir=tmp_path, confoverrides={"specmodel_workers": "2"})
    assert app.config.specmodel_workers == 2
    app = make_app("dummy", srcdir=tmp_path, confoverrides={"specmodel_workers": "None"})
    assert app.config.specmodel_workers is None
