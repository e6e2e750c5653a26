"""The ``specmodel`` command line: one argparse subcommand per module (``add_<cmd>_parser``)."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from specmodel.sphinxext.config import Check

DESCRIPTION = """\
Keep KVM's documentation of struct kvm_mmu_page honest: run the spec checks of a docs tree,
lint a kernel mmu.rst, explore the reference model of the fast zap and page reclaim, and
list the claims the docs cite."""

EPILOG = """\
examples:
  specmodel check docs/                          every spec directive, exit 1 on a divergence
  specmodel check --format junit --output report.xml docs/
  specmodel lint Documentation/virt/kvm/x86/mmu.rst
  specmodel explore fast_zap --vcpus 2 --pages 8
  specmodel explore page_reclaim --mutant pre_2abd5287f083
  specmodel claims

'specmodel COMMAND --help' explains each command."""


@dataclass(frozen=True)
class Given:
    """A flag's validated value (``None`` when the user wrote ``none``: no limit)."""

    value: object


def _parse(text: str) -> object:
    word = text.strip()
    if word.lower() == "none":
        return None
    for convert in (int, float):
        try:
            return convert(word)
        except ValueError:
            continue
    return word


def argtype(name: str, check: Check) -> Callable[[str], Given]:
    """An argparse ``type=`` that applies the config value ``name``'s check to a flag, so the
    command line and conf.py accept exactly the same values (errors exit 2 via argparse)."""

    def convert(text: str) -> Given:
        value = _parse(text)
        if check.problem(value) is not None:
            allowed = check.allowed.replace(" or None (no limit)", " or 'none' (no limit)")
            raise argparse.ArgumentTypeError(f"expected {allowed}; got {text!r}")
        return Given(value)

    convert.__name__ = name  # argparse names the type in some messages
    return convert


def value_type(name: str) -> Callable[[str], object]:
    """Like :func:`argtype` for the config value ``name``, but returns the plain value
    (``None`` for ``none``), for flags whose handler reads the value directly."""
    from specmodel.sphinxext.config import VALUES

    check = argtype(name, VALUES[name])

    def convert(text: str) -> object:
        return check(text).value

    convert.__name__ = name
    return convert


class _PipeSafe:
    """Standard output that survives its reader going away (``specmodel check | head -1``).

    On the first ``BrokenPipeError`` the descriptor is pointed at /dev/null, so the command
    finishes, later writes and the interpreter's final flush succeed, and the exit status
    stays the verdict's instead of 0 (or Python's 120 for a failed flush at exit).
    """

    def __init__(self, inner: TextIO) -> None:
        self._inner = inner
        self.broken = False

    def _close_pipe(self) -> None:
        self.broken = True
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, self._inner.fileno())
        finally:
            os.close(devnull)

    def write(self, text: str) -> int:
        if self.broken:
            return len(text)
        try:
            return self._inner.write(text)
        except BrokenPipeError:
            self._close_pipe()
            return len(text)

    def flush(self) -> None:
        if self.broken:
            with contextlib.suppress(BrokenPipeError, ValueError):
                self._inner.flush()  # into /dev/null now: empties the buffer
            return
        try:
            self._inner.flush()
        except BrokenPipeError:
            self._close_pipe()
            self.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def build_parser() -> argparse.ArgumentParser:
    # here, not at the top: importing specmodel.cli.lint must not import Sphinx (lint's promise)
    from specmodel import __version__
    from specmodel.cli.check import add_check_parser
    from specmodel.cli.claims import add_claims_parser
    from specmodel.cli.explore import add_explore_parser
    from specmodel.cli.lint import add_lint_parser

    parser = argparse.ArgumentParser(
        prog="specmodel",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"specmodel {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_check_parser(subparsers)
    add_claims_parser(subparsers)
    add_explore_parser(subparsers)
    add_lint_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; return its exit status (argparse exits 2 on usage errors).

    A closed standard output (the reader of a pipe went away) never changes the status: it
    is the verdict's, whatever the command (``set -o pipefail`` in CI relies on it).
    """
    args = build_parser().parse_args(argv)
    real = sys.stdout
    guarded = _PipeSafe(real)
    sys.stdout = guarded
    try:
        status: int = args.handler(args)
        guarded.flush()
    finally:
        sys.stdout = real
    return status
