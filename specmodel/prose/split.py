"""Entries and sentences of the field list of a kernel mmu.rst (as ``specmodel.lint`` reads it).

An entry's body is every line after its term that is indented further, up to the next term or
the first line at or left of the term's indentation. Sentences end at ``.``, ``!`` or ``?``
followed by white space or the end of the body, except after the abbreviations ``i.e.`` and
``e.g.``; a body line that ends without a full stop does not end a sentence (the v6.7
``role.direct`` entry runs two statements together that way, and the table records them as
one). Each sentence knows the line it starts on and the lines it spans.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from specmodel.lint import check_conflict_markers, parse_field_list
from specmodel.prose.normalise import normalise

_END = re.compile(r"[.!?]+(?=\s|$)")
_ABBREVIATIONS = ("i.e.", "e.g.", "cf.", "vs.")


@dataclass(frozen=True)
class Sentence:
    """One sentence: its entry (names joined by ' / '), its normal form and where it lies.

    ``first`` and ``last`` index the lines the caller gave :func:`split_sentences` (for a file,
    0-based line numbers).
    """

    entry: str | None
    text: str
    first: int
    last: int


def split_sentences(entry: str | None, lines: Sequence[tuple[int, str]]) -> list[Sentence]:
    """The sentences of an entry body given as ``(index, text)`` lines, in order."""
    joined = ""
    owners: list[int] = []  # the line index of each character of ``joined``
    for index, text in lines:
        piece = text.strip()
        if not piece:
            continue
        if joined:
            joined += " "
            owners.append(index)
        joined += piece
        owners.extend([index] * len(piece))
    sentences: list[Sentence] = []
    start = 0
    for match in _END.finditer(joined):
        end = match.end()
        word = joined[:end].rsplit(None, 1)[-1].lower()
        if end < len(joined) and word.endswith(_ABBREVIATIONS):
            continue
        _add(sentences, entry, joined, owners, start, end)
        start = end
    _add(sentences, entry, joined, owners, start, len(joined))
    return sentences


def _add(
    out: list[Sentence], entry: str | None, joined: str, owners: list[int], start: int, end: int
) -> None:
    chunk = joined[start:end]
    text = normalise(chunk)
    if not text:
        return
    lead = start + (len(chunk) - len(chunk.lstrip()))
    out.append(Sentence(entry, text, owners[lead], owners[max(lead, end - 1)]))


@dataclass(frozen=True)
class EntryText:
    """One entry of a file's field list: its names, term line (1-based) and body lines."""

    name: str
    line: int
    body: tuple[tuple[int, str], ...]  # (0-based line index, text)


def file_entries(lines: Sequence[str], path: str) -> list[EntryText]:
    """The entries of the field list, with their bodies; LintInputError as ``specmodel lint``."""
    check_conflict_markers(lines, path)
    field_list = parse_field_list(lines, path)
    entries: list[EntryText] = []
    for entry in field_list.entries:
        term = lines[entry.line - 1]
        indent = len(term) - len(term.lstrip())
        body: list[tuple[int, str]] = []
        for index in range(entry.line, len(lines)):
            text = lines[index]
            if text.strip() and len(text) - len(text.lstrip()) <= indent:
                break
            body.append((index, text))
        entries.append(EntryText(" / ".join(entry.names), entry.line, tuple(body)))
    return entries


def file_sentences(lines: Sequence[str], path: str) -> list[Sentence]:
    """Every sentence of every entry of the field list (``first``/``last``: 0-based lines)."""
    return [s for e in file_entries(lines, path) for s in split_sentences(e.name, e.body)]
