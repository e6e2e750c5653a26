"""Verdict records: what one spec directive concluded, shared by the extension and the CLI.

No sphinx import here, so ``specmodel check`` and its reports can use these types directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

#: held: prose and model agree; diverged: they do not; error: bad input (the check could not
#: run); skipped: ``specmodel_skip_exploration`` was set.
Status = Literal["held", "diverged", "error", "skipped"]
#: The markup a verdict comes from; "coverage" is the end-of-build field coverage check and
#: "markup" a misspelled spec directive or role, or an option docutils rejected.
Kind = Literal["model", "field", "claim", "invariant", "run", "value", "coverage", "markup"]
FAILING: frozenset[str] = frozenset({"diverged", "error"})


@dataclass(frozen=True)
class StepRecord:
    """One counterexample step, as :mod:`specmodel.explorer.timeline` and the page need it."""

    index: int
    thread: str
    op: str
    holds: tuple[str, ...] = ()
    waits: str | None = None
    mode: str | None = None


@dataclass(frozen=True)
class TraceRecord:
    """A counterexample trace, detached from the explorer so it can be cached as JSON."""

    threads: tuple[str, ...]
    steps: tuple[StepRecord, ...]
    text: str  #: ``Trace.render()``
    schedule: str = ""

    @classmethod
    def from_trace(cls, trace: Any) -> TraceRecord:
        """Copy a :class:`specmodel.explorer.trace.Trace` (duck-typed: this module imports none)."""
        steps = tuple(
            StepRecord(
                index=int(s.index),
                thread=str(s.thread),
                op=str(s.op),
                holds=tuple(str(h) for h in (s.holds or ())),
                waits=None if s.waits is None else str(s.waits),
                mode=None if s.mode is None else str(getattr(s.mode, "value", s.mode)),
            )
            for s in trace.steps
        )
        return cls(
            threads=tuple(str(t) for t in trace.threads),
            steps=steps,
            text=str(trace.render()),
            schedule=str(getattr(trace, "schedule", "")),
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TraceRecord:
        steps = tuple(
            StepRecord(
                index=s["index"],
                thread=s["thread"],
                op=s["op"],
                holds=tuple(s["holds"]),
                waits=s["waits"],
                mode=s["mode"],
            )
            for s in data["steps"]
        )
        return cls(
            threads=tuple(data["threads"]),
            steps=steps,
            text=data["text"],
            schedule=data.get("schedule", ""),
        )


@dataclass(frozen=True)
class Outcome:
    """What running one check produced; this is what the disk cache stores."""

    status: Status
    message: str  #: empty when held; otherwise what the prose states and what the model did
    summary: tuple[str, ...] = ()  #: one line per exploration: scenario, params, states
    states: int = 0
    seconds: float = 0.0
    trace: TraceRecord | None = None
    output: str = ""  #: stdout of a spec:run block
    #: document line the verdict belongs at when it is not the directive's own line (the
    #: failing line of a spec:run block); 0 means the directive's line
    line: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Outcome:
        trace = data.get("trace")
        return cls(
            status=data["status"],
            message=data["message"],
            summary=tuple(data.get("summary", ())),
            states=int(data.get("states", 0)),
            seconds=float(data.get("seconds", 0.0)),
            trace=None if trace is None else TraceRecord.from_json(trace),
            output=data.get("output", ""),
            line=int(data.get("line", 0)),
        )


CheckKind = Literal["claim", "invariant", "run"]


@dataclass(frozen=True)
class Job:
    """One check a directive asks for, recorded while reading and run later in a worker
    process (:mod:`specmodel.sphinxext.pool`), so the Sphinx process never runs user code."""

    kind: CheckKind
    #: unique within the build: ``<docname>#<n>``, the n-th check of that document
    ident: str
    docname: str
    path: str  #: source file of the directive (an included file when it is in one)
    line: int  #: the directive's line
    target: str  #: claim id, expression, or "spec:run block"
    options: tuple[tuple[str, str], ...]
    #: spec:run: the code; claims and invariants: empty (their prose body changes nothing)
    code: str = ""
    first_line: int = 0  #: document line of the block's first line (spec:run)
    expect: str = "holds"
    what: str = ""  #: what the verdict box names: "claim X against mutant Y", ...
    max_states: int | None = None
    time_limit: float | None = None

    @property
    def option_map(self) -> dict[str, str]:
        return dict(self.options)

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}"


#: (path, sha256 of its bytes) of one file a check's code came from
Dependency = tuple[str, str]


@dataclass(frozen=True)
class Check:
    """A job and, once it has run (or been taken from the cache), its outcome."""

    job: Job
    key: str = ""  #: the cache key (see :func:`specmodel.sphinxext.cache.job_key`)
    outcome: Outcome | None = None
    deps: tuple[Dependency, ...] = ()
    cached: bool = False


@dataclass(frozen=True)
class Verdict:
    """One spec directive's verdict, located in its source file."""

    path: str  #: source file (an included file when the directive is in an ``include``)
    line: int
    kind: Kind
    target: str  #: claim id, field name, expression, model, constant ...
    status: Status
    message: str = ""
    states: int = 0
    seconds: float = 0.0
    docname: str = ""
    expect: Literal["holds", "violated"] = "holds"
    #: bookkeeping for incremental builds: was the outcome taken from the disk cache, and in
    #: which read generation (see SpecDomain) was it computed
    cached: bool = field(default=False, compare=False)
    generation: int = field(default=0, compare=False)

    @property
    def failed(self) -> bool:
        return self.status in FAILING

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}"

    def to_json(self) -> dict[str, Any]:
        """The record for reports (path, line, kind, target, status, message, states, seconds)."""
        data = asdict(self)
        del data["cached"], data["generation"]
        return data

    def with_(self, **changes: Any) -> Verdict:
        return replace(self, **changes)


def summarize(verdicts: Sequence[Verdict]) -> dict[str, float]:
    """Counts for a report's summary line: checked, held, diverged, errors, states, seconds."""
    return {
        "checked": len(verdicts),
        "held": sum(v.status == "held" for v in verdicts),
        "diverged": sum(v.status == "diverged" for v in verdicts),
        "errors": sum(v.status == "error" for v in verdicts),
        "skipped": sum(v.status == "skipped" for v in verdicts),
        "states": sum(v.states for v in verdicts),
        "seconds": round(sum(v.seconds for v in verdicts), 3),
    }
