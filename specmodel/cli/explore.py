"""``specmodel explore``: run one scenario from the shell and print what the explorer found."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from specmodel.cli import value_type
from specmodel.errors import SpecmodelError
from specmodel.explorer import Exploration, ProgressInfo, explore
from specmodel.explorer.invariants import BUILTIN, REFUTABLE
from specmodel.kernel.mutants import MUTANTS
from specmodel.kernel.scenarios import get_scenario, scenario_names


def add_explore_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "explore",
        help="explore every interleaving of a scenario",
        description="Explore every interleaving of SCENARIO, check the built-in invariants "
        "(and any --invariant) in every state, and print the figures and, on a violation, "
        "the numbered counterexample trace. Exit 0: holds; 1: violated; 2: bad input.",
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
    for name in ("vcpus", "pages", "batch"):
        p.add_argument(f"--{name}", type=int, metavar="N", help=f"scenario parameter {name}")
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
        help="Python expression over kvm, or a refutable property name",
    )
    p.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="NAME",
        help="leave a built-in invariant out",
    )
    p.add_argument("--strategy", choices=("bfs", "random"), default="bfs")
    p.add_argument("--seed", type=int, default=0, help="seed of --strategy random")
    # the same checks as the specmodel_* conf values (specmodel/sphinxext/config.py)
    p.add_argument(
        "--max-states", type=value_type("specmodel_max_states"), metavar="N", help="state budget"
    )
    p.add_argument(
        "--time-limit",
        type=value_type("specmodel_time_limit"),
        metavar="S",
        help="time budget in seconds",
    )
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument(
        "--progress",
        action="store_true",
        help="report progress on stderr (default: when stderr is a terminal)",
    )
    p.set_defaults(handler=run_explore)


def _params(args: argparse.Namespace) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name in ("vcpus", "pages", "batch"):
        value = getattr(args, name)
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
        "metrics": dict(result.metrics),
        "invariants": list(result.invariants),
        "violation": None,
    }
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


def run_explore(args: argparse.Namespace) -> int:
    show_progress = args.progress or sys.stderr.isatty()

    def progress(info: ProgressInfo) -> None:
        print(
            f"specmodel explore: {info.states} states, {info.states_per_second:,.0f} "
            f"states/s, depth {info.depth}",
            file=sys.stderr,
        )

    try:
        get_scenario(args.scenario)
        result = explore(
            args.scenario,
            mutant=args.mutant or None,
            invariants=args.invariant,
            exclude=args.exclude,
            strategy=args.strategy,
            seed=args.seed,
            max_states=args.max_states,
            time_limit=args.time_limit,
            progress=progress if show_progress else None,
            **_params(args),
        )
    except SpecmodelError as exc:
        print(f"specmodel explore: error: {exc}", file=sys.stderr)
        return 2
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
