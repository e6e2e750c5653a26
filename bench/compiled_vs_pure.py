"""Differential check of the mypyc-compiled build against the pure-Python source.

Usage: python bench/compiled_vs_pure.py PYTHON [--vcpus 1 2]

``PYTHON`` is the interpreter of a venv with a compiled specmodel wheel installed (CI:
.ci/run). Both sides run in fresh interpreters: the pure one imports the source tree
(``PYTHONPATH`` = this repository, where no extension module exists), the compiled one the
installed wheel (from a folder outside the repository, with no ``PYTHONPATH``). Each side
explores every scenario of the registry at small bounds, with every mutant and every
refutable property (the cases of tests/differential.py), and reports per case the verdict,
states, transitions, depth, metrics, the violated invariant, its message and the whole
counterexample trace, and ``repr`` of the parameters (so that a bool turned into an int
shows). Also compared: the fingerprint (``hash``) of every scenario's initial state, a
sharded search (states pickled between processes), ``dataclasses.replace`` of a result,
and the docstrings of every public function and class of the compiled modules (invariant
descriptions are docstrings). Any difference is printed and the exit status is 1.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

#: Run in each interpreter: reads the cases (JSON) on stdin, prints one JSON object.
CHILD = r"""
import dataclasses, importlib, inspect, json, pickle, sys
import specmodel
from specmodel import explore
from specmodel.explorer.invariants import BUILTIN, REFUTABLE
from specmodel.kernel.scenarios import instantiate, scenario_names

cases = json.load(sys.stdin)
out = {"compiled": specmodel.compiled, "file": specmodel.explorer.search.__file__}
for scenario, params, mutant, invariants in cases:
    key = f"{scenario} {json.dumps(params, sort_keys=True)} {mutant} {invariants}"
    e = explore(scenario, mutant=mutant, invariants=tuple(invariants), **params)
    v = e.violation
    out[key] = {
        "holds": e.holds, "states": e.states, "transitions": e.transitions, "depth": e.depth,
        "metrics": repr(sorted(e.metrics.items())), "params": repr(dict(e.params)),
        "invariants": repr(e.invariants),
        "violation": None if v is None else [v.invariant, v.message, repr(v.trace), str(v)],
    }
for scenario in scenario_names():
    initial = instantiate(scenario, (), {})[3]
    out[f"hash {scenario}"] = hash(initial)
    out[f"pickle {scenario}"] = hash(pickle.loads(pickle.dumps(initial))) == hash(initial)
e = explore("fast_zap", vcpus=2, pages=3, workers=2)
metrics = repr(sorted(e.metrics.items()))
out["sharded fast_zap"] = [e.holds, e.states, e.transitions, e.depth, metrics]
out["pickle exploration"] = pickle.loads(pickle.dumps(e)) == e  # frozen dataclasses
s = explore("fast_zap", strategy="random", workers=2, walks=2, max_steps=400, pages=3)
out["swarm fast_zap"] = [s.holds, s.states, s.steps_walked, s.walks, s.depth, s.workers]
out["replace"] = repr(dataclasses.replace(e, seconds=0.0, workers=1).metrics)
out["describe"] = dataclasses.replace(e, seconds=0.0).describe()
for name, inv in {**BUILTIN, **REFUTABLE}.items():
    out[f"invariant {name}"] = inv.summary
for module in sys.argv[1:]:
    mod = importlib.import_module(module)
    for name, obj in vars(mod).items():
        if getattr(obj, "__module__", None) != module or name.startswith("__"):
            continue
        if inspect.isclass(obj) or callable(obj):
            out[f"doc {module}.{name}"] = obj.__doc__
            for attr, member in vars(obj).items() if inspect.isclass(obj) else ():
                if callable(member) and not attr.startswith("__"):
                    out[f"doc {module}.{name}.{attr}"] = member.__doc__
