"""What docutils could not read: spec markup as written against what ran, docutils messages.

The raw source of every document (and of each file it includes) is scanned at source-read
(:mod:`specmodel.sphinxext.sources`); :class:`MarkupErrors` then compares it with what ran and
turns docutils' ERROR/SEVERE messages into verdicts, and a logging filter keeps docutils from
printing those messages a second time.
"""

from __future__ import annotations

import functools
import logging as pylogging
import os
import re
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.domains import Domain
from sphinx.environment import BuildEnvironment
from sphinx.transforms import SphinxTransform
from sphinx.util import logging

from specmodel.sphinxext.domain import SpecDomain, XrefUse, spec_domain, taken_roles
from specmodel.sphinxext.records import Status, Verdict
from specmodel.sphinxext.sources import Conflict, Mark, scan, why_not_run

DIRECTIVES = ("claim", "field", "invariant", "model", "run")
ROLES = ("claim", "field", "value")
# docutils 0.22 quotes names with typographic quotes in the doctree, ASCII ones in the log
_Q = '["\u201c\u201d]'
_UNKNOWN_DIRECTIVE = re.compile(rf"Unknown directive type {_Q}spec:([^\"\u201d]*){_Q}", re.I)
_UNKNOWN_ROLE = re.compile(rf"Unknown interpreted text role {_Q}spec:([^\"\u201d]*){_Q}", re.I)
_DIRECTIVE_ERROR = re.compile(rf"Error in {_Q}(spec:[^\"\u201d]*){_Q} directive:\s*(.*)", re.S)


def connect(app: Sphinx) -> None:
    """Register the raw-source scan, the docutils-message filter and the xref checks."""
    app.connect("source-read", scan_document)
    app.connect("include-read", scan_include)
    app.connect("builder-inited", install_message_filter)
    app.connect("warn-missing-reference", quiet_reported_xref)
    # after next_generation (priority 500), so the verdicts carry this read's generation
    app.connect("env-before-read-docs", skip_undecodable, priority=600)


def skip_undecodable(app: Sphinx, env: BuildEnvironment, docnames: list[str]) -> None:
    """``env-before-read-docs``: a source that is not text in the source encoding is one
    located error, and is not read (Sphinx would abort the whole build with a traceback)."""
    encoding = str(app.config.source_encoding or "utf-8")
    name = "UTF-8" if encoding.lower().replace("_", "-") in ("utf-8", "utf-8-sig") else encoding
    domain = spec_domain(env)
    for docname in list(docnames):
        path = os.path.abspath(env.doc2path(docname))
        try:
            data = Path(path).read_bytes()
            data.decode(encoding)
        except OSError:
            continue  # Sphinx reports a missing or unreadable file itself
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            # neither read nor written: to Sphinx the document does not exist in this build
            docnames.remove(docname)
            env.project.docnames.discard(docname)
            domain.clear_doc(docname)  # Sphinx purges only documents it reads
            domain.add_verdict(
                Verdict(
                    path=path,
                    line=line,
                    kind="markup",
                    target="encoding",
                    status="error",
                    message=(
                        f"expected {name} text; found byte 0x{data[exc.start]:02x}, which is "
                        f"not {name} ({exc.reason}), so this document was not read"
                    ),
                    docname=docname,
                    generation=domain.generation,
                )
            )


def scan_document(app: Sphinx, docname: str, source: list[str]) -> None:
    """``source-read``: note the spec markup and merge-conflict markers as written."""
    path = os.path.abspath(app.env.doc2path(docname))
    source[0] = _note(app.env, docname, path, source[0])


def scan_include(app: Sphinx, relative_path: Path, parent_docname: str, source: list[str]) -> None:
    """``include-read``: an included file's markup belongs to the document being read."""
    path = os.path.abspath(Path(app.srcdir) / relative_path)
    source[0] = _note(app.env, app.env.docname, path, source[0])


def _note(env: BuildEnvironment, docname: str, path: str, text: str) -> str:
    """Record the markup of ``text``; return it as docutils may read it (a NUL character,
    which no text has, becomes U+FFFD: in an include path it would abort the build)."""
    domain = spec_domain(env)
    if "\0" in text:
        line = text[: text.index("\0")].count("\n") + 1
        domain.add_verdict(
            Verdict(
                path=path,
                line=line,
                kind="markup",
                target="encoding",
                status="error",
                message=(
                    f"expected text; found {text.count(chr(0))} NUL character(s), the "
                    "first here (read as U+FFFD)"
                ),
                docname=docname,
                generation=domain.generation,
            )
        )
        text = text.replace("\0", "\ufffd")
    marks, conflicts = scan(text, path, docname)
    for mark in marks:
        domain.add("marks", docname, mark)
    for conflict in conflicts:
        domain.add("marks", docname, conflict)
    return text


