"""Sharded exhaustive breadth-first search over worker processes.

Each worker owns the states whose fingerprint falls in its shard (``owner()``), keeps their
fingerprints (8 bytes each) and the way back to their parents, checks the invariants on
them and expands them. The search runs level by level: every worker expands its frontier
and sends each successor, pickled in one message per destination, to the coordinator,
which hands every worker what it owns once per level. A worker keeps the successors it has
not seen, and those are the next level's frontier.

Level-synchronous expansion keeps what the single-process search guarantees: the same
distinct states, transitions and depth on a run that finishes (the state set is the same,
only its partition differs), and a counterexample of the same (shortest) length. When
several states of the first violating level break an invariant, the one reported is the
first by invariant order, then worker, then arrival order, so a run is deterministic for a
given number of workers.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import pickle
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any

from specmodel.explorer.symmetry import canonical
from specmodel.explorer.visited import Fingerprints, fingerprint
from specmodel.kernel.state import State, VmState, intern_pages

#: A reference to a visited state: (worker, its index in that worker's arrays).
Ref = tuple[int, int]


def owner(fp: int, workers: int) -> int:
    """The worker that owns fingerprint ``fp`` (high bits: the table uses the low ones)."""
    return (fp >> 40) % workers


class _Shard:
    """One worker's part of the search."""

    def __init__(self, me: int, workers: int, model: Any, invs: list[Any], symmetric: bool) -> None:
        from specmodel.explorer.search import _Checker

        self.me = me
        self.workers = workers
        self.model = model
        self.cfg = model.cfg
        self.symmetric = symmetric
        self.checker = _Checker(invs, model.cfg)
        self.seen = Fingerprints()
        # per visited state of this shard: the parent (worker, index) and the step
        self.parent_worker: list[int] = []
        self.parent_index: list[int] = []
        self.step: list[int] = []
        # the states of the current level, which have consecutive indexes from this one
        self.frontier: list[State] = []
        self.frontier_start = 0
        from specmodel.explorer.search import new_metrics

        self.metrics = new_metrics()
        self.transitions = 0
        self._vms: dict[VmState, VmState] = {}

    def expand(self) -> list[bytes]:
        """Expand the frontier: one pickled batch of (state, parent, step) per worker."""
        out: list[list[tuple[State, int, int]]] = [[] for _ in range(self.workers)]
        cfg, symmetric, workers = self.cfg, self.symmetric, self.workers
        # a successor met twice in this level is sent once (its first parent is kept, as
        # the single-process search keeps the first); what the owner has seen, it drops
        sent: set[int] = set()
        for idx, state in enumerate(self.frontier, self.frontier_start):
            for tid, program in enumerate(self.model.search_programs):
                for j, (_, nxt) in enumerate(program(state, tid, cfg)):
                    self.transitions += 1
                    if symmetric:
                        nxt = canonical(nxt, cfg)[0]
                    fp = fingerprint(nxt)
                    if fp in sent:
                        continue
                    sent.add(fp)
                    out[owner(fp, workers)].append((nxt, idx, tid << 8 | j))
        self.frontier = []
        return [pickle.dumps((self.me, batch), pickle.HIGHEST_PROTOCOL) for batch in out]

    def accept(self, batches: list[bytes]) -> tuple[int, tuple[int, int, str, str] | None]:
        """Keep the unseen states of the batches sent to this worker; returns how many were
        new and the first violation among them (invariant rank, index, name, message)."""
        from specmodel.explorer.search import _metrics

        new = 0
        self.frontier_start = len(self.step)
        first: tuple[int, int, str, str] | None = None
        rank = {inv.name: n for n, inv in enumerate(self.checker.invs)}
        for blob in batches:
            sender, batch = pickle.loads(blob)
            for state, parent, step in batch:
                if not self.seen.add(fingerprint(state)):
                    continue
                # unpickled states share nothing: share pages and VM fields again
                vm = self._vms.setdefault(state.vm, state.vm)
                state = State(vm, intern_pages(state.pages), state.threads)
                idx = self._record(sender, parent, step)
                new += 1
                _metrics(self.cfg, state, self.metrics)
                bad = self.checker.first_violation(state)
                if bad is not None:
                    key = (rank[bad[0]], idx, bad[0], bad[1])
                    if first is None or key[0] < first[0]:
                        first = key
                self.frontier.append(state)
        return new, first

    def _record(self, worker: int, index: int, step: int) -> int:
        self.parent_worker.append(worker)
        self.parent_index.append(index)
        self.step.append(step)
        return len(self.step) - 1

    def seed(self, state: State) -> tuple[int, tuple[int, int, str, str] | None]:
        self.seen.add(fingerprint(state))
        self._record(-1, -1, 0)
        self.frontier = [state]
        self.frontier_start = 0
        from specmodel.explorer.search import _metrics

        _metrics(self.cfg, state, self.metrics)
        bad = self.checker.first_violation(state)
        return 1, (None if bad is None else (0, 0, bad[0], bad[1]))

    def link(self, index: int) -> tuple[int, int, int]:
        return self.parent_worker[index], self.parent_index[index], self.step[index]


