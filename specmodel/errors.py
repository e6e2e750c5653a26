"""Exceptions raised by specmodel.

The tree::

    SpecmodelError
     +-- UnknownNameError (KeyError)        unknown scenario, mutant, claim, model or field
     +-- BadParameterError (ValueError)     a scenario or claim parameter out of range
     +-- InvariantExpressionError (ValueError)  an invariant expression that fails or raises
     +-- BudgetExceededError (RuntimeError) an exploration over its state budget or time limit
     +-- ClaimDefinitionError (TypeError)   a claim declared wrongly (no mutant, duplicate id, ...)
     +-- UseAfterFree (RuntimeError)        the model touched a freed kvm_mmu_page
     +-- LintInputError (ValueError)        lint was given input it cannot read as mmu.rst

Every message says what was expected and what was found.
"""

from __future__ import annotations

from collections.abc import Iterable


class SpecmodelError(Exception):
    """Root of every error specmodel raises on purpose."""


class UnknownNameError(SpecmodelError, KeyError):
    """A name (scenario, mutant, claim, model, field) that specmodel does not know."""

    def __init__(self, kind: str, name: str, valid: Iterable[str]) -> None:
        self.kind = kind
        self.name = name
        self.valid = tuple(sorted(valid))
        super().__init__(kind, name)

    def __str__(self) -> str:
        choices = ", ".join(self.valid) or "(none)"
        return f"unknown {self.kind} {self.name!r}; expected one of: {choices}"


class BadParameterError(SpecmodelError, ValueError):
    """A parameter outside the range a scenario or claim accepts."""


class InvariantExpressionError(SpecmodelError, ValueError):
    """An invariant given as a Python expression that does not parse or that raises."""


class BudgetExceededError(SpecmodelError, RuntimeError):
    """An exploration that went over its state budget or its time limit."""


class ClaimDefinitionError(SpecmodelError, TypeError):
    """A claim in checks/ that is declared wrongly."""


class UseAfterFree(SpecmodelError, RuntimeError):
    """The model performed a list or pointer operation on a freed kvm_mmu_page."""


class LintInputError(SpecmodelError, ValueError):
    """Input to ``specmodel lint`` that cannot be read as a kernel mmu.rst."""

    def __init__(self, path: str, line: int | None, message: str) -> None:
        self.path = path
        #: 1-based line of the problem; None when it concerns the whole file (missing,
        #: unreadable, a directory, empty, no field list)
        self.line = line
        self.message = message
        where = path if line is None else f"{path}:{line}"
        super().__init__(f"{where}: {message}")
