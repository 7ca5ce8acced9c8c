"""Query parameters shared by the routers: RFC 3339 windows, buckets, pages.

Each dependency parses at the boundary into a typed value and raises
:class:`~city.errors.BadParameterError` naming the parameter when it cannot.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import Query, Request

from city.buckets import UNITS, Unit, bucket_count, bucket_start
from city.config import ServiceConfig
from city.errors import BadParameterError

__all__ = [
    "Bucket",
    "Cursor",
    "GroupBy",
    "Window",
    "check_buckets",
    "checked_window",
    "decode_cursor",
    "encode_cursor",
    "parse_rfc3339",
    "window",
]

Bucket = Literal["hour", "day", "week", "month"]
GroupBy = Literal["day", "month", "year"]

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The latest end of a window in buckets of each unit: the bucket starting there would end after
# 9999-12-31, past the last time an answer can hold.
_LATEST_END = {unit: bucket_start(datetime.max.replace(tzinfo=UTC), unit) for unit in UNITS}


@dataclass(frozen=True)
class Window:
    """A half-open UTC window ``[start, end)``."""

    start: datetime
    end: datetime

    @property
    def days(self) -> float:
        return (self.end - self.start) / timedelta(days=1)


def parse_rfc3339(name: str, raw: str) -> datetime:
    """``2026-11-22T08:15:30Z`` or ``...+01:00`` to an aware UTC datetime.

    Raises
    ------
    BadParameterError
        When ``raw`` is not an RFC 3339 date-time with an offset.
    """
    match = _RFC3339.match(raw)
    if not match:
        raise BadParameterError(name, raw, "an RFC 3339 date-time such as 2026-11-22T08:15:30Z")
    fraction = (match.group(7) or "")[:7]  # Python keeps microseconds
    offset = match.group(8).upper()
    text = f"{raw[:10]}T{raw[11:19]}{fraction}{'+00:00' if offset == 'Z' else offset}"
    try:
        value = datetime.fromisoformat(text)
        result = value.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise BadParameterError(name, raw, f"a valid RFC 3339 date-time ({exc})") from None
    return result


def _config(request: Request) -> ServiceConfig:
    config: ServiceConfig = request.app.state.config
    return config


FromParam = Annotated[
    str,
    Query(
        alias="from",
        description="Window start, inclusive (RFC 3339 with offset).",
        json_schema_extra={"format": "date-time"},
    ),
]
ToParam = Annotated[
    str,
    Query(
        alias="to",
        description="Window end, exclusive (RFC 3339 with offset).",
        json_schema_extra={"format": "date-time"},
    ),
]


def checked_window(config: ServiceConfig, from_: str, to: str) -> Window:
    """The ``[from, to)`` window of ``from`` and ``to``, checked against the service's bounds.

    Raises
    ------
    BadParameterError
        Naming ``from`` or ``to`` when either is not RFC 3339, or the window is empty or
        longer than ``config.max_window_days``.
    """
    start = parse_rfc3339("from", from_)
    end = parse_rfc3339("to", to)
    if start >= end:
        raise BadParameterError("from", from_, f"a time before to ({to})")
    limit = config.max_window_days
    if (end - start) > timedelta(days=limit):
        raise BadParameterError(
            "to", to, f"a window of at most {limit} days after from ({from_}); ask for less"
        )
    return Window(start, end)


async def window(request: Request, from_: FromParam, to: ToParam) -> Window:
    """The ``[from, to)`` window of a request, checked against the service's bounds."""
    return checked_window(_config(request), from_, to)


def check_buckets(config: ServiceConfig, win: Window, parameter: str, bucket: Unit) -> None:
    """Refuse a window that holds more buckets than the service returns, or whose last bucket
    would end after 9999-12-31."""
    latest = _LATEST_END[bucket]
    if win.end > latest:
        raise BadParameterError(
            "to", win.end.isoformat(), f"a time by {latest.isoformat()} for {bucket} buckets"
        )
    limit = config.max_buckets
    count = bucket_count(win.start, win.end, bucket)
    if count > limit:
        raise BadParameterError(
            "to",
            win.end.isoformat(),
            f"a window of at most {limit} {bucket} buckets (this one holds {count}); "
            f"shorten it or choose a coarser {parameter}",
        )


@dataclass(frozen=True)
class Cursor:
    """Where the next page of trips starts: after ``(start_ts, trip_id)``."""

    start_ts: datetime
    trip_id: int


def encode_cursor(start_ts: datetime, trip_id: int) -> str:
    """An opaque, URL-safe page token."""
    micros = (start_ts - _EPOCH) // timedelta(microseconds=1)
    raw = json.dumps([micros, trip_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str) -> Cursor:
    """The :class:`Cursor` in a page token, or :class:`BadParameterError` naming ``cursor``."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        micros, trip_id = json.loads(raw)
        # bool is an int in Python: [true, false] would reach the query as booleans.
        if not all(type(v) is int for v in (micros, trip_id)):
            raise ValueError("not two integers")
        start = _EPOCH + timedelta(microseconds=micros)
        if start.year < 1 or not 0 <= trip_id < 2**63:
            raise ValueError("out of range")
    except (binascii.Error, ValueError, TypeError, OverflowError, UnicodeDecodeError):
        raise BadParameterError(
            "cursor", token, "the next_cursor of a previous page, unchanged"
        ) from None
    return Cursor(start, trip_id)
