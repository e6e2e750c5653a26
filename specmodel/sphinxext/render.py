"""Docutils nodes that show a check's verdict on the page.

A verified check says so, with the scenario, parameters and states explored; a counterexample
is shown as the numbered trace and as an inline SVG timeline (specmodel.explorer.timeline),
which needs no network to display.
"""

from __future__ import annotations

from docutils import nodes

from specmodel.sphinxext.records import Outcome

_BADGE = {
    "held": "verified",
    "diverged": "DIVERGES from the model",
    "error": "could not be checked",
    "skipped": "check skipped",
}


class pending_verdict(nodes.General, nodes.Element):
    """Where a check's verdict box goes. Checks run after reading, in worker processes; the
    ``doctree-resolved`` handler replaces this node by the box (attributes ``docname`` and
    ``ident``, the check's :class:`~specmodel.sphinxext.records.Job` ident)."""


def verdict_box(
    outcome: Outcome, *, what: str, expect: str = "holds", skipped_reason: str = ""
) -> nodes.container:
    """A container with the verdict line, what was explored, and any counterexample."""
    classes = ["spec-verdict", f"spec-{outcome.status}"]
    if expect == "violated":
        classes.append("spec-expect-violated")  # a refuted statement, shown on purpose
    box = nodes.container(classes=classes)
    para = nodes.paragraph()
    if outcome.status == "held" and expect == "violated":
        badge = "refuted by the model, as documented"
    else:
        badge = _BADGE[outcome.status]
    para += nodes.strong(text=f"{badge}: ")
    para += nodes.Text(what)
    if outcome.status == "held" and outcome.states:
        para += nodes.Text(f" ({outcome.states} states explored)")
    if outcome.status == "skipped":
        para += nodes.Text(f" ({skipped_reason})")
    box += para
    if outcome.summary:
        items = nodes.bullet_list()
        for line in outcome.summary:
            items += nodes.list_item("", nodes.paragraph(text=line))
        box += items
    if outcome.status in ("diverged", "error") and outcome.message:
        box += nodes.literal_block(
            outcome.message, outcome.message, classes=["spec-message"], language="text"
        )
    elif outcome.trace is not None and not outcome.trace.steps:
        box += nodes.paragraph(text="Counterexample: the initial state (no step is needed).")
    elif outcome.trace is not None:
        box += nodes.paragraph(text="Counterexample:")
        box += nodes.literal_block(
            outcome.trace.text, outcome.trace.text, classes=["spec-trace"], language="text"
        )
    if outcome.trace is not None and outcome.trace.steps:
        box += timeline_node(outcome, what)
    if outcome.output:
        box += nodes.literal_block(
            outcome.output, outcome.output, classes=["spec-output"], language="text"
        )
    return box


def timeline_node(outcome: Outcome, what: str) -> nodes.raw:
    """The SVG timeline, inlined (HTML builders only; other builders drop raw HTML)."""
    # imported here: the explorer is not needed to load the extension (a warm build that
    # re-reads nothing never draws a timeline)
    from specmodel.explorer.timeline import render_svg

    assert outcome.trace is not None
    svg = render_svg(outcome.trace, title=f"counterexample timeline: {what}")
    html = f'<div class="spec-timeline" style="overflow-x:auto">\n{svg}\n</div>'
    return nodes.raw("", html, format="html")