class MarkupErrors(SphinxTransform):
    """Turn what docutils could not read into verdicts (docutils only warns, exit 0).

    For every document whose raw source has spec markup (sources.scan, run at source-read
    and include-read, so markup that docutils dropped counts too):

    * every docutils ERROR or SEVERE message becomes a located verdict (a misspelled
      ``.. spec:claimm::`` or ``:spec:xyz:``, a wrong argument count, a malformed table,
      an unexpected section title, ...) and is printed once, by specmodel;
    * ``:spec:claim:`` and ``:spec:field:`` cross-references must name a claim or field
      that exists;
    * every piece of spec markup the raw source has must have run; what docutils dropped
      (a comment, a paragraph, a table it could not read) is reported, never held.

    System messages are filtered out of the doctree at priority 999, so this runs before.
    """

    default_priority = 990

    def apply(self, **kwargs: Any) -> None:
        domain = spec_domain(self.env)
        docname = self.env.docname
        marks = domain.marks(docname)
        if not any(isinstance(m, Mark) for m in marks):
            return  # no spec markup: Sphinx's own rules (merge markers included)
        taken = taken_roles(self.document, pop=True)
        conflicts = [m for m in marks if isinstance(m, Conflict)]
        for conflict in conflicts:
            self._verdict(
                conflict.path,
                conflict.start,
                "merge conflict",
                "diverged",
                f"unresolved merge-conflict markers (lines {conflict.start}-{conflict.end}); "
                "expected a resolved source: nothing in this document is verified until the "
                "conflict is resolved",
            )
        ran: set[tuple[str, int]] = set(domain._table("ran").get(docname, ()))
        ran |= {(v.path, v.line) for v in domain._table("verdicts").get(docname, ())}
        # messages of the transforms (an unknown target, an undefined substitution) are
        # only in transform_messages: docutils' Messages transform does not run in Sphinx
        messages = [
            *self.document.findall(nodes.system_message),
            *self.document.parse_messages,
            *self.document.transform_messages,
        ]
        for message in {id(m): m for m in messages}.values():
            ran |= self._message(domain, message, conflicts, taken)
        for ref in list(self.document.findall(addnodes.pending_xref)):
            if ref.get("refdomain") == "spec":
                ran.add(self._xref(domain, ref, taken))
        examples = _examples(self.document)
        for mark in marks:
            if isinstance(mark, Mark) and (mark.path, mark.line) not in ran:
                if " ".join(mark.text.split()) in examples:
                    continue  # shown as code, or commented out: not meant to run
                self._verdict(mark.path, mark.line, mark.name, "diverged", why_not_run(mark))

    def _verdict(self, path: str, line: int, target: str, status: Status, text: str) -> None:
        domain = spec_domain(self.env)
        domain.add_verdict(
            Verdict(
                path=path,
                line=line,
                kind="markup",
                target=target,
                status=status,
                message=text,
                docname=self.env.docname,
                generation=domain.generation,
            )
        )

    def _message(
        self,
        domain: SpecDomain,
        message: nodes.system_message,
        conflicts: list[Conflict],
        taken: set[Mark],
    ) -> set[tuple[str, int]]:
        """A verdict for a docutils ERROR/SEVERE message; the (path, line) it is at."""
        if message.get("level", 0) < 3 or _inside_message(message):
            return set()
        first = message.children[0].astext() if message.children else message.astext()
        source = message.get("source") or str(self.env.doc2path(self.env.docname))
        path = os.path.abspath(source)
        line = int(message.get("line") or 0)
        key = (path, str(message.get("line") or ""), _first_line(first))
        domain.add("absorbed", self.env.docname, key)
        if any(c.path == path and c.start <= line <= c.end for c in conflicts):
            return set()  # reported once, as the conflict
        found = _describe(first)
        if found is not None:
            target, description = found
            if target.startswith(":"):  # a role: docutils gives the paragraph's line
                line = domain.locate(self.env.docname, path, line, target, taken)
            self._verdict(path, line, target, "error", description)
        else:
            self._verdict(path, line, "docutils", "diverged", docutils_error(first))
        return {(path, line)}

    def _xref(
        self, domain: SpecDomain, ref: addnodes.pending_xref, taken: set[Mark]
    ) -> tuple[str, int]:
        """Record a ``:spec:field:``/``:spec:claim:`` use; an unknown target diverges."""
        typ = str(ref.get("reftype", ""))
        target = str(ref.get("reftarget", ""))
        source = ref.source or str(self.env.doc2path(self.env.docname))
        path = os.path.abspath(source)
        line = domain.locate(self.env.docname, path, int(ref.line or 0), ref.rawsource, taken)
        domain.add("xrefs", self.env.docname, XrefUse(typ, target, path, line, self.env.docname))
        problem = unknown_target(typ, target)
        if problem:
            self._verdict(path, line, f":spec:{typ}:`{target}`", "diverged", problem)
        return path, line


