"""The kernel versions the field models know, and how a member's ``since``/``until`` is read.

A member or role bit carries ``since`` (the first version that has it; ``None``: every version
the model knows) and ``until`` (the first version that no longer has it; ``None``: still there).
:data:`KERNELS` lists the versions whose struct the model can state: the source snapshots that
were read (``mmu_internal.h`` at 02c00b3a2f7e for ~v5.10 and 89ea60c2c7b5 for ~v6.9, FACTS
section 0) and the later layouts FACTS section A records from patch postings. ``since`` and
``until`` between two snapshots (``v6.0`` for the renames, ``v6.6`` for
``tdp_mmu_scheduled_root_to_zap``) are approximate (FACTS G) and only decide on which side of a
snapshot a member falls.
"""

from __future__ import annotations

import re
from functools import total_ordering
from typing import Final

__all__ = ["DEFAULT_KERNEL", "KERNELS", "Version", "exists_in", "parse_version"]

_VERSION = re.compile(r"^~?v?(\d+)\.(\d+)$")


@total_ordering
class Version:
    """A kernel version ``vMAJOR.MINOR``; ``~`` (approximate) is accepted and ignored."""

    __slots__ = ("major", "minor")

    def __init__(self, major: int, minor: int) -> None:
        self.major = major
        self.minor = minor

    def __str__(self) -> str:
        return f"v{self.major}.{self.minor}"

    def __repr__(self) -> str:
        return f"Version({self.major}, {self.minor})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and (self.major, self.minor) == (
            other.major,
            other.minor,
        )

    def __lt__(self, other: Version) -> bool:
        return (self.major, self.minor) < (other.major, other.minor)

    def __hash__(self) -> int:
        return hash((self.major, self.minor))


def parse_version(text: str) -> Version:
    """``"v6.9"``, ``"6.9"`` or ``"~v6.9"`` as a :class:`Version`; ``ValueError`` otherwise."""
    match = _VERSION.match(text.strip())
    if match is None:
        raise ValueError(f"kernel version {text!r}: expected the form v6.9")
    return Version(int(match[1]), int(match[2]))


#: Versions whose struct layout the model states, oldest first; the last is the default.
KERNELS: Final[tuple[str, ...]] = ("v5.10", "v6.9", "v6.14", "v6.16")
#: The version :func:`specmodel.structs.fields.field_specs` describes unless told otherwise.
DEFAULT_KERNEL: Final = KERNELS[-1]


def exists_in(version: str, since: str | None, until: str | None) -> bool:
    """Whether a member with ``since``/``until`` is part of the struct in ``version``."""
    at = parse_version(version)
    if since is not None and at < parse_version(since):
        return False
    return until is None or at < parse_version(until)
