"""``:spec:value:``: render a model constant, or check a value the prose states.

``:spec:value:`BATCH_ZAP_PAGES``` renders the model's value; ``:spec:value:`BATCH_ZAP_PAGES = 10```
renders it too, and is a divergence if the model's value differs.
"""

from __future__ import annotations

import os

from docutils import nodes
from sphinx.util.docutils import SphinxRole

from specmodel.errors import UnknownNameError
from specmodel.kernel import CONSTANTS
from specmodel.sphinxext.domain import spec_domain, taken_roles
from specmodel.sphinxext.records import Status, Verdict


class ValueRole(SphinxRole):
    """Render ``specmodel.kernel.CONSTANTS[NAME]``; ``NAME = literal`` also asserts it."""

    def run(self) -> tuple[list[nodes.Node], list[nodes.system_message]]:
        name, sep, stated = (part.strip() for part in self.text.partition("="))
        self._where = self._locate()
        spec_domain(self.env).add("ran", self.env.docname, self._where)
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

    def _locate(self) -> tuple[str, int]:
        """The role's own path and line: docutils gives a role its paragraph's first line
        (one line late in a simple table); the raw-source scan knows the real one."""
        source, line = self.get_source_info()
        path = os.path.abspath(source or self.env.doc2path(self.env.docname))
        own = spec_domain(self.env).locate(
            self.env.docname, path, int(line or 0), self.rawtext, taken_roles(self.inliner.document)
        )
        return path, own

    def _record(self, name: str, status: Status, message: str) -> None:
        path, line = self._where
        domain = spec_domain(self.env)
        domain.add_verdict(
            Verdict(
                path=path,
                line=line,
                kind="value",
                target=name,
                status=status,
                message=message,
                docname=self.env.docname,
                generation=domain.generation,
            )
        )
