"""The ``specmodel`` command line: one argparse subcommand per module (``add_<cmd>_parser``)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from specmodel.check_cli import add_check_parser
from specmodel.claims_cli import add_claims_parser
from specmodel.explore_cli import add_explore_parser
from specmodel.lint_cli import add_lint_parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="specmodel", description=__doc__)
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