def _serve(shard: _Shard, conn: Connection) -> None:
    """A worker's loop: answer the coordinator's requests until told to stop."""
    try:
        while True:
            request, arg = conn.recv()
            if request == "seed":
                conn.send(shard.seed(arg))
            elif request == "expand":
                conn.send(shard.expand())
            elif request == "accept":
                conn.send(shard.accept(arg))
            elif request == "link":
                conn.send(shard.link(arg))
            elif request == "totals":
                conn.send((len(shard.seen), shard.transitions, shard.metrics))
            else:
                return
    except (EOFError, KeyboardInterrupt):
        return


_SETUP: tuple[Any, list[Any], bool, int] | None = None


def _worker_main(me: int, conn: Connection) -> None:
    assert _SETUP is not None
    model, invs, symmetric, workers = _SETUP
    _serve(_Shard(me, workers, model, invs, symmetric), conn)


def sharded_bfs(
    model: Any,
    invs: list[Any],
    specs: Sequence[object],
    max_states: int | None,
    time_limit: float | None,
    progress: Callable[[Any], None] | None,
    symmetric: bool,
    workers: int,
) -> Any:
    """Breadth-first search of ``model`` over ``workers`` forked processes."""
    from specmodel.explorer.search import (
        ProgressInfo,
        Violation,
        _budget_error,
        _result,
        _time_error,
    )

    global _SETUP
    start = time.perf_counter()
    ctx = multiprocessing.get_context("fork")
    _SETUP = (model, invs, symmetric, workers)
    conns: list[Connection] = []
    procs = []
    try:
        for me in range(workers):
            ours, theirs = ctx.Pipe()
            proc = ctx.Process(target=_worker_main, args=(me, theirs), daemon=True)
            proc.start()
            theirs.close()
            conns.append(ours)
            procs.append(proc)
    finally:
        _SETUP = None

    def ask(w: int, request: str, arg: object = None) -> Any:
        conns[w].send((request, arg))
        return conns[w].recv()

    try:
        home = owner(fingerprint(model.initial), workers)
        states, first = ask(home, "seed", model.initial)
        found = None if first is None else (first, home)
        depth = 0
        next_report = start + 1.0
        while found is None:
            for c in conns:
                c.send(("expand", None))
            outgoing = [c.recv() for c in conns]
            for w, c in enumerate(conns):
                c.send(("accept", [outgoing[src][w] for src in range(workers)]))
            replies = [c.recv() for c in conns]
            added = sum(n for n, _ in replies)
            if added == 0:
                break
            depth += 1
            states += added
            hits = [(v, w) for w, (_, v) in enumerate(replies) if v is not None]
            if hits:
                found = min(hits, key=lambda h: (h[0][0], h[1], h[0][1]))
                break
            if max_states is not None and states > max_states:
                raise _budget_error(model.scenario, max_states, states)
            now = time.perf_counter()
            if time_limit is not None and now - start > time_limit:
                raise _time_error(model.scenario, time_limit, states)
            if progress is not None and now >= next_report:
                transitions = sum(ask(w, "totals")[1] for w in range(workers))
                progress(
                    ProgressInfo(states, transitions, depth, now - start, "bfs", 0, 0, workers)
                )
                next_report = now + 1.0
        totals = [ask(w, "totals") for w in range(workers)]
        metrics: dict[str, int] = {}
        for _, _, m in totals:
            for name, value in m.items():
                metrics[name] = max(metrics.get(name, value), value)
        transitions = sum(t for _, t, _ in totals)
        violation = None
        if found is not None:
            (_, index, name, message), w = found
            path = []
            while True:
                pw, pi, step = ask(w, "link", index)
                if pw < 0:
                    break
                path.append((step >> 8, step & 0xFF))
                w, index = pw, pi
            path.reverse()
            trace, final = model.replay(path, symmetric)
            inv = next(i for i in invs if i.name == name)
            violation = Violation(name, inv.check(model.cfg, final) or message, trace)
            depth = len(path)
        return _result(
            model,
            invs,
            violation,
            states,
            transitions,
            start,
            metrics,
            "bfs",
            depth,
            {},
            workers=workers,
        )
    finally:
        for c in conns:
            with contextlib.suppress(BrokenPipeError, OSError):
                c.send(("stop", None))
            c.close()
        for proc in procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
