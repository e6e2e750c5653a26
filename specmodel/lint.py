"""``specmodel lint``: compare a kernel mmu.rst's field list with the field models.

The input is untrusted text. It is decoded and scanned line by line; nothing in it is executed,
evaluated, imported or included (``.. spec:run::``, ``.. include::`` and the like are just text).

What is checked: the definition list under the first line ``Shadow pages contain the following
information:``, up to the next section title (``Reverse map`` in every kernel so far). Each
entry is a term at the indentation of the list's first line, ``name:``, or several names
separated by ``/`` or ``,`` (``root_count / tdp_mmu_root_count:``; each counts). Text after the
colon, or after a name and a space (``gfn (old):``), is ignored. Bodies are indented further;
column-0 prose and ``..`` markup at the entries' indentation are skipped. Lines are numbered
as editors do (LF; CRLF accepted; tabs expand to 8 columns; a UTF-8 BOM is dropped). The struct's
fields and role bits come from :func:`specmodel.structs.fields.field_specs` (role bits as
``role.<bit>``), renames from :data:`specmodel.structs.renames.RENAMES`. The field ``role``
counts as
documented when the list has a ``role:`` entry or any ``role.<bit>`` entry.

Finding kinds (each makes the exit status 1):

- ``undocumented``: a field or role bit with no entry; reported at the header's line. A field
  described under an old name is not reported again: its ``renamed`` finding covers it.
- ``renamed``: an entry for a name the kernel renamed (``gfns`` -> ``shadowed_translation``).
- ``unknown-field``: an entry for a name the struct does not have and no rename explains.
- ``duplicate``: a second entry for a name already described.

Malformed input (exit status 2) raises :class:`~specmodel.errors.LintInputError`: binary data
(NUL byte or invalid UTF-8), git merge-conflict markers (lines starting ``<<<<<<<``,
``|||||||`` or ``>>>>>>>``; a lone ``=======`` is a valid reST underline, so the first marker
is always one of those three), no field-list header, a header not followed by an indented
list, an entry line that is not ``name:``, or an indentation between column 0 and the list's.
A problem with the whole file (missing or unreadable, a directory, empty, no header) has no
line: it is reported as ``path: error: ...``.

``--kernel VERSION`` compares with the struct of that version (one of
``specmodel.structs.versions.KERNELS``, default the newest): a member of another version is an
``unknown-field`` whose message says which versions have it, and a rename is reported only
when the version's struct has the new name.

Reports are rendered (text, or JSON schema ``specmodel-lint/1``) by :mod:`specmodel.cli.lint`.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from specmodel.errors import LintInputError

HEADER = "Shadow pages contain the following information:"
#: Finding kinds, in the order the text summary lists them.
KINDS = ("undocumented", "renamed", "unknown-field", "duplicate")

_CONFLICT = re.compile(r"(<{7}|\|{7}|>{7})(?:[ \t]|$)")
_ADORNMENT = re.compile(r"([!-/:-@\[-`{-~])\1{2,}\s*$")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_TERM_COLON = re.compile(r":(?:\s|$)")
_PARENTHESES = re.compile(r"\([^()]*\)")


@dataclass(frozen=True)
class RenameInfo:
    """A kernel rename, as reported: ``old`` -> ``new`` in ``version``; ``note`` may be ''."""

    old: str
    new: str
    version: str
    note: str = ""


@dataclass(frozen=True)
class Catalog:
    """What the struct has: field names in order (role bits as ``role.<bit>``) and renames.

    ``kernel`` names the version the fields are of ('' for a hand-made catalog); ``elsewhere``
    maps a name the struct of other versions has to the versions that have it
    (``"since ~v6.14"``).
    """

    fields: tuple[str, ...]
    renames: Mapping[str, RenameInfo] = field(default_factory=dict)
    kernel: str = ""
    elsewhere: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Entry:
    """One entry of the field list: its line and the names its term gives."""

    line: int
    names: tuple[str, ...]


@dataclass(frozen=True)
class FieldList:
    header_line: int
    entries: tuple[Entry, ...]


@dataclass(frozen=True)
class Finding:
    line: int
    kind: str
    field: str
    message: str
    rename: RenameInfo | None = None


@dataclass(frozen=True)
class FileReport:
    """The result for one file: findings, or the input error that stopped the check."""

    path: str
    header_line: int | None = None
    entries: tuple[Entry, ...] = ()
    fields_documented: tuple[str, ...] = ()
    fields_total: int = 0
    findings: tuple[Finding, ...] = ()
    error: LintInputError | None = None
    kernel: str = ""

    @property
    def exit_code(self) -> int:
        return 2 if self.error is not None else 1 if self.findings else 0


@functools.cache
def default_catalog(kernel: str | None = None) -> Catalog:
    """The catalog of kernel version ``kernel`` (default the newest), derived from the field
    models and :data:`specmodel.structs.renames.RENAMES`.

    Raises :class:`~specmodel.errors.UnknownNameError` for a version the model does not know.
    """
    from specmodel.structs.fields import all_field_specs, check_kernel, field_specs
    from specmodel.structs.renames import RENAMES

    version = check_kernel(kernel)
    models = ("KvmMmuPage", "KvmMmuPageRole")
    names = [spec.name for model in models for spec in field_specs(model, version)]
    present = set(names)
    renames = {
        r.old: RenameInfo(r.old, r.new, str(r.version), str(r.note or ""))
        for r in RENAMES
        if r.old not in present
    }
    elsewhere: dict[str, str] = {}
    for model in models:
        for spec in all_field_specs(model):
            if spec.name in present:
                continue
            span = [f"since ~{spec.since}"] if spec.since else []
            span += [f"until ~{spec.until}"] if spec.until else []
            elsewhere[spec.name] = " ".join(span) or "in other versions"
    return Catalog(tuple(dict.fromkeys(names)), renames, version, elsewhere)


def decode(data: bytes, path: str) -> str:
    """UTF-8 text of ``data`` (BOM dropped); LintInputError locating a NUL or undecodable byte."""
    nul = data.find(b"\0")
    if nul >= 0:
        line, col = _position(data, nul)
        raise LintInputError(
            path,
            line,
            f"expected UTF-8 text; found binary data (NUL byte at column {col}, byte offset {nul})",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = _position(data, exc.start)
        raise LintInputError(
            path,
            line,
            f"expected UTF-8 text; found byte 0x{data[exc.start]:02x} that is not valid UTF-8 "
            f"(column {col}, byte offset {exc.start})",
        ) from None
    return text.removeprefix("\ufeff")


def _position(data: bytes, offset: int) -> tuple[int, int]:
    line_start = data.rfind(b"\n", 0, offset) + 1
    return data.count(b"\n", 0, offset) + 1, offset - line_start + 1


def split_lines(text: str) -> list[str]:
    """Lines as editors number them: split on LF only (CR of CRLF dropped, tabs expanded)."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the newline that ends the last line does not start another
    return [line.removesuffix("\r").expandtabs(8) for line in lines]


