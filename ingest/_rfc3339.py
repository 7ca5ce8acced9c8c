"""A vectorised parser for the one timestamp shape most units send:
``YYYY-MM-DDTHH:MM:SS.mmmZ`` (24 ASCII characters, DESIGN.md's example). Anything else goes
to the strict general parser (:func:`parse_ts_ms`, RFC 3339 only), point by point."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Final

import numpy as np

__all__ = ["parse_fixed", "parse_rfc3339_ms", "parse_ts_ms"]

_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_ONE_MS: Final = dt.timedelta(milliseconds=1)
_INT64_MIN, _INT64_MAX = int(np.iinfo(np.int64).min), int(np.iinfo(np.int64).max)
_WIDTH: Final = 24
_SEPARATORS: Final = {4: b"-", 7: b"-", 10: b"T", 13: b":", 16: b":", 19: b".", 23: b"Z"}
_DIGITS: Final = [i for i in range(_WIDTH) if i not in _SEPARATORS]
_SEPARATOR_AT: Final = list(_SEPARATORS)
_SEPARATOR_CHARS: Final = np.frombuffer(b"".join(_SEPARATORS.values()), dtype=np.uint8)
_DAYS_IN_MONTH: Final = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
# (year, month, day, hour, minute, second, milli) = digits @ _WEIGHTS: each number's digits
# (by their index among the 17 digits) with their place values.
_NUMBERS: Final = ((0, 4), (4, 2), (6, 2), (8, 2), (10, 2), (12, 2), (14, 3))
_WEIGHTS: Final = np.zeros((len(_DIGITS), len(_NUMBERS)), dtype=np.int64)
for _k, (_start, _width) in enumerate(_NUMBERS):
    _WEIGHTS[_start : _start + _width, _k] = 10 ** np.arange(_width - 1, -1, -1)


def parse_fixed(column: Sequence[str]) -> np.ndarray | None:
    """Epoch milliseconds for a column of ``YYYY-MM-DDTHH:MM:SS.mmmZ`` strings, or None when
    any string has another shape or an impossible date (the caller then parses one by one)."""
    try:
        raw = np.array(column, dtype=f"S{_WIDTH + 1}")  # one byte more: longer strings show
    except UnicodeEncodeError:
        return None
    if raw.dtype.itemsize != _WIDTH + 1:
        return None
    chars = raw.view(np.uint8).reshape(len(raw), _WIDTH + 1)
    if chars[:, _WIDTH].any():  # a 25th character
        return None
    if not (chars[:, _SEPARATOR_AT] == _SEPARATOR_CHARS).all():
        return None
    digits = chars[:, _DIGITS] - np.uint8(ord("0"))  # uint8: characters below '0' wrap to > 9
    if (digits > 9).any():
        return None
    numbers = digits.astype(np.int64) @ _WEIGHTS
    year, month, day, hour, minute, second, milli = numbers.T
    if ((month < 1) | (month > 12)).any():
        return None
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    last_day = _DAYS_IN_MONTH[month] + ((month == 2) & leap)
    if ((day < 1) | (day > last_day) | (hour > 23) | (minute > 59) | (second > 59)).any():
        return None
    # Days from the civil date (H. Hinnant's algorithm), vectorised.
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month + np.where(month > 2, -3, 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days = era * 146097 + doe - 719468
    ms: np.ndarray = (((days * 24 + hour) * 60 + minute) * 60 + second) * 1000 + milli
    return ms


def parse_ts_ms(value: object) -> int | None:
    """A wire timestamp (RFC 3339 with an offset, or integer epoch ms) as epoch ms, or None."""
    if type(value) is int:
        return value if _INT64_MIN <= value <= _INT64_MAX else None
    if type(value) is str:
        return parse_rfc3339_ms(value)
    return None


# RFC 3339 section 5.6: full-date "T" full-time, with seconds and an offset. "T" and "Z" may be
# lower case (section 5.6, NOTE); a space may stand for "T" (same note). ASCII digits only:
# ``datetime.fromisoformat`` alone would also take ISO 8601 week dates, the basic format,
# times without seconds, offsets without a colon and trailing garbage such as NUL.
_RFC3339: Final = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})", re.ASCII
)


def parse_rfc3339_ms(text: str) -> int | None:
    """Epoch milliseconds of an RFC 3339 date-time with an offset, or None for anything else
    (including impossible dates and leap seconds, which ``datetime`` cannot hold)."""
    if _RFC3339.fullmatch(text) is None:
        return None
    try:
        when = dt.datetime.fromisoformat(text.upper())
    except ValueError:
        return None
    return (when - _EPOCH) // _ONE_MS
