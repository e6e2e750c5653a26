"""Validation of every ``specmodel_*`` configuration value, once, when the config is read.

Sphinx only warns about a conf value of the wrong type and then uses it anyway, so
``specmodel_skip_exploration = "false"`` (a true string) silently skipped every check. Here
each value is checked once, at ``config-inited``, before anything reads it; a bad one stops the
build with one :class:`sphinx.errors.ConfigError` naming the value, what was given and what is
allowed (Sphinx exits 2). A ``specmodel_*`` name in conf.py that no extension registered (a
typo) is an error too.

The table is :data:`VALUES`: one line per config value. An extension module that adds a value
adds its line (``VALUES["specmodel_workers"] = positive_int(optional=True, what="...")``) next
to its ``add_config_value``. The same checks serve the command line
(:func:`specmodel.cli.argtype`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from sphinx.application import Sphinx
    from sphinx.config import Config

__all__ = [
    "VALUES",
    "Check",
    "boolean",
    "from_command_line",
    "one_of",
    "path_or_none",
    "positive_int",
    "positive_seconds",
    "string",
    "validate_config",
]

#: Prefix of this extension's config values.
PREFIX: Final = "specmodel_"


@dataclass(frozen=True)
class Check:
    """What one value may be: ``allowed`` says it in words, ``problem`` tests a value.

    ``problem(value)`` returns None when the value is allowed, else a short reason.
    """

    allowed: str
    problem: Callable[[object], str | None]
    #: how a ``-D name=text`` string becomes the value (raising ValueError when it does not
    #: parse); None: Sphinx already converts it by the type of the default
    parse: Callable[[str], object] | None = None

    def message(self, name: str, value: object) -> str | None:
        """``name = <value>: expected <allowed>; got <reason>``, or None when it is fine."""
        reason = self.problem(value)
        if reason is None:
            return None
        return f"{name} = {_shown(value)}: expected {self.allowed}; got {reason}"


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind(value: object) -> str:
    return "None" if value is None else f"a {type(value).__name__}"


def positive_int(*, optional: bool, what: str) -> Check:
    """An int >= 1 (not a bool, not a float), or also None when ``optional``."""
    allowed = f"a positive int ({what})" + (" or None (no limit)" if optional else "")

    def problem(value: object) -> str | None:
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer() and value >= 1:
                return f"a float {value!r}; write {int(value)}"
            return _kind(value)
        return None if value >= 1 else f"{value}, which is not positive"

    def parse(text: str) -> int | None:
        if optional and text.strip().lower() == "none":
            return None
        return int(text.strip(), 10)

    return Check(allowed, problem, parse)


def positive_seconds(*, optional: bool, what: str) -> Check:
    """A finite number of seconds > 0 (int or float, not a bool), or also None."""
    allowed = f"a positive number of seconds ({what})" + (" or None (no limit)" if optional else "")

    def problem(value: object) -> str | None:
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            return _kind(value)
        if not math.isfinite(value):
            return f"{value!r}, which is not finite"
        return None if value > 0 else f"{value!r}, which is not positive"

    return Check(allowed, problem)


def boolean(*, what: str) -> Check:
    """True or False only: the string "false" is true in Python, so it is refused."""

    def problem(value: object) -> str | None:
        if isinstance(value, bool):
            return None
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no"):
            return f"the string {value!r}; write {value.strip().lower() in ('true', 'yes')}"
        return _kind(value)

    return Check(f"True or False ({what})", problem)


def one_of(choices: Collection[str], *, what: str) -> Check:
    """One of ``choices`` (strings)."""
    listed = ", ".join(repr(choice) for choice in choices)

    def problem(value: object) -> str | None:
        if isinstance(value, str) and value in choices:
            return None
        return _kind(value) if not isinstance(value, str) else f"{value!r}, which is not one"

    return Check(f"one of {listed} ({what})", problem)


def path_or_none(*, what: str) -> Check:
    """A string (a path; '' for the default) or None."""

    def problem(value: object) -> str | None:
        return None if value is None or isinstance(value, str) else _kind(value)

    return Check(f"a path as a string ({what}) or None", problem)


def string(*, what: str) -> Check:
    """Any string (its meaning is checked where it is used)."""

    def problem(value: object) -> str | None:
        return None if isinstance(value, str) else _kind(value)

    return Check(f"a string ({what})", problem)


def _kernels() -> tuple[str, ...]:
    from specmodel.structs.versions import KERNELS

    return KERNELS


#: Every specmodel_* config value and what it may be; one line per value.
VALUES: Final[dict[str, Check]] = {
    "specmodel_cache_dir": path_or_none(what="'' for <confdir>/.specmodel_cache; None: no cache"),
    "specmodel_max_states": positive_int(optional=True, what="states per check"),
    "specmodel_time_limit": positive_seconds(optional=True, what="per check"),
    "specmodel_skip_exploration": boolean(what="skip running the checks"),
    "specmodel_kernel": one_of(_kernels(), what="the kernel version the field models state"),
    "specmodel_workers": positive_int(optional=True, what="worker processes; None: every core"),
    "specmodel_fresh": boolean(what="run every check again, ignoring cached results"),
    # a bad table name is reported at the document it judges (sphinxext/prose.py)
    "specmodel_prose": string(what="'' = off, 'kvm_mmu_page' or a .toml sentence table"),
}


def problems(config: Config, registered: Collection[str]) -> list[str]:
    """Every problem with ``config``'s specmodel_* values, one line each, in name order."""
    found: list[str] = []
    raw = getattr(config, "_raw_config", {})
    for name in sorted(name for name in raw if name.startswith(PREFIX)):
        if name not in registered:
            known = ", ".join(sorted(registered))
            found.append(f"{name}: no such config value; expected one of: {known}")
    for name, check in sorted(VALUES.items()):
        if name in registered:
            message = check.message(name, getattr(config, name))
            if message is not None:
                found.append(message)
    return found


def from_command_line(config: Config) -> None:
    """``-D specmodel_workers=2``: Sphinx converts a ``-D`` string by the type of the value's
    default, so one whose default is None stays a string; parse it as the value it stands
    for (``none`` is None). A string that does not parse is left for :func:`problems`."""
    overrides = getattr(config, "overrides", {})
    for name, check in VALUES.items():
        given = overrides.get(name)
        if check.parse is None or not isinstance(given, str) or name not in config.values:
            continue
        if getattr(config, name) != given:
            continue
        try:
            setattr(config, name, check.parse(given))
        except ValueError:
            continue


def validate_config(app: Sphinx, config: Config) -> None:
    """``config-inited`` (before anything reads the values): raise one ConfigError listing
    every bad ``specmodel_*`` value."""
    from sphinx.errors import ConfigError

    from_command_line(config)
    registered = [name for name in config.values if name.startswith(PREFIX)]
    found = problems(config, registered)
    if found:
        where = f" in {app.confdir}/conf.py" if app.confdir else ""
        raise ConfigError(f"specmodel: bad configuration{where}:\n  " + "\n  ".join(found))
