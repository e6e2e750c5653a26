"""``specmodel explore``: run one scenario from the shell and print what the explorer found."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Literal, TextIO

from specmodel.errors import BudgetExceededError, SpecmodelError
from specmodel.explorer import Exploration, ProgressInfo, explore
from specmodel.explorer.invariants import BUILTIN, REFUTABLE
from specmodel.kernel.mutants import MUTANTS
from specmodel.kernel.scenarios import get_scenario, scenario_names

#: The same default budgets as the Sphinx side (``specmodel_max_states`` and
#: ``specmodel_time_limit`` in specmodel/sphinxext/__init__.py; a test keeps them equal), so
#: a configuration that the docs build refuses does not run for minutes here either.
DEFAULT_MAX_STATES = 200_000
DEFAULT_TIME_LIMIT = 120.0


def add_explore_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "explore",
        help="explore every interleaving of a scenario",
        description="Explore every interleaving of SCENARIO, check the built-in invariants "
        "(and any --invariant) in every state, and print the figures and, on a violation, "
        "the numbered counterexample trace. Exit 0: holds; 1: violated; 2: bad input or a "
        f"budget exceeded (default: {DEFAULT_MAX_STATES} states, {DEFAULT_TIME_LIMIT:g} s; "
        "--max-states/--time-limit raise them, 'none' lifts them).",
        epilog="scenarios: "
        + ", ".join(scenario_names())
        + "; mutants: "
        + ", ".join(MUTANTS)
        + "; built-in invariants: "
        + ", ".join(BUILTIN)
        + "; refutable properties (for --invariant): "
        + ", ".join(REFUTABLE),
    )
    p.add_argument("scenario", metavar="SCENARIO", help="one of: " + ", ".join(scenario_names()))
    p.add_argument(
        "--mutant",
        action="append",
        default=[],
        metavar="M",
        help="run a deliberately broken kernel (repeat to combine)",
    )
    # numbers are parsed here, not by argparse, so that a bad one is reported like any
    # other error (one line, or JSON under --format json)
    for name in ("vcpus", "pages", "batch"):
        p.add_argument(f"--{name}", metavar="N", help=f"scenario parameter {name}")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="any other scenario parameter (e.g. preemptible=0, steps=4)",
    )
    p.add_argument(
        "--invariant",
        action="append",
        default=[],
        metavar="EXPR",
        help="Python expression over kvm (must give a bool), or a refutable property name",
    )
    p.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="NAME",
        help="leave a built-in invariant out",
    )
    p.add_argument(
        "--strategy",
        choices=("bfs", "random", "swarm"),
        default="bfs",
        help="bfs: exhaustive, shortest counterexample (default); random: seeded random "
        "walks; swarm: many random searches with different seeds and walk bounds, merged",
    )
    p.add_argument("--seed", metavar="N", default="0", help="seed of --strategy random/swarm")
    p.add_argument(
        "--max-states",
        metavar="N",
        help=f"state budget (default {DEFAULT_MAX_STATES}; 'none' for no limit); for random "
        "walks and swarms, stop once N distinct states were seen",
    )
    p.add_argument(
        "--max-steps",
        metavar="N",
        help="random walks and swarms: steps to walk in all (default 200000)",
    )
    p.add_argument(
        "--time-limit",
        metavar="S",
        help=f"time budget in seconds (default {DEFAULT_TIME_LIMIT:g}; 'none' for no limit)",
    )
    p.add_argument(
        "--workers",
        metavar="N",
        default="1",
        help="processes: a sharded breadth-first search (bfs) or the swarm's pool",
    )
    p.add_argument(
        "--walks",
        metavar="N",
        help="swarm: independent searches to run (default 4 per worker)",
    )
    p.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="run the swarm's searches on a Ray cluster ('auto', 'local' or "
        "ray://host:port; needs pip install 'specmodel[ray]'); implies --strategy swarm",
    )
    p.add_argument("--format", choices=("text", "json"), default="text")
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--progress",
        action="store_true",
        help="report progress on stderr (default: only when stderr is a terminal)",
    )
    group.add_argument("--no-progress", action="store_true", help="never report progress")
    p.set_defaults(handler=run_explore)


def _count(text: str | None, flag: str, *, minimum: int, none: bool = False) -> int | None:
    """An integer flag value >= ``minimum``; ``none`` allows 'none' (no limit)."""
    if text is None:
        return None
    if none and text.strip().lower() == "none":
        return None
    try:
        value = int(text)
    except ValueError:
        allowed = "an integer" + (" or 'none'" if none else "")
        raise SpecmodelError(f"{flag} expects {allowed} (got {text!r})") from None
    if value < minimum:
        raise SpecmodelError(f"{flag} expects an integer >= {minimum} (got {value})")
    return value


def _seconds(text: str | None) -> float | None:
    if text is None:
        return DEFAULT_TIME_LIMIT
    if text.strip().lower() == "none":
        return None
    try:
        value = float(text)
    except ValueError:
        raise SpecmodelError(
            f"--time-limit expects seconds (a number > 0) or 'none' (got {text!r})"
        ) from None
    if not value > 0 or value == float("inf"):
        raise SpecmodelError(f"--time-limit expects a finite number > 0 (got {text!r})")
    return value


def _params(args: argparse.Namespace) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name in ("vcpus", "pages", "batch"):
        value = _count(getattr(args, name), f"--{name}", minimum=-(1 << 31))
        if value is not None:
            params[name] = value
    for item in args.param:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SpecmodelError(f"--param expects NAME=VALUE (got {item!r})")
        try:
            params[key.strip()] = int(value)
        except ValueError:
            raise SpecmodelError(
                f"--param {key.strip()} expects an integer (got {value!r})"
            ) from None
    return params


def to_json(result: Exploration) -> dict[str, Any]:
    out: dict[str, Any] = {
        "schema": "specmodel-explore/1",
        "scenario": result.scenario,
        "params": dict(result.params),
        "mutant": list(result.mutant),
        "holds": result.holds,
        "states": result.states,
        "transitions": result.transitions,
        "depth": result.depth,
        "seconds": round(result.seconds, 4),
        "exhaustive": result.exhaustive,
        "strategy": result.strategy,
        "workers": result.workers,
        "metrics": dict(result.metrics),
        "invariants": list(result.invariants),
        "violation": None,
    }
    if not result.exhaustive:
        # "states" is distinct states under every strategy; random walks also walk steps
        out["steps_walked"] = result.steps_walked
        out["walks"] = result.walks
    if result.violation is not None:
        v = result.violation
        out["violation"] = {
            "invariant": v.invariant,
            "message": v.message,
            "schedule": v.trace.schedule,
            "trace": [
                {
                    "index": s.index,
                    "thread": s.thread,
                    "op": s.op,
                    "holds": list(s.holds),
                    "waits": s.waits,
                    "mode": s.mode,
                }
                for s in v.trace.steps
            ],
        }
    return out


def color_enabled(stream: TextIO) -> bool:
    """Colour as Sphinx decides it: NO_COLOR turns it off, FORCE_COLOR on, otherwise a
    terminal that is not 'dumb'."""
    if "NO_COLOR" in os.environ:
        return False
    if "FORCE_COLOR" in os.environ:
        return True
    return stream.isatty() and os.environ.get("TERM", "") != "dumb"


class Progress:
    """Progress on stderr: one line rewritten in place on a terminal, one line per report
    when asked for in a pipe (``--progress``), nothing otherwise."""

    def __init__(self, stream: TextIO, forced: bool) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.color = color_enabled(stream)
        self.shown = False
        self.forced = forced

    def __call__(self, info: ProgressInfo) -> None:
        text = f"specmodel explore: {info.describe()}"
        if self.tty:
            if self.color:
                text = f"\x1b[2m{text}\x1b[0m"
            self.stream.write(f"\r\x1b[K{text}")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
        self.shown = True

    def done(self) -> None:
        if self.shown and self.tty:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def _error(args: argparse.Namespace, exc: SpecmodelError) -> int:
    message = str(exc)
    if isinstance(exc, BudgetExceededError):
        message += (
            f" [budgets: --max-states N (default {DEFAULT_MAX_STATES}), --time-limit S "
            f"(default {DEFAULT_TIME_LIMIT:g}); 'none' lifts either]"
        )
    print(f"specmodel explore: error: {message}", file=sys.stderr)
    if getattr(args, "format", "text") == "json":
        doc = {
            "schema": "specmodel-explore/1",
            "error": {"type": type(exc).__name__, "message": message},
        }
        print(json.dumps(doc, indent=2))
    return 2


def run_explore(args: argparse.Namespace) -> int:
    show = not args.no_progress and (args.progress or sys.stderr.isatty())
    progress = Progress(sys.stderr, args.progress) if show else None
    try:
        get_scenario(args.scenario)
        max_states = (
            DEFAULT_MAX_STATES
            if args.max_states is None
            else _count(args.max_states, "--max-states", minimum=1, none=True)
        )
        strategy: Literal["bfs", "random", "swarm"] = "swarm" if args.ray else args.strategy
        workers = _count(args.workers, "--workers", minimum=1)
        assert workers is not None
        try:
            result = explore(
                args.scenario,
                mutant=args.mutant or None,
                invariants=args.invariant,
                exclude=args.exclude,
                strategy=strategy,
                seed=_count(args.seed, "--seed", minimum=0) or 0,
                max_states=max_states,
                max_steps=_count(args.max_steps, "--max-steps", minimum=1),
                time_limit=_seconds(args.time_limit),
                progress=progress,
                workers=workers,
                ray_address=args.ray,
                walks=_count(args.walks, "--walks", minimum=1),
                **_params(args),
            )
        finally:
            if progress is not None:
                progress.done()
    except SpecmodelError as exc:
        return _error(args, exc)
    if args.format == "json":
        print(json.dumps(to_json(result), indent=2))
    else:
        print(result.describe())
        print("metrics: " + ", ".join(f"{k}={v}" for k, v in result.metrics.items()))
        if result.violation is not None:
            print(result.violation.render())
            args_text = ", ".join(
                [repr(result.scenario), repr(result.violation.trace.schedule)]
                + ([f"mutant={'+'.join(result.mutant)!r}"] if result.mutant else [])
                + [f"{k}={int(v)}" for k, v in result.params.items()]
            )
            print(f"replay: specmodel.replay({args_text})")
    return 0 if result.holds else 1
