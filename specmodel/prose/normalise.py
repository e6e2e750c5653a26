"""The normal form of a sentence and what identifies it without copying it.

Whitespace runs become one space; typographic quotes, dashes and ellipses become ASCII; inline
reST markup (````literal````, ``*emphasis*``,
``**strong**``, ```interpreted```, ``:role:`text```) is reduced to its text. The identifier is the
first 16 hex digits of the SHA-256 of that form; similarity between two sentences is the Jaccard
index of their word-hash sets (:func:`sketch`), so the table can name the nearest known sentence
without storing its words.
"""

from __future__ import annotations

import hashlib
import re

_ROLE = re.compile(r"(?::[\w.+-]+)+:`([^`]*)`")
_LITERAL = re.compile(r"``([^`]+)``")
_INTERPRETED = re.compile(r"`([^`]+)`_{0,2}")
_STRONG = re.compile(r"\*\*([^*]+)\*\*")
_EMPHASIS = re.compile(r"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])")
_WORD = re.compile(r"[A-Za-z0-9_]+")

#: How many words of a sentence the table keeps as its human-readable handle.
FIRST_WORDS = 5


#: What docutils' smart quotes make of ASCII punctuation, folded back (a sentence read from a
#: Sphinx doctree hashes like the same sentence read from the file).
_SMART = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})
_DASHES = (("\u2026", "..."), ("\u2014", "---"), ("\u2013", "--"))


def normalise(text: str) -> str:
    """``text`` with inline markup reduced to its content, typographic quotes, dashes and
    ellipses as ASCII, and whitespace folded."""
    text = text.translate(_SMART)
    for typographic, ascii_form in _DASHES:
        text = text.replace(typographic, ascii_form)
    for pattern in (_ROLE, _LITERAL, _INTERPRETED, _STRONG, _EMPHASIS):
        text = pattern.sub(r"\1", text)
    return " ".join(text.split())


def sentence_hash(text: str) -> str:
    """The identifier of a sentence: 16 hex digits of SHA-256 over its normal form."""
    return hashlib.sha256(normalise(text).encode("utf-8")).hexdigest()[:16]


def first_words(text: str, count: int = FIRST_WORDS) -> str:
    """The first ``count`` words of the normal form (the handle reports print)."""
    return " ".join(normalise(text).split()[:count])


def _word_hash(word: str) -> str:
    return hashlib.sha256(word.lower().encode("utf-8")).hexdigest()[:6]


def sketch(text: str) -> str:
    """The sorted, space-separated 6-hex-digit hashes of the sentence's distinct words."""
    return " ".join(sorted({_word_hash(w) for w in _WORD.findall(normalise(text))}))


def similarity(a: str, b: str) -> float:
    """Jaccard index of two sketches (0.0 to 1.0)."""
    left, right = set(a.split()), set(b.split())
    if not left or not right:
        return 0.0
    return len(left & right) / len(left | right)
