"""Bounded renderings of wire values for dead-letter details.

A value a device sent can be nested thousands of levels deep or be an integer of thousands of
digits; ``repr`` of it recurses without bound (``RecursionError``) or refuses (``ValueError``
past 4,300 digits). :func:`shown` looks at most three levels down and a few items wide.
"""

from __future__ import annotations

import reprlib
from typing import Final

__all__ = ["shown"]

_REPR: Final = reprlib.Repr()
_REPR.maxlevel = 3
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 6
_REPR.maxstring = _REPR.maxother = 60
_REPR.maxlong = 40


def shown(value: object, limit: int = 80) -> str:
    """``repr(value)``, bounded in depth, width and length (at most ``limit`` characters)."""
    try:
        text = _REPR.repr(value)
    except (ValueError, RecursionError):
        text = f"<a {type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."
