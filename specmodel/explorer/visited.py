"""Compact bookkeeping for the breadth-first search: 8 bytes per visited state, 6 more for
the path back to it.

``Fingerprints`` is an open-addressing hash table of 64-bit state fingerprints in one
``array('Q')`` (linear probing, kept at most 5/8 full), instead of a ``set`` of Python ints,
which costs a table slot plus an int object per state (about 75 bytes). ``Parents`` stores,
per visited state, its parent's index (4 bytes) and the step from there (thread and choice
in 2 bytes), enough to rebuild any trace.
"""

from __future__ import annotations

from array import array

_MASK64 = (1 << 64) - 1
#: Slot value meaning "empty"; a fingerprint equal to it is stored as ``_ZERO_STANDIN``.
_EMPTY = 0
_ZERO_STANDIN = 0x9E3779B97F4A7C15


def fingerprint(value: object) -> int:
    """A 64-bit fingerprint of a state: CPython's ``hash()``, which is deterministic for
    states (nested tuples of ints and bools), folded to an unsigned 64-bit int."""
    return hash(value) & _MASK64


class Fingerprints:
    """A set of 64-bit fingerprints stored in 8 bytes each."""

    __slots__ = ("_count", "_limit", "_mask", "_table")

    def __init__(self, capacity: int = 1 << 12) -> None:
        size = 1 << max(4, (capacity * 2 - 1).bit_length())
        self._table = array("Q", bytes(8 * size))
        self._mask = size - 1
        self._limit = size * 5 // 8
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def add(self, fp: int) -> bool:
        """Insert ``fp`` (an unsigned 64-bit int); False if it was there already."""
        if fp == _EMPTY:
            fp = _ZERO_STANDIN
        table, mask = self._table, self._mask
        # the low bits of hash() are the least mixed for small ints: start from the high ones
        i = (fp ^ (fp >> 29)) & mask
        while True:
            slot = table[i]
            if slot == _EMPTY:
                break
            if slot == fp:
                return False
            i = (i + 1) & mask
        table[i] = fp
        self._count += 1
        if self._count > self._limit:
            self._grow()
        return True

    def __contains__(self, fp: object) -> bool:
        if not isinstance(fp, int):
            return False
        if fp == _EMPTY:
            fp = _ZERO_STANDIN
        table, mask = self._table, self._mask
        i = (fp ^ (fp >> 29)) & mask
        while True:
            slot = table[i]
            if slot == _EMPTY:
                return False
            if slot == fp:
                return True
            i = (i + 1) & mask

    def _grow(self) -> None:
        old = self._table
        size = len(old) * 2
        self._table = table = array("Q", bytes(8 * size))
        self._mask = mask = size - 1
        self._limit = size * 5 // 8
        for fp in old:
            if fp == _EMPTY:
                continue
            i = (fp ^ (fp >> 29)) & mask
            while table[i] != _EMPTY:
                i = (i + 1) & mask
            table[i] = fp

    def __iter__(self):  # type: ignore[no-untyped-def]
        return (fp for fp in self._table if fp != _EMPTY)

    @property
    def nbytes(self) -> int:
        return len(self._table) * 8


class Parents:
    """Per visited state in visiting order: the parent's index and the step from it."""

    __slots__ = ("_choice", "_parent")

    #: A step is (thread, choice) packed as ``thread << 8 | choice``.
    MAX_THREADS = 256
    MAX_CHOICES = 256

    def __init__(self) -> None:
        self._parent = array("I", [0])
        self._choice = array("H", [0])

    def __len__(self) -> int:
        return len(self._parent)

    def append(self, parent: int, tid: int, j: int) -> int:
        """Record a state reached from state ``parent`` by thread ``tid``'s choice ``j``;
        returns its index."""
        if tid >= self.MAX_THREADS or j >= self.MAX_CHOICES:
            raise OverflowError(
                f"a step is stored in 16 bits: expected thread < {self.MAX_THREADS} and "
                f"choice < {self.MAX_CHOICES}, found thread {tid}, choice {j}"
            )
        self._parent.append(parent)
        self._choice.append(tid << 8 | j)
        return len(self._parent) - 1

    def path(self, idx: int) -> list[tuple[int, int]]:
        """The (thread, choice) steps from the initial state (index 0) to state ``idx``."""
        steps = []
        while idx > 0:
            code = self._choice[idx]
            steps.append((code >> 8, code & 0xFF))
            idx = self._parent[idx]
        steps.reverse()
        return steps

    @property
    def nbytes(self) -> int:
        return len(self._parent) * 4 + len(self._choice) * 2