def check_conflict_markers(lines: Sequence[str], path: str) -> None:
    """Raise LintInputError at the first git merge-conflict marker."""
    for number, line in enumerate(lines, 1):
        if _CONFLICT.match(line):
            conflicts = sum(1 for other in lines if other.startswith("<" * 7))
            raise LintInputError(
                path,
                number,
                f"expected a file without git merge-conflict markers; found {line.strip()[:60]!r}"
                f" ({conflicts} unresolved conflict(s) in the file); resolve the merge first",
            )


def parse_field_list(lines: Sequence[str], path: str) -> FieldList:
    """The field list's header line and entries; LintInputError when it is missing or malformed."""
    header = next((i for i, line in enumerate(lines) if " ".join(line.split()) == HEADER), None)
    if header is None:
        if not any(line.strip() for line in lines):
            found = "an empty file" if not lines else f"only {len(lines)} blank line(s)"
            raise LintInputError(path, None, f"expected a line {HEADER!r}; found {found}")
        raise LintInputError(
            path,
            None,
            f"expected a line {HEADER!r} (the field list); found no such line in "
            f"{len(lines)} line(s)",
        )
    body = header + 1
    while body < len(lines) and not lines[body].strip():
        body += 1
    first = lines[body] if body < len(lines) else ""
    term_indent = len(first) - len(first.lstrip())
    if not first.strip() or term_indent == 0:
        found = repr(first.strip()[:60]) if first.strip() else "the end of the file"
        raise LintInputError(
            path,
            body + 1 if first.strip() else header + 1,
            f"expected an indented list of fields (e.g. '  gfn:') after {HEADER!r}; found {found}",
        )
    entries: list[Entry] = []
    for index in range(body, len(lines)):
        line = lines[index]
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if indent == 0:
            if _is_title(lines, index):
                break
            continue  # prose between entries; the list runs to the next section title
        if indent > term_indent or line.lstrip().startswith(".."):
            continue  # an entry's body, or a directive/comment (never run, only skipped)
        if indent < term_indent:
            raise LintInputError(
                path,
                index + 1,
                f"expected a field entry indented {term_indent} spaces (or a body indented "
                f"more); found {indent} spaces before {line.strip()[:60]!r}",
            )
        entries.append(Entry(index + 1, _parse_term(line.strip(), path, index + 1)))
    return FieldList(header + 1, tuple(entries))


def _is_title(lines: Sequence[str], index: int) -> bool:
    """A column-0 line that is a section adornment, or a title with an adornment under it."""
    line = lines[index]
    if _ADORNMENT.match(line):
        return True
    below = lines[index + 1] if index + 1 < len(lines) else ""
    return bool(line.strip()) and not line[0].isspace() and bool(_ADORNMENT.match(below))


def _parse_term(term: str, path: str, line: int) -> tuple[str, ...]:
    colon = _TERM_COLON.search(term)
    if colon is None:
        raise LintInputError(
            path,
            line,
            f"expected a field entry 'name:' or 'name / name:' at this indentation; "
            f"found {term[:60]!r}",
        )
    names: list[str] = []
    for piece in re.split(r"[/,]", _PARENTHESES.sub(" ", term[: colon.start()])):
        text = piece.strip().strip("`*")
        match = _NAME.match(text)
        rest = text[match.end() :] if match else text
        if match is None or (rest and not rest[0].isspace()):
            raise LintInputError(
                path,
                line,
                f"expected field names like 'gfn' or 'role.level' in entry {term[:60]!r}; "
                f"found {piece.strip()[:40]!r}",
            )
        names.append(match.group())
    return tuple(names)


