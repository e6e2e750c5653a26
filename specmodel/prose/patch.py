"""Reading the input of ``lint --prose``: an mmu.rst, a unified diff, a ``git format-patch`` /
mbox message, or a mailing-list reply that quotes such a patch with ``> ``.

Nothing read is executed or included. A patch's hunks for an ``mmu*.rst`` file are read as
``git apply`` would (``@@ -a,b +c,d @@`` counts; a hunk that ends early is an error located at
its header). A quoted reply may trim a hunk, drop the diff's leading space on context lines
(mail archives fold white space) and split an added line to answer it (the seed does: the
remainder of the line resumes the quote without a ``+``); all of that is accepted and noted.
Without a base the sentences of the added text are judged on their own; with ``--base`` the
hunks are applied to that file first and the changed entries of the result are judged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from specmodel.errors import LintInputError
from specmodel.lint import HEADER, decode, split_lines
from specmodel.prose.judge import Found, Where
from specmodel.prose.split import Sentence, file_entries, split_sentences

_QUOTED_DIFF = re.compile(r"^>+ ?(?:diff --git |--- a/|\+\+\+ b/|@@ -\d)")
_DIFF = re.compile(r"^(?:diff --git |\+\+\+ |@@ -\d)")
_QUOTE = re.compile(r"^>+ ?")
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$")
_TERM = re.compile(r"^[A-Za-z_][\w.]*(?:\s*/\s*[A-Za-z_][\w.]*)*:$")
#: ``diff -u`` puts the file's time after the name (a tab, expanded by split_lines).
_TIMESTAMP = re.compile(r"\s+\d{4}-\d\d-\d\d[ T][\d:.]+(?: [+-]\d{4})?\s*$")
_MMU_RST = re.compile(r"(?:^|/)mmu[\w.-]*\.rst$")
_ADORNMENT = re.compile(r"^([=\-~^\"'`#*+])\1{2,}\s*$")


@dataclass
class NewLine:
    """A line of a hunk's new side: where it is in the patch and in the target file."""

    patch_line: int
    target_line: int
    text: str
    added: bool


@dataclass
class Hunk:
    header_line: int
    old_start: int
    old_count: int
    new_start: int
    new_count: int
    context: str
    old: list[str] = field(default_factory=list)
    new: list[NewLine] = field(default_factory=list)
    #: The patch's lines of this hunk in order, as (kind, text): kind ' ', '-' or '+'.
    body: list[tuple[str, str, int]] = field(default_factory=list)


@dataclass
class PatchFile:
    target: str
    header_line: int
    hunks: list[Hunk] = field(default_factory=list)


@dataclass
class Input:
    """What was read and the sentences to judge."""

    kind: str  # "rst", "patch", "reply"
    path: str
    sentences: list[Found]
    notes: list[tuple[int, str]] = field(default_factory=list)
    target: str | None = None


def read_bytes(path: str) -> bytes:
    import os

    if os.path.isdir(path):
        raise LintInputError(path, 0, "expected a file; found a directory")
    try:
        with open(path, "rb") as stream:
            return stream.read()
    except OSError as exc:
        raise LintInputError(path, 0, f"expected a readable file; {exc.strerror}") from None


def detect(lines: Sequence[str]) -> str:
    if any(_QUOTED_DIFF.match(line) for line in lines):
        return "reply"
    if any(_DIFF.match(line) for line in lines):
        return "patch"
    return "rst"


def read_input(path: str, base: str | None = None) -> Input:
    """Read ``path`` (and ``base``); LintInputError with a location for bad input."""
    data = read_bytes(path)
    text = decode(data, path)
    raw = text.split("\n")
    notes: list[tuple[int, str]] = []
    crlf = next((n for n, line in enumerate(raw, 1) if line.endswith("\r")), None)
    lines = split_lines(text)
    kind = detect(lines)
    if crlf is not None and kind != "rst":
        notes.append((crlf, "CRLF line endings; read as LF"))
    if kind == "rst":
        if base is not None:
            raise LintInputError(
                path,
                0,
                "--base applies a patch; expected a unified diff or a mail with one, "
                "found no hunk ('@@ -a,b +c,d @@')",
            )
        found = [
            Found(s.entry, s.text, Where(path, s.first + 1)) for s in _file_sentences(lines, path)
        ]
        return Input("rst", path, found, notes)
    files = parse_patch(lines, path, quoted=kind == "reply", notes=notes)
    mmu = [f for f in files if _MMU_RST.search(f.target)]
    if not mmu:
        first = files[0] if files else None
        raise LintInputError(
            path,
            first.header_line if first else 0,
            "expected a patch that touches an mmu.rst (Documentation/virt/kvm/x86/mmu.rst); "
            + (f"found one for {first.target}" if first else "found no file header"),
        )
    target = mmu[0]
    if base is None:
        found = _added_sentences(target, path)
    else:
        found = _applied_sentences(target, path, base, quoted=kind == "reply")
    return Input(kind, path, found, notes, target.target)


