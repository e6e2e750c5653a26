"""The ``specmodel`` command line: one argparse subcommand per module (``add_<cmd>_parser``)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

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
    """Run one subcommand; return its exit status (argparse exits 2 on usage errors)."""
    args = build_parser().parse_args(argv)
    try:
        status: int = args.handler(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # the reader went away (``specmodel claims | head``): not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    return status
