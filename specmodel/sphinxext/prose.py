"""Sphinx mode of ``lint --prose``: judge an *unmodified* kernel mmu.rst while the docs build.

With ``specmodel_prose = "kvm_mmu_page"`` (the name of a sentence table, or a path to a table
file relative to the confdir) every document that has the field list header ``Shadow pages
contain the following information:`` is judged sentence by sentence, exactly as
``specmodel lint --prose`` judges the file (:mod:`specmodel.prose`): on ``doctree-read`` the
source file is read as text (nothing in it is run), each judged sentence gets a small verdict
mark after it that links to a note under its entry (the claim, its verdict and, for a refuted
one, the counterexample), and each verdict is recorded as a ``spec`` domain verdict, so a
refuted sentence fails the build at its file and line like a failing ``spec:claim``. Nothing
is added to the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docutils import nodes
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from specmodel.errors import LintInputError, SpecmodelError
from specmodel.prose.table import CURRENT, Table, load_table, parse_table
from specmodel.sphinxext.domain import spec_domain
from specmodel.sphinxext.records import Verdict

if TYPE_CHECKING:
    from sphinx.application import Sphinx

    # the judging code is imported by the handlers that judge (a build that reads no
    # kernel mmu.rst, a warm one, never needs it)
    from specmodel.prose.judge import ClaimRunner, Judgement

logger = logging.getLogger(__name__)

MARKS = {"verified": "\u2713", "refuted": "\u2717", "ambiguous": "?", "unjudged": "\u2026"}
SHOWN = tuple(MARKS)


def setup(app: Sphinx) -> None:
    """Register ``specmodel_prose`` and the ``doctree-read`` handler."""
    app.add_config_value(
        "specmodel_prose",
        "",
        "env",
        types=frozenset({str}),
        description="Sentence table to judge kernel mmu.rst files with ('' = off; "
        "'kvm_mmu_page', or a .toml path relative to the confdir).",
    )
    app.connect("doctree-read", judge_document)
    app.connect("build-finished", coverage_summary)
    app.add_directive_to_domain("spec", "prose-coverage", ProseCoverageDirective)


def _table(app: Sphinx) -> Table:
    value: str = app.config.specmodel_prose
    if value.endswith(".toml"):
        import tomllib

        path = Path(app.confdir or app.srcdir) / value
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            message = f"specmodel_prose: expected a sentence table at {path}; {exc}"
            raise SpecmodelError(message) from None
        return parse_table(data, str(path))
    return load_table(value)


def _runner(app: Sphinx) -> ClaimRunner:
    from specmodel.prose.judge import ClaimRunner

    runner: ClaimRunner | None = getattr(app, "_specmodel_prose_runner", None)
    if runner is None:
        cache = app.config.specmodel_cache_dir
        runner = ClaimRunner(Path(cache) if cache else None)
        app._specmodel_prose_runner = runner  # type: ignore[attr-defined]
    return runner


def judge_document(app: Sphinx, doctree: nodes.document) -> None:
    """``doctree-read``: judge the field list of a kernel mmu.rst and mark its sentences."""
    if not app.config.specmodel_prose or app.env is None:
        return
    from specmodel.lint import HEADER, decode, split_lines
    from specmodel.prose.judge import Found, Where, judge
    from specmodel.prose.split import file_entries, split_sentences

    env = app.env
    source = os.path.abspath(env.doc2path(env.docname))
    try:
        with open(source, "rb") as stream:
            text = decode(stream.read(), source)
    except (OSError, LintInputError):
        return  # Sphinx itself reports unreadable sources
    lines = split_lines(text)
    if not any(" ".join(line.split()) == HEADER for line in lines):
        return
    domain = spec_domain(env)
    try:
        table = _table(app)
        entries = file_entries(lines, source)
    except LintInputError as exc:
        _add(domain, env.docname, exc.path, exc.line or 1, "error", "prose", str(exc.message))
        return
    except SpecmodelError as exc:
        _add(domain, env.docname, source, 0, "error", "prose", str(exc))
        return
    found = [
        Found(e.name, s.text, Where(source, s.first + 1))
        for e in entries
        for s in split_sentences(e.name, e.body)
    ]
    if app.config.specmodel_skip_exploration:
        return
    judgements = judge(table, found, _runner(app))
    for j in judgements:
        if j.verdict in ("refuted", "verified", "ambiguous") and j.readings:
            claim = next(
                (r.claim for r in j.readings if r.verdict == "refuted"), j.readings[0].claim
            )
            status = "diverged" if j.verdict == "refuted" else "held"
            message = (
                f'prose: refuted: "{j.words}" (claim {claim}): {j.reason}'
                if j.verdict == "refuted"
                else f'prose: {j.verdict}: "{j.words}"'
            )
            states = sum(r.outcome.states for r in j.readings)
            _add(domain, env.docname, source, j.found.where.line, status, claim, message, states)
    _mark(doctree, judgements)


def _add(
    domain: Any,
    docname: str,
    path: str,
    line: int,
    status: str,
    target: str,
    message: str,
    states: int = 0,
) -> None:
    domain.add_verdict(
        Verdict(
            path=path,
            line=line,
            kind="claim",
            target=target,
            status=status,  # type: ignore[arg-type]
            message=message,
            states=states,
            docname=docname,
            generation=domain.generation,
        )
    )


def _mark(doctree: nodes.document, judgements: list[Judgement]) -> None:
    """Put a verdict mark after each judged sentence and a note under its entry."""
    from specmodel.prose.normalise import sentence_hash
    from specmodel.prose.split import split_sentences

    by_entry: dict[str, list[Judgement]] = {}
    for j in judgements:
        if j.verdict in SHOWN and j.found.entry is not None:
            by_entry.setdefault(j.found.entry, []).append(j)
    serial = 0
    for item in list(doctree.findall(nodes.definition_list_item)):
        terms = [c for c in item.children if isinstance(c, nodes.term)]
        if not terms:
            continue
        name = " / ".join(n.strip() for n in terms[0].astext().rstrip(":").split("/"))
        mine = {j.hash: j for j in by_entry.get(name, [])}
        if not mine:
            continue
        notes = nodes.bullet_list(classes=["spec-prose-notes"])
        for paragraph in list(item.findall(nodes.paragraph)):
            if not all(isinstance(c, nodes.Text) for c in paragraph.children):
                continue
            pieces = split_sentences(name, list(enumerate(paragraph.astext().split("\n"))))
            children: list[nodes.Node] = []
            for piece in pieces:
                children.append(nodes.Text(piece.text + " "))
                known = mine.get(sentence_hash(piece.text))
                if known is None:
                    continue
                j = known
                serial += 1
                anchor = f"spec-prose-{j.hash}-{serial}"
                mark = nodes.reference(
                    "",
                    MARKS[j.verdict],
                    refid=anchor,
                    classes=["spec-prose-mark", f"spec-prose-{j.verdict}"],
                    reftitle=f"{j.verdict}: {j.reason}",
                )
                children.append(mark)
                children.append(nodes.Text(" "))
                notes += _note(j, anchor)
            if children:
                paragraph.children = []
                paragraph.extend(children)
        definition = item.children[-1]
        if notes.children and isinstance(definition, nodes.definition):
            definition += notes


def _note(j: Judgement, anchor: str) -> nodes.list_item:
    item = nodes.list_item(ids=[anchor], classes=["spec-prose-note", f"spec-prose-{j.verdict}"])
    text = nodes.paragraph()
    text += nodes.strong("", j.verdict)
    text += nodes.Text(f': "{j.words}" ')
    for reading in j.readings:
        label = f" ({reading.reading})" if reading.reading else ""
        text += nodes.literal("", reading.claim)
        text += nodes.Text(f"{label}: {reading.verdict}; ")
    text += nodes.Text(j.reason)
    item += text
    for reading in j.readings:
        if reading.verdict == "refuted" and reading.outcome.trace:
            trace = "\n".join(reading.outcome.trace)
            block = nodes.literal_block(trace, trace, classes=["spec-prose-trace"])
            block["language"] = "text"  # a schedule, not code to highlight
            item += block
    return item


class ProseCoverageDirective(SphinxDirective):
    """``.. spec:prose-coverage:: [TABLE]``: the coverage figures and one row per sentence."""

    optional_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        from specmodel.prose.coverage import binding_text, coverage

        name = self.arguments[0] if self.arguments else "kvm_mmu_page"
        try:
            table = load_table(name)
        except SpecmodelError as exc:
            raise self.error(str(exc)) from None
        cov = coverage(table)
        out: list[nodes.Node] = [nodes.paragraph("", cov.summary())]
        rows: list[tuple[str, ...]] = [
            ("sentence", "entry", "first words", "class", "our paraphrase", "binding")
        ]
        for record in table.records:
            if CURRENT not in record.wordings:
                continue
            rows.append(
                (
                    record.id,
                    record.entry,
                    record.words + " ...",
                    record.cls,
                    record.paraphrase,
                    binding_text(record) or "-",
                )
            )
        out.append(_table_node(rows, [10, 12, 16, 10, 26, 26]))
        if cov.unbound:
            listing = nodes.bullet_list()
            for record in cov.unbound:
                item = nodes.list_item()
                item += nodes.paragraph("", f"{record.id} ({record.cls}): {record.reason}")
                listing += item
            out.append(nodes.paragraph("", f"Unbound ({len(cov.unbound)}):"))
            out.append(listing)
        return out


def _table_node(rows: list[tuple[str, ...]], widths: list[int]) -> nodes.table:
    table = nodes.table(classes=["spec-prose-coverage"])
    group = nodes.tgroup(cols=len(widths))
    table += group
    for width in widths:
        group += nodes.colspec(colwidth=width)
    head = nodes.thead()
    body = nodes.tbody()
    group += head
    group += body
    for index, row in enumerate(rows):
        line = nodes.row()
        for cell in row:
            entry = nodes.entry()
            entry += nodes.paragraph("", cell)
            line += entry
        (head if index == 0 else body).append(line)
    return table


def coverage_summary(app: Sphinx, exception: BaseException | None) -> None:
    """``build-finished``: the coverage line of the table, when ``specmodel_prose`` is set."""
    if exception is not None or not app.config.specmodel_prose:
        return
    from specmodel.prose.coverage import coverage

    try:
        logger.info("specmodel: " + coverage(_table(app)).summary())
    except SpecmodelError as exc:
        logger.warning(f"specmodel_prose: {exc}", type="spec", subtype="prose")
