"""Progress of the checks: on a terminal each finished check is shown with its states; in a
pipe nothing extra is printed. NO_COLOR and FORCE_COLOR are honoured."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

DOC = """\
Progress
========

.. spec:invariant:: kvm.arch.mmu_valid_gen in (0, 1)
   :vcpus: 1
   :pages: 2

.. spec:run::

   assert BATCH_ZAP_PAGES == 11
"""

_COLOUR = re.compile(r"\x1b\[[0-9;]*m")


def _project(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.rst").write_text(DOC, encoding="utf-8")
    (docs / "conf.py").write_text('extensions = ["specmodel.sphinxext"]\n', encoding="utf-8")
    return docs


def _environ(**changes: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "CI")}
    env["TERM"] = "xterm"
    env.update(changes)
    return env


def _on_terminal(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str, str]:
    """Run with stderr on a pseudo-terminal; (exit status, stdout, what the terminal got)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=slave, env=env
    )
    os.close(slave)
    seen = b""
    while True:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed its end
                break
            if not data:
                break
            seen += data
        elif proc.poll() is not None:
            break
    os.close(master)
    assert proc.stdout is not None
    out = proc.stdout.read().decode()
    return proc.wait(timeout=60), out, seen.decode(errors="replace")


def _finished_lines(terminal: str) -> list[str]:
    text = _COLOUR.sub("", terminal).replace("\r\x1b[K", "\n")
    return [line.strip() for line in text.splitlines() if line.startswith("specmodel: [")]


def test_specmodel_check_shows_each_check_on_a_terminal_and_nothing_in_a_pipe(
    tmp_path: Path,
) -> None:
    docs = _project(tmp_path)
    status, out, terminal = _on_terminal(
        ["-m", "specmodel", "check", "--fresh", "docs"], tmp_path, _environ(NO_COLOR="1")
    )
    assert status == 1, out + terminal
    assert "specmodel: checking in " in terminal
    assert "specmodel: 2 checks run" in terminal
    # in the order they finished, which the two workers decide: sort by what follows [n/2]
    lines = sorted(_finished_lines(terminal), key=lambda line: line.split("] ", 1)[-1])
    assert len(lines) == 2, terminal
    assert re.fullmatch(
        r"specmodel: \[\d/2\] DIVERGED docs/index\.rst:8 spec:run block \(\d+\.\d s\)",
        lines[0],
    ), lines
    assert re.fullmatch(
        r"specmodel: \[\d/2\] held +docs/index\.rst:4 invariant kvm\.arch\.mmu_valid_gen in "
        r"\(0, 1\) in fast_zap\(pages=2, vcpus=1\) \(255 states, \d+\.\d s\)",
        lines[1],
    ), lines
    assert "\x1b[3" not in terminal  # NO_COLOR
    assert "specmodel: [" not in out

    piped = subprocess.run(
        [sys.executable, "-m", "specmodel", "check", "--fresh", "docs"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=_environ(FORCE_COLOR="1"),
        timeout=300,
    )
    assert piped.returncode == 1
    assert "specmodel: [" not in piped.stderr + piped.stdout
    assert "specmodel: running" not in piped.stderr + piped.stdout
    assert docs.is_dir()


def test_a_cold_sphinx_build_shows_progress_in_colour_when_forced(tmp_path: Path) -> None:
    docs = _project(tmp_path)
    status, _, terminal = _on_terminal(
        ["-m", "sphinx", "-E", str(docs), str(tmp_path / "html")],
        tmp_path,
        _environ(FORCE_COLOR="1"),
    )
    assert status == 1
    assert "\x1b[31;1mDIVERGED\x1b[0m" in terminal
    assert "\x1b[32mheld    \x1b[0m" in terminal
    assert len(_finished_lines(terminal)) == 2