def _file_sentences(lines: Sequence[str], path: str) -> list[Sentence]:
    return [s for e in file_entries(lines, path) for s in split_sentences(e.name, e.body)]


def parse_patch(
    lines: Sequence[str], path: str, *, quoted: bool, notes: list[tuple[int, str]]
) -> list[PatchFile]:
    """The files and hunks of a patch (lines of a reply: the quoted ones, unquoted)."""
    files: list[PatchFile] = []
    hunk: Hunk | None = None
    old_left = new_left = 0
    interrupted = False
    trimmed: set[int] = set()
    for number, raw_line in enumerate(lines, 1):
        if quoted:
            match = _QUOTE.match(raw_line)
            if match is None:
                if hunk is not None and raw_line.strip():
                    interrupted = True
                continue
            line = raw_line[match.end() :]
        else:
            line = raw_line
        if hunk is not None and (old_left > 0 or new_left > 0):
            kind = line[:1]
            if line.startswith("\\"):
                continue  # "\ No newline at end of file"
            if kind in (" ", "-", "+") and not (
                kind == "-" and line.startswith("--- ") and new_left == 0
            ):
                text = line[1:]
            elif line == "":
                kind, text = " ", ""
            elif quoted:
                if interrupted and hunk.new and hunk.body and hunk.body[-1][0] == "+":
                    # The reviewer split an added line to answer it; this is its remainder.
                    last = hunk.new[-1]
                    hunk.new.append(NewLine(number, last.target_line, line.strip(), True))
                    interrupted = False
                    continue
                kind, text = " ", line  # a context line whose leading space was folded
            else:
                raise _truncated(path, hunk, old_left, new_left, number, line)
            interrupted = False
            hunk.body.append((kind, text, number))
            if kind in (" ", "-"):
                hunk.old.append(text)
                old_left -= 1
            if kind in (" ", "+"):
                target_line = hunk.new_start + hunk.new_count - new_left
                hunk.new.append(NewLine(number, target_line, text, kind == "+"))
                new_left -= 1
            continue
        match = _HUNK.match(line)
        if match:
            if not files:
                raise LintInputError(
                    path,
                    number,
                    "expected a file header ('--- a/...', '+++ b/...') before "
                    f"the hunk; found {line[:60]!r}",
                )
            old_start, old_count, new_start, new_count, context = match.groups()
            hunk = Hunk(
                number,
                int(old_start),
                int(old_count or 1),
                int(new_start),
                int(new_count or 1),
                context.strip(),
            )
            old_left, new_left = hunk.old_count, hunk.new_count
            files[-1].hunks.append(hunk)
            interrupted = False
            continue
        if line.startswith("+++ "):
            name = _TIMESTAMP.sub("", line[4:]).strip()
            target = name[2:] if name.startswith("b/") else name
            files.append(PatchFile(target, number))
            hunk = None
            continue
    if hunk is not None and (old_left > 0 or new_left > 0):
        if not quoted:
            raise _truncated(path, hunk, old_left, new_left, len(lines) + 1, None)
        trimmed.add(hunk.header_line)
    for f in files:
        for h in f.hunks:
            quoted_new = h.new_count - (new_left if h is hunk else 0)
            if quoted and quoted_new < h.new_count:
                notes.append(
                    (
                        h.header_line,
                        f"the quoted hunk is trimmed: {quoted_new} of "
                        f"{h.new_count} new lines quoted",
                    )
                )
    return files


def _truncated(
    path: str, hunk: Hunk, old_left: int, new_left: int, number: int, line: str | None
) -> LintInputError:
    found = "the end of the input" if line is None else f"{line[:60]!r} at line {number}"
    return LintInputError(
        path,
        hunk.header_line,
        f"expected {max(old_left, new_left)} more line(s) in the hunk "
        f"'@@ -{hunk.old_start},{hunk.old_count} +{hunk.new_start},{hunk.new_count} @@' "
        f"(a truncated patch?); found {found}",
    )