def check(field_list: FieldList, path: str, catalog: Catalog) -> FileReport:
    """Compare parsed entries with ``catalog``."""
    known = set(catalog.fields)
    first_seen: dict[str, int] = {}
    covered: set[str] = set()
    entry_findings: list[Finding] = []
    for entry in field_list.entries:
        for name in entry.names:
            if name in first_seen:
                entry_findings.append(
                    Finding(
                        entry.line,
                        "duplicate",
                        name,
                        f"{name!r} is described again; expected one entry per field "
                        f"(first at line {first_seen[name]})",
                    )
                )
                continue
            first_seen[name] = entry.line
            if name in known:
                covered.add(name)
                continue
            rename = _resolve_rename(name, catalog)
            if rename is None and name in catalog.elsewhere:
                version = f" of {catalog.kernel}" if catalog.kernel else ""
                entry_findings.append(
                    Finding(
                        entry.line,
                        "unknown-field",
                        name,
                        f"entry {name!r} names a {_owner(name, version)} does not have; it "
                        f"exists {catalog.elsewhere[name]} (--kernel chooses the version)",
                    )
                )
                continue
            if rename is not None:
                covered.add(rename.new)
                when = f" in {rename.version}" if rename.version else ""
                note = f" ({rename.note})" if rename.note else ""
                entry_findings.append(
                    Finding(
                        entry.line,
                        "renamed",
                        name,
                        f"entry {name!r} names a {_owner(name)} no longer has; "
                        f"renamed to {rename.new!r}{when}{note}",
                        rename,
                    )
                )
            else:
                entry_findings.append(
                    Finding(
                        entry.line,
                        "unknown-field",
                        name,
                        f"entry {name!r} names a {_owner(name)} does not have",
                    )
                )
    if any(name == "role" or name.startswith("role.") for name in first_seen):
        covered.add("role")
    missing = [
        Finding(
            field_list.header_line,
            "undocumented",
            name,
            f"{name!r} is not described; expected an entry '{name}:' for this {_owner(name)} has",
        )
        for name in catalog.fields
        if name not in covered
    ]
    return FileReport(
        path=path,
        header_line=field_list.header_line,
        entries=field_list.entries,
        fields_documented=tuple(
            name
            for name in catalog.fields
            if name in first_seen or (name == "role" and "role" in covered)
        ),
        fields_total=len(catalog.fields),
        findings=tuple(missing + entry_findings),
        kernel=catalog.kernel,
    )


def _owner(name: str, version: str = "") -> str:
    """'bit that union kvm_mmu_page_role' or 'field that struct kvm_mmu_page' (mid-sentence),
    with ``version`` (' of v6.9') after the type."""
    if name.startswith("role."):
        return f"bit that union kvm_mmu_page_role{version}"
    return f"field that struct kvm_mmu_page{version}"


def _resolve_rename(name: str, catalog: Catalog) -> RenameInfo | None:
    """Follow renames from ``name`` to a current field; None if none applies."""
    hops: list[RenameInfo] = []
    current = name
    while current in catalog.renames and len(hops) <= len(catalog.renames):
        hops.append(catalog.renames[current])
        current = hops[-1].new
        if current in catalog.fields:
            notes = "; ".join(hop.note for hop in hops if hop.note)
            return RenameInfo(name, current, hops[-1].version, notes)
    return None


def lint_text(text: str, path: str, catalog: Catalog | None = None) -> FileReport:
    """Lint decoded text; LintInputError for malformed input."""
    lines = split_lines(text)
    check_conflict_markers(lines, path)
    return check(parse_field_list(lines, path), path, catalog or default_catalog())


def lint_file(path: str, catalog: Catalog | None = None) -> FileReport:
    """Lint one file. Input problems are returned in ``FileReport.error``, never raised."""
    kernel = (catalog or default_catalog()).kernel
    try:
        if os.path.isdir(path):
            raise LintInputError(path, None, "expected a file; found a directory")
        try:
            with open(path, "rb") as stream:
                data = stream.read()
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise LintInputError(path, None, f"expected a readable file; {reason}") from None
        return lint_text(decode(data, path), path, catalog)
    except LintInputError as exc:
        return FileReport(path=path, error=exc, kernel=kernel)


def lint_files(paths: Iterable[str], catalog: Catalog | None = None) -> list[FileReport]:
    return [lint_file(path, catalog) for path in paths]


def exit_code(reports: Iterable[FileReport]) -> int:
    return max((report.exit_code for report in reports), default=0)


def error_line(error: LintInputError) -> str:
    """``path:line: error: message``, or ``path: error: message`` for the whole file."""
    where = error.path if error.line is None else f"{error.path}:{error.line}"
    return f"{where}: error: {error.message}"
