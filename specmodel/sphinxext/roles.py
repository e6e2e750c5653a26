"""``:spec:value:``: render a model constant, or check a value the prose states.

``:spec:value:`BATCH_ZAP_PAGES``` renders the model's value; ``:spec:value:`BATCH_ZAP_PAGES = 10```
renders it too, and is a divergence if the model's value differs.
"""

from __future__ import annotations

import os
from pathlib import Path

from docutils import nodes
from sphinx.util.docutils import SphinxRole

from specmodel.errors import UnknownNameError
from specmodel.kernel import CONSTANTS
from specmodel.sphinxext.domain import spec_domain
from specmodel.sphinxext.records import Status, Verdict


def _line_of(path: str, line: int, rawtext: str) -> int:
    """The line of ``rawtext`` itself: docutils gives a role its paragraph's first line."""
    first = rawtext.splitlines()[0] if rawtext else ""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return line
    for number in range(max(line, 1), min(len(lines), line + 200) + 1):
        if first and first in lines[number - 1]:
            return number
        if not lines[number - 1].strip() and number > line:
            break
    return line


class ValueRole(SphinxRole):
    """Render ``specmodel.kernel.CONSTANTS[NAME]``; ``NAME = literal`` also asserts it."""

    def run(self) -> tuple[list[nodes.Node], list[nodes.system_message]]:
        name, sep, stated = (part.strip() for part in self.text.partition("="))
        try:
            if name not in CONSTANTS:
                message = f":spec:value: {UnknownNameError('constant', name, CONSTANTS)}"
                self._record(name, "error", message)
                return [nodes.literal(self.rawtext, self.text, classes=["spec-error"])], []
            value = CONSTANTS[name]
            rendered = nodes.literal(self.rawtext, str(value), classes=["spec-value"])
            if not sep:
                return [rendered], []
            try:
                expected = int(stated.replace("_", ""), 0)
            except ValueError:
                self._record(
                    name, "error", f":spec:value: {name} = {stated!r}: expected an integer literal"
                )
                return [rendered], []
            if expected != value:
                self._record(
                    name,
                    "diverged",
                    f":spec:value: the prose states {name} = {stated}; "
                    f"the model has {name} = {value} (specmodel.kernel)",
                )
            else:
                self._record(name, "held", "")
            return [rendered], []
        except Exception as exc:  # never abort the build from a role
            self._record(
                name, "error", f":spec:value: internal error ({type(exc).__name__}: {exc})"
            )
            return [nodes.literal(self.rawtext, self.text)], []

    def _record(self, name: str, status: Status, message: str) -> None:
        source, line = self.get_source_info()
        path = os.path.abspath(source or self.env.doc2path(self.env.docname))
        spec_domain(self.env).add_verdict(
            Verdict(
                path=path,
                line=_line_of(path, int(line or 0), self.rawtext),
                kind="value",
                target=name,
                status=status,
                message=message,
                docname=self.env.docname,
                generation=spec_domain(self.env).generation,
            )
        )