def _added_sentences(target: PatchFile, path: str) -> list[Found]:
    """The sentences of the entries in the added text, each touching an added line."""
    found: list[Found] = []
    for hunk in target.hunks:
        in_list = hunk.context == HEADER
        entry: str | None = None
        body: list[tuple[int, str]] = []
        segments: list[tuple[str | None, list[tuple[int, str]]]] = []
        for index, new in enumerate(hunk.new):
            stripped = new.text.strip()
            if " ".join(new.text.split()) == HEADER:
                in_list = True
                entry, body = None, []
                continue
            if _TERM.match(stripped) and (in_list or new.added or entry is not None):
                if body and (entry is not None or in_list):
                    segments.append((entry, body))
                names = [n.strip() for n in stripped[:-1].split("/")]
                entry, body = " / ".join(names), []
                continue
            next_text = hunk.new[index + 1].text if index + 1 < len(hunk.new) else ""
            if stripped and _ADORNMENT.match(next_text.strip()):
                if body and (entry is not None or in_list):
                    segments.append((entry, body))
                entry, body, in_list = None, [], False
                continue
            if _ADORNMENT.match(stripped):
                continue
            body.append((index, new.text))
        if body and (entry is not None or in_list):
            segments.append((entry, body))
        for name, lines in segments:
            for sentence in split_sentences(name, lines):
                span = hunk.new[sentence.first : sentence.last + 1]
                if not any(n.added for n in span):
                    continue  # unchanged context
                first = hunk.new[sentence.first]
                found.append(
                    Found(
                        name,
                        sentence.text,
                        Where(path, first.patch_line, target.target, first.target_line),
                    )
                )
    return found


def _applied_sentences(target: PatchFile, path: str, base: str, *, quoted: bool) -> list[Found]:
    """Apply the hunks to ``base`` and judge the entries they change, in the result."""
    base_lines = split_lines(decode(read_bytes(base), base))
    result: list[str] = list(base_lines)
    origin: list[int | None] = [None] * len(result)  # patch line of each added line
    shift = 0
    for hunk in target.hunks:
        old = [" ".join(t.split()) for t in hunk.old]
        start = _locate(result, old, hunk.old_start - 1 + shift)
        if start is None:
            raise LintInputError(
                path,
                hunk.header_line,
                f"expected the hunk's {len(old)} old line(s) in {base} near line "
                f"{hunk.old_start}; found no match (a patch for another version of the file?)",
            )
        new_texts: list[str] = []
        new_origin: list[int | None] = []
        indent = _indents(result)
        old_kinds = [kind for kind, _, _ in hunk.body if kind in (" ", "-")]
        position = 0  # into the base lines the hunk replaces
        previous: NewLine | None = None
        for new in hunk.new:
            if not new.added:
                while position < len(old_kinds) and old_kinds[position] == "-":
                    position += 1
                # the base's own line: a quoted context line may have lost its indentation
                new_texts.append(result[start + position])
                new_origin.append(None)
                position += 1
            elif (
                previous is not None and previous.added and new.target_line == previous.target_line
            ):
                new_texts[-1] = f"{new_texts[-1]} {new.text.strip()}"  # a split added line
            elif quoted and new.text.strip():
                # Mail archives fold the indentation away; restore the list's.
                text = new.text.strip()
                width = indent[0] if _TERM.match(text) else indent[1]
                new_texts.append(" " * width + text)
                new_origin.append(new.patch_line)
            else:
                new_texts.append(new.text)
                new_origin.append(new.patch_line)
            previous = new
        result[start : start + len(old)] = new_texts
        origin[start : start + len(old)] = new_origin
        shift += len(new_texts) - len(old)
    found: list[Found] = []
    for entry in file_entries(result, base):
        span = [entry.line - 1, *(i for i, _ in entry.body)]
        if not any(origin[i] is not None for i in span):
            continue
        for sentence in split_sentences(entry.name, entry.body):
            patch_line = next(
                (
                    origin[i]
                    for i in range(sentence.first, sentence.last + 1)
                    if origin[i] is not None
                ),
                None,
            )
            found.append(
                Found(
                    entry.name,
                    sentence.text,
                    Where(base, sentence.first + 1, path if patch_line else None, patch_line),
                )
            )
    return found


def _locate(lines: Sequence[str], old: Sequence[str], guess: int) -> int | None:
    """Where ``old`` (white space folded) occurs in ``lines``, nearest to ``guess``."""
    folded = [" ".join(t.split()) for t in lines]
    size = len(old)
    for distance in range(len(lines) + 1):
        for start in (guess - distance, guess + distance):
            if 0 <= start <= len(lines) - size and folded[start : start + size] == list(old):
                return start
    return None


def _indents(lines: Sequence[str]) -> tuple[int, int]:
    """The field list's term and body indentation in ``lines`` (2 and 4 if not found)."""
    try:
        entries = file_entries(lines, "")
    except LintInputError:
        return 2, 4
    if not entries:
        return 2, 4
    term = lines[entries[0].line - 1]
    term_indent = len(term) - len(term.lstrip())
    body = next((t for _, t in entries[0].body if t.strip()), " " * (term_indent + 2))
    return term_indent, len(body) - len(body.lstrip())
