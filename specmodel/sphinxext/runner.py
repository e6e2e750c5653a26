"""Run one check (claim, invariant, ``spec:run`` block) and turn the answer into an Outcome.

No sphinx import. These functions run inside a worker process (:mod:`specmodel.sphinxext.pool`),
one fresh process per check, so whatever a check changes (``specmodel.kernel.CONSTANTS``, any
module state) dies with it. Every exception, ``SystemExit`` and ``KeyboardInterrupt`` included,
is converted to an Outcome.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import signal
import threading
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from types import FrameType
from typing import Any, Literal

from specmodel.errors import (
    BadParameterError,
    BudgetExceededError,
    InvariantExpressionError,
    SpecmodelError,
    UnknownNameError,
)
from specmodel.sphinxext.records import Job, Outcome, TraceRecord

Expect = Literal["holds", "violated"]
#: Errors that mean the directive itself is wrong (bad input), not that the model disagrees.
_INPUT_ERRORS = (UnknownNameError, BadParameterError, InvariantExpressionError, BudgetExceededError)
_TRUE = frozenset({"true", "yes", "on"})
_FALSE = frozenset({"false", "no", "off"})


@dataclass(frozen=True)
class Budget:
    """Per-directive limits (``specmodel_max_states``, ``specmodel_time_limit``)."""

    max_states: int | None = None
    time_limit: float | None = None

    def describe(self) -> str:
        return f"specmodel_max_states = {self.max_states}, specmodel_time_limit = {self.time_limit}"


def parse_expect(text: str | None) -> Expect:
    """``:expect:`` is ``holds`` (the default) or ``violated``."""
    value = (text or "holds").strip().lower()
    if value in ("holds", "hold"):
        return "holds"
    if value in ("violated", "refuted"):
        return "violated"
    raise BadParameterError(f":expect: must be 'holds' or 'violated' (got {text!r})")


def parse_param(name: str, text: str | None) -> int | bool:
    """A scenario or claim parameter written as an option: an integer, or true/false."""
    value = (text or "").strip()
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    try:
        return int(value, 0)
    except ValueError:
        raise BadParameterError(
            f":{name}: must be an integer or true/false (got {value!r})"
        ) from None


def format_call(
    scenario: str, params: Mapping[str, object], mutant: str | Sequence[str] | None = None
) -> str:
    """``fast_zap(pages=2, vcpus=1) with mutant no_yield``."""
    args = ", ".join(f"{k}={v}" for k, v in sorted(params.items()))
    text = f"{scenario}({args})"
    names = [mutant] if isinstance(mutant, str) else list(mutant or ())
    if names:
        text += " with mutant " + ", ".join(names)
    return text


class _Deadline(BudgetExceededError):
    pass


def subject(kind: str, target: str) -> str:
    """How messages name a check: ``spec:claim X``, ``spec:invariant 'e'``, ``spec:run block``."""
    if kind == "run":
        return "spec:run block"
    if kind == "invariant":
        return f"spec:invariant {target!r}"
    return f"spec:{kind} {target}"


def time_limit_message(what: str, seconds: float | None) -> str:
    """The one message of a check stopped at its time limit, whichever side stopped it (the
    worker's own alarm, or the parent killing a worker that ignored the alarm)."""
    return (
        f"{what} ran longer than its time limit of {seconds:g} s (specmodel_time_limit) "
        "and was stopped"
    )


def _about(what: str, noun: str, target: str, text: str) -> str:
    """``{what}: {text}``, unless ``text`` already starts by naming the check (``claim X has
    no parameter ...``, ``invariant 'e' raised ...``): then one sentence, not two."""
    for lead in (f"{noun} {target}", f"{noun} {target!r}"):
        if text.startswith(lead):
            rest = text[len(lead) :]
            return f"{what}{rest}" if rest.startswith((":", " ")) else f"{what}: {text}"
    return f"{what}: {text}"


def run_job(job: Job) -> Outcome:
    """Run one recorded check (the worker's entry point)."""
    budget = Budget(job.max_states, job.time_limit)
    options = job.option_map
    if job.kind == "claim":
        return check_claim(job.target, options, budget)
    if job.kind == "invariant":
        return check_invariant(job.target, options, budget)
    return check_block(job.code, options.get("expect"), job.first_line, budget)


@contextlib.contextmanager
def deadline(seconds: float | None, what: str) -> Iterator[None]:
    """Backstop for the time limit: interrupt a check that overruns it (main thread only).

    explore() enforces ``time_limit`` itself; this catches code that does not (spec:run blocks,
    claims that do not accept a budget), so a runaway check is an error and not a hang.
    """
    usable = (
        seconds is not None
        and seconds > 0
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def _fire(signum: int, frame: FrameType | None) -> None:
        raise _Deadline(time_limit_message(what, seconds))

    previous = signal.signal(signal.SIGALRM, _fire)
    signal.setitimer(signal.ITIMER_REAL, float(seconds or 0))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _error(message: str, started: float) -> Outcome:
    return Outcome(status="error", message=message, seconds=time.perf_counter() - started)


def _budget_message(what: str, exc: BaseException, budget: Budget) -> str:
    return f"{what} exceeded its budget ({budget.describe()}): {exc}"


def check_claim(claim_id: str, options: Mapping[str, str | None], budget: Budget) -> Outcome:
    """``.. spec:claim:: <id>``: run the claim (or a mutant) and compare with ``:expect:``."""
    started = time.perf_counter()
    try:
        from specmodel.claims import get_claim

        expect = parse_expect(options.get("expect"))
        mutant = (options.get("mutant") or "").strip() or None
        params = {k: parse_param(k, v) for k, v in options.items() if k not in ("expect", "mutant")}
        claim = get_claim(claim_id)
        with deadline(budget.time_limit, subject("claim", claim_id)):
            result = claim.run(
                mutant=mutant,
                max_states=budget.max_states,
                time_limit=budget.time_limit,
                **params,
            )
    except _Deadline as exc:
        return _error(str(exc), started)
    except BudgetExceededError as exc:
        return _error(_budget_message(subject("claim", claim_id), exc, budget), started)
    except SpecmodelError as exc:
        return _error(_about(subject("claim", claim_id), "claim", claim_id, str(exc)), started)
    except Exception as exc:
        return _error(f"spec:claim {claim_id}: the check failed: {_one_line(exc)}", started)
    seconds = time.perf_counter() - started
    states = sum(int(e.states) for e in result.explorations)
    if budget.max_states is not None and states > budget.max_states:
        return _error(
            f"claim {claim_id} exceeded its budget ({budget.describe()}): explored {states} states",
            started,
        )
    summary = tuple(str(e.describe()) for e in result.explorations)
    trace = None if result.trace is None else TraceRecord.from_trace(result.trace)
    against = f" against mutant {mutant}" if mutant else ""
    if result.holds == (expect == "holds"):
        return Outcome("held", "", summary, states, seconds, trace)
    if expect == "holds":
        message = (
            f"spec:claim {claim_id} diverges from the model: the prose states "
            f'"{claim.statement}"; the model{against} refutes it: {result.message}'
        )
    else:
        message = (
            f"spec:claim {claim_id} diverges from the model: the prose expects the model{against} "
            f'to refute "{claim.statement}" (:expect: violated), but it holds '
            f"({states} states explored): {result.message}"
        )
    if trace is not None:
        message += _counterexample(trace.text)
    return Outcome("diverged", message, summary, states, seconds, trace)


def _after(steps: Sequence[object]) -> str:
    return f"after {len(steps)} steps" if steps else "in the initial state"


def _counterexample(text: str) -> str:
    """The trace after a divergence message; a violation in the initial state has no steps."""
    if not text.strip():
        return "\ncounterexample: the initial state (no step is needed)"
    return "\ncounterexample:\n" + text


_INVARIANT_OPTIONS = ("scenario", "mutant", "expect")


def check_invariant(expression: str, options: Mapping[str, str | None], budget: Budget) -> Outcome:
    """``.. spec:invariant:: <expr>``: the expression must hold in every explored state."""
    started = time.perf_counter()
    scenario = (options.get("scenario") or "fast_zap").strip()
    mutant_text = (options.get("mutant") or "").strip()
    mutants = tuple(m.strip() for m in mutant_text.split(",") if m.strip())
    params: dict[str, int | bool] = {}
    try:
        from specmodel.explorer import explore
        from specmodel.explorer.invariants import BUILTIN

        expect = parse_expect(options.get("expect"))
        params = {k: parse_param(k, v) for k, v in options.items() if k not in _INVARIANT_OPTIONS}
        arguments: dict[str, Any] = {
            "invariants": [expression],
            # the prose states this expression; the built-in invariants are the claims'
            "exclude": tuple(BUILTIN),
            "mutant": mutants or None,
            "max_states": budget.max_states,
            "time_limit": budget.time_limit,
            **params,
        }
        run = explore(scenario, **arguments)
    except BudgetExceededError as exc:
        what = f"spec:invariant {expression!r} in {format_call(scenario, params, mutants)}"
        return _error(_budget_message(what, exc, budget), started)
    except SpecmodelError as exc:
        what = subject("invariant", expression)
        return _error(_about(what, "invariant", expression, str(exc)), started)
    except Exception as exc:
        return _error(f"spec:invariant {expression!r}: the check failed: {_one_line(exc)}", started)
    seconds = time.perf_counter() - started
    call = format_call(run.scenario, run.params, run.mutant)
    summary = (str(run.describe()),)
    violation = run.violation
    trace = None if violation is None else TraceRecord.from_trace(violation.trace)
    if run.holds == (expect == "holds"):
        return Outcome("held", "", summary, run.states, seconds, trace)
    if expect == "holds" and violation is not None:
        message = (
            f"spec:invariant diverges from the model: the prose states that {expression!r} holds "
            f"in every state of {call}; the model violates it {_after(violation.trace.steps)}: "
            f"{violation.message}"
        )
        if violation.trace.steps:  # the initial state needs no counterexample
            message += _counterexample(violation.trace.render())
    elif expect == "holds":
        message = f"spec:invariant diverges from the model: {expression!r} does not hold in {call}"
    else:
        message = (
            f"spec:invariant diverges from the model: the prose expects {expression!r} to be "
            f"violated in {call} (:expect: violated), but it holds in all "
            f"{run.states} states explored"
        )
    return Outcome("diverged", message, summary, run.states, seconds, trace)


def public_namespace() -> dict[str, Any]:
    """What a spec:run block sees: ``specmodel``, its public names and the kernel constants."""
    module = importlib.import_module("specmodel")
    kernel = importlib.import_module("specmodel.kernel")
    names: dict[str, Any] = {"__name__": "__spec_run__", "specmodel": module}
    names.update(kernel.CONSTANTS)
    for name in getattr(module, "__all__", ()):
        names[name] = getattr(module, name)
    return names


def check_block(code: str, expect_text: str | None, first_line: int, budget: Budget) -> Outcome:
    """``.. spec:run::``: run the block; a failed assert or a model error is a divergence.

    A failure is located at the block's failing line (``Outcome.line``), a syntax error at
    the line it is on. ``SystemExit`` and ``KeyboardInterrupt`` raised by the block are errors
    like any other exception (this runs in a worker process, never in Sphinx's).
    """
    started = time.perf_counter()
    filename = "<spec:run>"
    out = io.StringIO()
    try:
        expect = parse_expect(expect_text)
    except BadParameterError as exc:
        return _error(f"spec:run: {exc}", started)
    try:
        compiled = compile(code, filename, "exec")
    except SyntaxError as exc:
        line = first_line + (exc.lineno or 1) - 1
        return replace(
            _error(f"spec:run block does not parse: {exc.msg} (line {line})", started), line=line
        )
    try:
        namespace = public_namespace()
        what = subject("run", "")
        with deadline(budget.time_limit, what), contextlib.redirect_stdout(out):
            exec(compiled, namespace)
    except BaseException as exc:  # SystemExit and KeyboardInterrupt from a block included
        seconds = time.perf_counter() - started
        if isinstance(exc, _Deadline):
            return Outcome("error", str(exc), seconds=seconds, output=out.getvalue())
        where = _block_line(exc, filename, first_line)
        found = f"{type(exc).__name__} at line {where}"
        detail = _describe(exc, code, where - first_line)
        if detail:
            found += f": {detail}"
        from pydantic import ValidationError

        refutes = isinstance(exc, AssertionError | ValidationError | SpecmodelError) and not (
            isinstance(exc, _INPUT_ERRORS)
        )
        if isinstance(exc, BudgetExceededError):
            message = _budget_message("spec:run block", exc, budget)
            return Outcome("error", message, seconds=seconds, output=out.getvalue(), line=where)
        if not refutes:
            message = f"spec:run block raised {found}"
            return Outcome("error", message, seconds=seconds, output=out.getvalue(), line=where)
        if expect == "violated":
            return Outcome(
                "held", "", (f"refuted as expected: {found}",), 0, seconds, output=out.getvalue()
            )
        return Outcome(
            "diverged",
            f"spec:run block diverges from the model: the prose expects it to run without "
            f"error; it raised {found}",
            seconds=seconds,
            output=out.getvalue(),
            line=where,
        )
    seconds = time.perf_counter() - started
    if expect == "violated":
        return Outcome(
            "diverged",
            "spec:run block diverges from the model: the prose expects the model to refute it "
            "(:expect: violated), but it ran without error",
            seconds=seconds,
            output=out.getvalue(),
        )
    return Outcome("held", "", ("ran without error",), 0, seconds, output=out.getvalue())


def _block_line(exc: BaseException, filename: str, first_line: int) -> int:
    """The document line of the innermost block frame in the exception's traceback."""
    line = first_line
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == filename and frame.lineno is not None:
            line = first_line + frame.lineno - 1
    return line


def _describe(exc: BaseException, code: str, offset: int) -> str:
    """What the exception says; a bare ``assert`` shows its line; ``SystemExit(3)`` its
    status; an exception with nothing to say (``raise KeyboardInterrupt``) nothing."""
    if isinstance(exc, SystemExit):
        return "" if exc.code is None else f"exit status {exc.code!r}"
    if not exc.args and not isinstance(exc, AssertionError):
        return ""
    text = _one_line(exc, with_type=False)
    if isinstance(exc, AssertionError) and not exc.args:
        lines = code.splitlines()
        if 0 <= offset < len(lines):
            return lines[offset].strip()
    return text


def _one_line(exc: BaseException, *, with_type: bool = True) -> str:
    text = str(exc).strip() or repr(exc)
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        text = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or exc.title}: {err['msg']} "
            f"(got {err.get('input')!r})"
            for err in exc.errors()
        )
    return f"{type(exc).__name__}: {text}" if with_type else text
