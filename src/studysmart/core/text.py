"""Names people read (topics, titles, display names): refuse characters that hide or reorder text.

Zero-width characters make two different-looking names equal (or equal-looking names different), and
bidirectional overrides make a name display in another order than it is stored ("Trojan Source"), so a name that
contains one is refused rather than cleaned: the student sees why, and nothing is stored differently from what
they typed.
"""

from __future__ import annotations

from pydantic import AfterValidator

#: Zero-width and invisible formatting characters.
ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff\u180e\u00ad")
#: Bidirectional marks, embeddings, overrides and isolates.
BIDI_CONTROLS = frozenset("\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
NUL = "\x00"


def name_problem(value: str) -> str | None:
    """Why ``value`` is not acceptable as a name (None if it is)."""
    if NUL in value:
        return "NUL characters are not allowed"
    hidden = sorted({char for char in value if char in ZERO_WIDTH or char in BIDI_CONTROLS})
    if hidden:
        codes = ", ".join(f"U+{ord(char):04X}" for char in hidden)
        return f"must not contain zero-width or bidirectional-control characters ({codes})"
    return None


def check_name(value: str) -> str:
    """``value`` unchanged, or ValueError (a 422 naming the field, through Pydantic) saying what it contains."""
    problem = name_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


#: Add to a ``str`` type of a request field: ``Annotated[str, StringConstraints(...), VisibleName]``.
VisibleName = AfterValidator(check_name)

__all__ = ["BIDI_CONTROLS", "ZERO_WIDTH", "VisibleName", "check_name", "name_problem"]