print(json.dumps(out))
"""


#: Docstrings that differ, and why; none is read at run time or shown in the docs. mypyc
#: gives a class that stays a Python class in a compiled module (an Enum, a NamedTuple, a
#: subclass of a Python exception) the docstring "mypyc filler docstring", and a compiled
#: dataclass without a docstring no generated signature docstring; setup.py's
#: _keep_docstrings restores every docstring written in the source but these.
KNOWN: dict[str, str] = {
    "doc specmodel.explorer.invariants.Invariant": "dataclass without a docstring",
    "doc specmodel.kernel.mutants.Mutant": "dataclass without a docstring",
    "doc specmodel.kernel.locks.LockStep": "Enum: filler docstring",
    "doc specmodel.kernel.program.Successor": "NamedTuple: filler docstring",
    "doc specmodel.kernel.state.State": "NamedTuple: filler docstring",
    "doc specmodel.kernel.state.Page": "NamedTuple: filler docstring",
    "doc specmodel.kernel.state.VmState": "NamedTuple: filler docstring",
    "doc specmodel.kernel.state.PoisonedPointer": "Python class (mypyc_attr): filler docstring",
    "doc specmodel.kernel.state.Page._replace": "_fast_replace's function: '' for None",
    "doc specmodel.kernel.state.VmState._replace": "_fast_replace's function: '' for None",
}


def _cases(vcpus: tuple[int, ...]) -> list[list[object]]:
    sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]
    from differential import cases  # the same enumeration as the differential tests

    return [[*p.values[:3], list(p.values[3])] for p in cases(vcpus)]


def _modules() -> list[str]:
    """Every module of the kernel model and the explorer (compiled or not)."""
    return sorted(
        p.relative_to(ROOT)
        .as_posix()
        .removesuffix(".py")
        .replace("/", ".")
        .removesuffix(".__init__")
        for top in ("kernel", "explorer")
        for p in (ROOT / "specmodel" / top).glob("*.py")
    )


def _start(python: str, env: dict[str, str], cwd: str, modules: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [python, "-c", CHILD, *modules],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=cwd,
    )


def _result(child: subprocess.Popen[str], cases: str) -> dict[str, Any]:
    out, err = child.communicate(cases)
    if child.returncode != 0:
        sys.exit(f"{child.args[0]} failed:\n{err}")  # type: ignore[index]
    return json.loads(out)  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("python", help="interpreter of a venv with the compiled wheel")
    parser.add_argument("--vcpus", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    cases = json.dumps(_cases(tuple(args.vcpus)))
    modules = _modules()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    with tempfile.TemporaryDirectory() as away:
        # both at once (each is one process): the wall time is the slower one's
        start = time.perf_counter()
        children = [
            _start(sys.executable, {**env, "PYTHONPATH": str(ROOT)}, away, modules),
            _start(args.python, env, away, modules),
        ]
        pure, compiled = (_result(c, cases) for c in children)
        seconds = time.perf_counter() - start
    if pure.pop("compiled") is not False or compiled.pop("compiled") is not True:
        sys.exit(
            f"expected the source tree pure ({pure.get('file')}) and {args.python}'s "
            f"install compiled ({compiled.get('file')}); see specmodel.compiled"
        )
    pure.pop("file"), compiled.pop("file")
    differ = sorted(
        k
        for k in pure.keys() | compiled.keys()
        if pure.get(k) != compiled.get(k) and k not in KNOWN
    )
    for key in sorted(KNOWN):
        if pure.get(key) == compiled.get(key):
            print(f"now the same (drop it from KNOWN): {key}")
    for key in differ:
        print(f"DIFFERS {key}:\n  pure:     {pure.get(key)!r}\n  compiled: {compiled.get(key)!r}")
    runs = sum(1 for k in pure if k.count(" ") >= 3)
    print(
        f"{len(pure)} results compared ({runs} explorations) in {seconds:.0f} s: "
        + (f"{len(differ)} differ" if differ else "identical")
    )
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