def docutils_error(text: str) -> str:
    """The verdict message for a docutils ERROR/SEVERE message in a spec document."""
    found = " ".join(text.split()).rstrip(".")
    return (
        f"docutils error: {found}; expected none in a document with spec markup: docutils "
        "may have dropped the markup around it, so this document is not verified"
    )


def _first_line(text: str) -> str:
    """A message's first line as both the doctree and the log spell it (docutils quotes
    names typographically in the one, with ASCII quotes in the other)."""
    first = text.splitlines()[0] if text else ""
    return " ".join(re.sub("[\u201c\u201d]", '"', first).split())


def _inside_message(node: nodes.Node) -> bool:
    parent = node.parent
    while parent is not None:
        if isinstance(parent, nodes.system_message):
            return True
        parent = parent.parent
    return False


def _examples(document: nodes.document) -> str:
    """The text of everything shown as code or commented out (not a docutils error
    echo): spec markup found there is an example, not a check."""
    kinds = (nodes.FixedTextElement, nodes.literal, nodes.comment, nodes.raw, nodes.math)
    texts = [
        node.astext()
        for node in document.findall(lambda n: isinstance(n, kinds))
        if not _inside_message(node)
    ]
    # a comment ".. spec:claim: x" holds "spec:claim: x": the raw line is not in it
    return "\n".join(" ".join(line.split()) for text in texts for line in text.splitlines())


@functools.cache
def unknown_target(typ: str, target: str) -> str:
    """Why a spec cross-reference target does not exist ('' when it does)."""
    from specmodel.errors import UnknownNameError

    try:
        if typ == "claim":
            from specmodel.claims import get_claim

            get_claim(target)
        elif typ == "field":
            from specmodel.structs.fields import find_field

            find_field(target)
        else:
            return ""
    except UnknownNameError as exc:
        return f":spec:{typ}:`{target}` names no {typ} of the model: {exc}"
    except Exception as exc:  # a broken claim module: say so, do not abort the build
        return f":spec:{typ}:`{target}`: could not look it up ({type(exc).__name__}: {exc})"
    return ""


def quiet_reported_xref(app: Sphinx, domain: Domain, node: addnodes.pending_xref) -> bool | None:
    """``warn-missing-reference``: an unknown spec target is already a located divergence;
    do not print it again as a nitpick warning."""
    if domain.name == "spec" and unknown_target(
        str(node.get("reftype", "")), str(node.get("reftarget", ""))
    ):
        return True
    return None


class _PrintedOnce(pylogging.Filter):
    """Drop docutils' own echo of a message that became a verdict (printed by ``report``)."""

    def __init__(self, app: Sphinx) -> None:
        super().__init__()
        self.app = app

    def filter(self, record: pylogging.LogRecord) -> bool:
        env = self.app.env
        if getattr(record, "type", None) != "docutils" or env is None:
            return True
        location = str(getattr(record, "location", "") or "")
        source, _, line = location.rpartition(":")
        if not source:
            return True
        path = os.path.abspath(source)
        key = (path, line, _first_line(str(record.msg or "")))
        domain = spec_domain(env)
        if key in domain.absorbed():
            return False
        owner = domain.owner(path) if record.levelno >= pylogging.ERROR else None
        if owner is None:
            return True
        # an ERROR the doctree did not hold (MarkupErrors never saw it): a verdict too; the
        # read phase is not over (its messages are flushed first), so the env keeps it
        domain.add("absorbed", owner, key)
        domain.add_verdict(
            Verdict(
                path=path,
                line=int(line or 0),
                kind="markup",
                target="docutils",
                status="diverged",
                message=docutils_error(str(record.msg or "").split("\n\n")[0]),
                docname=owner,
                generation=domain.generation,
            )
        )
        return False


def install_message_filter(app: Sphinx) -> None:
    """``builder-inited``: the filter goes first on the warning handler, so a dropped
    message is not counted as a warning either. Docutils messages of a read are buffered
    until the read phase ends (also those of ``-j`` children), by when every verdict of
    the read is in the domain."""
    for handler in pylogging.getLogger(logging.NAMESPACE).handlers:
        if isinstance(handler, logging.WarningStreamHandler):
            handler.filters.insert(0, _PrintedOnce(app))


def _describe(text: str) -> tuple[str, str] | None:
    if match := _UNKNOWN_DIRECTIVE.search(text):
        valid = ", ".join(f"spec:{d}" for d in DIRECTIVES)
        name = f"spec:{match[1]}"
        return name, f"unknown directive {name}; expected one of: {valid}"
    if match := _UNKNOWN_ROLE.search(text):
        valid = ", ".join(f":spec:{r}:" for r in ROLES)
        name = f":spec:{match[1]}:"
        return name, f"unknown role {name}; expected one of: {valid}"
    if match := _DIRECTIVE_ERROR.search(text):
        detail = " ".join(match[2].split(".. ")[0].split())
        return match[1], f"{match[1]} directive: {detail}"
    return None
