"""The spec directives: one class per behaviour, all sharing SpecDirective's error handling.

No exception escapes ``run()``: bad input and divergences become verdicts stored in the domain
(reported, located, at the end of the build) and a box on the page. The model checks
themselves do not run here: a directive records a job, and batch.py runs every job in a
worker process after reading.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import make_id

from specmodel.errors import BadParameterError, UnknownNameError
from specmodel.sphinxext import runner
from specmodel.sphinxext.domain import ClaimDoc, FieldDoc, ModelDecl, SpecDomain, spec_domain
from specmodel.sphinxext.records import Check, Job, Kind, Outcome, Status, Verdict
from specmodel.sphinxext.render import pending_verdict, verdict_box

SKIPPED = "specmodel_skip_exploration = True: checks were skipped in this build"


class OpenOptionSpec(dict[str, Callable[[str], Any]]):
    """An option_spec that accepts any option, so ``run()`` can report unknown ones itself.

    Docutils only turns an unknown option into an ERROR system message, which does not fail a
    build (SPHINX.md 2.1). Every value stays a string; the directive converts and validates it.
    """

    def __missing__(self, key: str) -> Callable[[str], Any]:
        return directives.unchanged

    def __bool__(self) -> bool:  # docutils skips option parsing for an empty spec
        return True


def open_options(*names: str) -> OpenOptionSpec:
    return OpenOptionSpec(dict.fromkeys(names, directives.unchanged))


class SpecDirective(SphinxDirective):
    """Shared behaviour: verdict recording, option checking, no escaping exceptions."""

    kind: ClassVar[Kind]
    option_spec: ClassVar[OpenOptionSpec] = open_options()
    #: options beyond option_spec are parameters (claims, scenarios) instead of errors
    extra_options_are_params: ClassVar[bool] = False

    @property
    def domain(self) -> SpecDomain:
        return spec_domain(self.env)

    @property
    def target(self) -> str:
        return " ".join(self.arguments)

    def run(self) -> list[nodes.Node]:
        try:
            unknown = sorted(set(self.options) - set(type(self).option_spec))
            if unknown and not self.extra_options_are_params:
                valid = ", ".join(f":{o}:" for o in sorted(type(self).option_spec)) or "(none)"
                return self.fail(
                    "error",
                    f"spec:{self.kind} {self.target}: unknown option "
                    + ", ".join(f":{o}:" for o in unknown)
                    + f"; valid options: {valid}",
                )
            # an option written without a value is a mistake, never "use the default"
            # (an empty :mutant: would otherwise run the unmutated kernel)
            empty = sorted(k for k, v in self.options.items() if not str(v or "").strip())
            if empty:
                return self.fail(
                    "error",
                    f"spec:{self.kind} {self.target}: option "
                    + ", ".join(f":{o}:" for o in empty)
                    + " has no value; expected a value, or leave the option out",
                )
            return self.check()
        except Exception as exc:  # a bug must not abort the build or delete the env
            return self.fail(
                "error",
                f"spec:{self.kind} {self.target}: internal error while checking "
                f"({type(exc).__name__}: {exc}); please report this to specmodel",
            )

    def check(self) -> list[nodes.Node]:
        raise NotImplementedError

    # -- helpers ----------------------------------------------------------------------------

    def location(self) -> tuple[str, int]:
        source, line = self.get_source_info()
        # docutils gives included files relative to the working directory: make it absolute
        return os.path.abspath(source or self.env.doc2path(self.env.docname)), int(line or 0)

    def record(
        self,
        status: Status,
        message: str = "",
        *,
        outcome: Outcome | None = None,
        expect: str = "holds",
        cached: bool = False,
    ) -> Verdict:
        path, line = self.location()
        verdict = Verdict(
            path=path,
            line=line,
            kind=self.kind,
            target=self.target,
            status=status,
            message=message,
            states=outcome.states if outcome else 0,
            seconds=outcome.seconds if outcome else 0.0,
            docname=self.env.docname,
            expect="violated" if expect == "violated" else "holds",
            cached=cached,
            generation=self.domain.generation,
        )
        self.domain.add_verdict(verdict)
        return verdict

    def fail(self, status: Status, message: str) -> list[nodes.Node]:
        self.record(status, message)
        box = verdict_box(Outcome(status, message), what=f"spec:{self.kind} {self.target}")
        return [box]

    def body(self) -> list[nodes.Node]:
        return list(self.parse_content_to_nodes()) if self.content else []

    def anchor(self, prefix: str, term: str) -> nodes.target:
        node_id = make_id(self.env, self.state.document, prefix, term)
        target = nodes.target("", "", ids=[node_id])
        self.state.document.note_explicit_target(target)
        return target

    def schedule(
        self, *, expect: str, what: str, code: str = "", first_line: int = 0
    ) -> list[nodes.Node]:
        """Record the check this directive asks for and leave a placeholder for its verdict.

        Nothing runs here: after reading (``env-updated``, in the main process) every new
        check runs in a worker process of its own, or comes from the cache (batch.py), and
        ``doctree-resolved`` puts its verdict box where the placeholder is.
        """
        config = self.config
        if config.specmodel_skip_exploration:
            outcome = Outcome("skipped", SKIPPED)
            self.record("skipped", SKIPPED, expect=expect)
            return [verdict_box(outcome, what=what, expect=expect, skipped_reason=SKIPPED)]
        number = int(self.env.temp_data.get("specmodel_checks") or 0)
        self.env.temp_data["specmodel_checks"] = number + 1
        path, line = self.location()
        job = Job(
            kind=self.kind,  # type: ignore[arg-type]  # claim, invariant or run
            ident=f"{self.env.docname}#{number}",
            docname=self.env.docname,
            path=path,
            line=line,
            target=self.target,
            options=tuple(sorted((k, str(v)) for k, v in self.options.items())),
            code=code,
            first_line=first_line,
            expect="violated" if expect == "violated" else "holds",
            what=what,
            max_states=config.specmodel_max_states,
            time_limit=config.specmodel_time_limit,
        )
        from specmodel.sphinxext import batch

        check = Check(job)
        state = batch.current(self.env)
        if state is not None:  # a serial read: answer from the cache, or start it now
            check = state.take(check)
            if check.outcome is not None:
                batch.record(self.domain, check)
        self.domain.add("checks", self.env.docname, check)
        return [pending_verdict(docname=job.docname, ident=job.ident)]


class ModelDirective(SpecDirective):
    """``.. spec:model:: KvmMmuPage``: these docs document this model (coverage at the end)."""

    kind = "model"
    required_arguments = 1
    has_content = True

    def check(self) -> list[nodes.Node]:
        from specmodel.structs.fields import MODELS

        name = self.target
        if name not in MODELS:
            return self.fail("error", f"spec:model: {UnknownNameError('model', name, MODELS)}")
        path, line = self.location()
        from specmodel.structs.fields import field_specs

        kernel = self.config.specmodel_kernel  # validated at config-inited (config.py)
        fields = tuple((spec.name, spec.c_type) for spec in field_specs(name, kernel))
        self.domain.add(
            "models", self.env.docname, ModelDecl(name, path, line, self.env.docname, fields)
        )
        self.record("held")
        return [self.anchor("spec-model", name), *self.body()]


class FieldDirective(SpecDirective):
    """``.. spec:field:: mmu_valid_gen``: the body documents one field of a model."""

    kind = "field"
    required_arguments = 1
    has_content = True
    option_spec = open_options("type", "values")

    def check(self) -> list[nodes.Node]:
        from specmodel.sphinxext.fieldcheck import check_field_options, describe_field
        from specmodel.structs.fields import find_field

        name = self.target
        try:
            spec = find_field(name, self.config.specmodel_kernel)
        except UnknownNameError as exc:
            model = "KvmMmuPageRole" if name.startswith("role.") else "KvmMmuPage"
            same = [v for v in exc.valid if v.startswith("role.") == name.startswith("role.")]
            return self.fail(
                "diverged",
                f"spec:field {name!r} names no field of {model}; expected one of: "
                + ", ".join(same or exc.valid),
            )
        try:
            problems = check_field_options(spec, self.options)
        except BadParameterError as exc:
            return self.fail("error", f"spec:field {name}: {exc}")
        anchor = self.anchor("spec-field", name)
        path, line = self.location()
        self.domain.add(
            "fields",
            self.env.docname,
            FieldDoc(
                spec.model,
                spec.name,
                path,
                line,
                anchor["ids"][0],
                self.env.docname,
                prose=any(text.strip() for text in self.content),
            ),
        )
        header = nodes.paragraph(classes=["spec-field"])
        header += nodes.literal(text=name)
        header += nodes.Text(" " + describe_field(spec))
        if problems:
            message = f"spec:field {name} diverges from {spec.model}: " + "; ".join(problems)
            self.record("diverged", message)
            return [
                anchor,
                header,
                *self.body(),
                verdict_box(Outcome("diverged", message), what=f"field {name}"),
            ]
        self.record("held")
        return [anchor, header, *self.body()]


class ClaimDirective(SpecDirective):
    """``.. spec:claim:: checks.fast_zap.<name>``: the body states a claim the model checks."""

    kind = "claim"
    required_arguments = 1
    has_content = True
    option_spec = open_options("mutant", "expect")
    extra_options_are_params = True  # Claim.run rejects unknown ones (BadParameterError)

    def check(self) -> list[nodes.Node]:
        claim_id = self.target
        anchor = self.anchor("spec-claim", claim_id)
        self.domain.add("claims", self.env.docname, ClaimDoc(claim_id, anchor["ids"][0]))
        options = {k: str(v) for k, v in self.options.items()}
        mutant = options.get("mutant")
        what = f"claim {claim_id}" + (f" against mutant {mutant}" if mutant else "")
        box = self.schedule(expect=options.get("expect", "holds").strip().lower(), what=what)
        return [anchor, *self.body(), *box]


class InvariantDirective(SpecDirective):
    """``.. spec:invariant:: <expression over kvm>``: holds in every explored state."""

    kind = "invariant"
    required_arguments = 1
    final_argument_whitespace = True
    has_content = True
    option_spec = open_options("scenario", "mutant", "expect", "vcpus", "pages", "batch")
    extra_options_are_params = True  # other scenario params; explore() validates them

    def check(self) -> list[nodes.Node]:
        expression = self.target
        options = {k: str(v) for k, v in self.options.items()}
        params = {k: v for k, v in options.items() if k not in ("scenario", "mutant", "expect")}
        what = f"{expression} in " + runner.format_call(
            options.get("scenario", "fast_zap"), params, options.get("mutant")
        )
        box = self.schedule(expect=options.get("expect", "holds").strip().lower(), what=what)
        return [*self.body(), *box]


class RunDirective(SpecDirective):
    """``.. spec:run::``: a Python block run with specmodel's public names in scope."""

    kind = "run"
    has_content = True
    option_spec = open_options("expect")

    @property
    def target(self) -> str:
        return "spec:run block"

    def check(self) -> list[nodes.Node]:
        code = "\n".join(self.content)
        _source, line = self.state_machine.get_source_and_line(self.content_offset + 1)
        first_line = int(line or self.lineno + 1)
        expect = self.options.get("expect")
        block = nodes.literal_block(code, code, language="python", classes=["spec-run"])
        box = self.schedule(
            expect=str(expect or "holds").strip().lower(),
            what="spec:run block",
            code=code,
            first_line=first_line,
        )
        return [block, *box]
