"""Spec markup as written: found in a document's raw text before docutils reads it.

Docutils drops markup it cannot read without failing the build: a directive in a malformed
table, ``..spec:claim::`` (a paragraph), ``.. spec:claim: x`` (a comment), a role without its
backquotes. The extension compares what this scan finds with what ran, so a check that was
written but never ran is reported instead of silently missing. No sphinx import here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

#: ``..`` then (after optional space) ``spec:``: every form a spec directive may be written
#: in, well-formed or not (``.. spec:claim::``, ``..spec:claim::``, ``.. spec:claim: x``)
_DIRECTIVE = re.compile(r"^\s*\.\.\s*(spec:[\w-]*)(.*)$")
_WELL_FORMED = re.compile(r"^\s*\.\.\s+spec:[\w-]+::(\s|$)")
#: ``:spec:name:`` and, on the same line, its backquoted text
_ROLE = re.compile(r":spec:[\w-]+:(?:`[^`]+`?)?")
_START = re.compile(r"^<{7}(\s|$)")
_END = re.compile(r"^>{7}(\s|$)")

MarkKind = Literal["directive", "role"]


@dataclass(frozen=True)
class Mark:
    """One piece of spec markup as the source spells it."""

    path: str
    line: int
    kind: MarkKind
    #: ``spec:claim`` for a directive, ``:spec:value:`` for a role
    name: str
    #: the directive's line (stripped), or the role up to its closing backquote
    text: str
    docname: str
    #: where on its line the markup starts (two identical roles on one line differ here)
    column: int = 0

    @property
    def well_formed(self) -> bool:
        if self.kind == "role":
            return self.text.endswith("`") and self.text.count("`") == 2
        return bool(_WELL_FORMED.match(self.text))


@dataclass(frozen=True)
class Conflict:
    """Unresolved merge-conflict markers: ``<<<<<<<`` at ``start`` .. ``>>>>>>>`` at ``end``."""

    path: str
    start: int
    end: int
    docname: str


def scan(text: str, path: str, docname: str) -> tuple[list[Mark], list[Conflict]]:
    """The spec markup and the merge-conflict markers of one source file."""
    marks: list[Mark] = []
    conflicts: list[Conflict] = []
    start: int | None = None
    lines = text.splitlines()
    for number, line in enumerate(lines, 1):
        if _START.match(line):
            if start is not None:
                conflicts.append(Conflict(path, start, number - 1, docname))
            start = number
        elif _END.match(line):
            conflicts.append(Conflict(path, start or number, number, docname))
            start = None
        if match := _DIRECTIVE.match(line):
            marks.append(Mark(path, number, "directive", match[1], line.strip(), docname))
            offset = match.start(2)
        else:
            offset = 0
        for role in _ROLE.finditer(line, offset):
            name = role[0][: role[0].index(":", 6) + 1]
            marks.append(Mark(path, number, "role", name, role[0], docname, role.start()))
    if start is not None:
        conflicts.append(Conflict(path, start, len(lines), docname))
    return marks, conflicts


def why_not_run(mark: Mark) -> str:
    """What is wrong with markup that docutils did not read as spec markup."""
    if mark.kind == "role":
        if not mark.well_formed:
            return (
                f"{mark.name} here is not a role docutils could read (found {mark.text!r}); "
                f"expected {mark.name}`TEXT`, with the text in backquotes"
            )
        return (
            f"{mark.name} here never ran: docutils did not read it as a role (see the "
            "other errors of this document), so nothing checked it"
        )
    if re.match(r"^\.\.spec:", mark.text):
        return (
            f"{mark.text!r} is read as a paragraph, not a directive; expected "
            f"'.. {mark.text[2:]}' (a space after '..')"
        )
    if not mark.well_formed:
        return (
            f"docutils read {mark.text!r} as a comment, not a directive, so it never ran; "
            f"expected '.. {mark.name}:: ARGUMENT' ('::' and then a space)"
        )
    return (
        f"{mark.name} here never ran: docutils did not read it as a directive (see the "
        "other errors of this document), so nothing checked it"
    )
