"""UTC buckets of time: the one definition of an hour, day, week (from Monday), month and year.

Every figure per bucket (time series, emissions groups, the report's charts), the count of
buckets a window may hold and the default window of whole days use these functions, so a
bucket boundary is the same everywhere (:func:`bucket_starts_us` is :func:`bucket_start` for
arrays of times, and :func:`bucket_edges_us` the bucket edges of a window without a loop, for
the trip index; the tests hold each equal to the plain function).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "UNITS",
    "Unit",
    "bucket_count",
    "bucket_edges",
    "bucket_edges_us",
    "bucket_start",
    "bucket_starts_us",
    "next_bucket",
]

Unit = Literal["hour", "day", "week", "month", "year"]
UNITS: tuple[Unit, ...] = ("hour", "day", "week", "month", "year")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_US_PER_HOUR = 3_600_000_000
_US_PER_DAY = 24 * _US_PER_HOUR
_WIDTH_US = {"hour": _US_PER_HOUR, "day": _US_PER_DAY, "week": 7 * _US_PER_DAY}
_DATETIME64_UNIT = {"hour": "h", "day": "D", "month": "M", "year": "Y"}
_MAX_US = (datetime(9999, 12, 31, 23, tzinfo=UTC) - _EPOCH) // _US  # the last hour's start


def bucket_start(when: datetime, unit: Unit) -> datetime:
    """The start of the UTC bucket holding ``when``.

    Examples
    --------
    >>> bucket_start(datetime(2025, 3, 5, 18, 30, tzinfo=UTC), "week")  # a Wednesday
    datetime.datetime(2025, 3, 3, 0, 0, tzinfo=datetime.timezone.utc)
    """
    hour = when.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if unit == "hour":
        return hour
    day = hour.replace(hour=0)
    if unit == "day":
        return day
    if unit == "week":
        return day - timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    return day.replace(month=1, day=1)


def next_bucket(start: datetime, unit: Unit) -> datetime:
    """The start of the bucket after the one starting at ``start``."""
    if unit == "hour":
        return start + timedelta(hours=1)
    if unit == "day":
        return start + timedelta(days=1)
    if unit == "week":
        return start + timedelta(days=7)
    if unit == "month":
        return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
    return start.replace(year=start.year + 1)


def bucket_edges(start: datetime, end: datetime, unit: Unit) -> list[datetime]:
    """UTC bucket starts from the one holding ``start`` to the last one before ``end``, then
    that bucket's end: ``len(edges) - 1`` buckets touch ``[start, end)`` (``start < end``).

    :func:`bucket_edges_us` as datetimes.

    Examples
    --------
    >>> edges = bucket_edges(datetime(2024, 12, 15, tzinfo=UTC), datetime(2025, 2, 1, tzinfo=UTC),
    ...                      "month")
    >>> [f"{e:%Y-%m-%d}" for e in edges]
    ['2024-12-01', '2025-01-01', '2025-02-01']
    """
    return [_EPOCH + _US * us for us in bucket_edges_us(start, end, unit).tolist()]


def bucket_edges_us(start: datetime, end: datetime, unit: Unit) -> NDArray[np.int64]:
    """:func:`bucket_edges` in microseconds since the epoch, computed without a Python loop.

    Parameters
    ----------
    start, end : datetime
        The window ``[start, end)``, aware, ``start < end``.
    unit : {"hour", "day", "week", "month", "year"}

    Returns
    -------
    ndarray of int64, shape (bucket_count(start, end, unit) + 1,)
        The start of every UTC bucket touching the window, then the last one's end.

    Raises
    ------
    ValueError
        When the last edge is after 9999-12-31 (beyond a datetime), as :func:`next_bucket`.

    Examples
    --------
    >>> bucket_edges_us(datetime(1970, 1, 1, 5, tzinfo=UTC), datetime(1970, 3, 1, tzinfo=UTC),
    ...                 "month") // _US_PER_DAY
    array([ 0, 31, 59])
    """
    steps = np.arange(bucket_count(start, end, unit) + 1, dtype=np.int64)
    first = bucket_start(start, unit)
    if unit in _WIDTH_US:
        edges = (first - _EPOCH) // _US + steps * _WIDTH_US[unit]
    else:  # months or years since 1970, as numpy's calendar units count them
        since = (first.year - 1970) * 12 + first.month - 1 if unit == "month" else first.year - 1970
        calendar = (since + steps).astype(f"datetime64[{_DATETIME64_UNIT[unit]}]")
        edges = calendar.astype("datetime64[us]").astype(np.int64)
    if edges[-1] > _MAX_US:
        raise ValueError(f"the last {unit} bucket of the window ends after year 9999")
    return edges


def bucket_count(start: datetime, end: datetime, unit: Unit) -> int:
    """How many buckets touch ``[start, end)``: ``len(bucket_edges(...)) - 1``, computed
    without listing them (a window is checked against the service's bucket limit first).

    Examples
    --------
    >>> bucket_count(datetime(2024, 12, 15, tzinfo=UTC), datetime(2025, 2, 1, tzinfo=UTC),
    ...              "month")
    2
    """
    first = bucket_start(start, unit)
    if unit in ("hour", "day", "week"):
        width = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(days=7)}[
            unit
        ]
        return max(-(-(end - first) // width), 1)
    last = bucket_start(end - timedelta(microseconds=1), unit)
    if unit == "month":
        return max((last.year - first.year) * 12 + last.month - first.month + 1, 1)
    return max(last.year - first.year + 1, 1)


def bucket_starts_us(us: NDArray[np.int64], unit: Unit) -> NDArray[np.int64]:
    """:func:`bucket_start` of many times at once, in microseconds since the epoch.

    Parameters
    ----------
    us : ndarray of int64, shape (n,)
        Times, microseconds since 1970-01-01T00:00Z.
    unit : {"hour", "day", "week", "month", "year"}

    Returns
    -------
    ndarray of int64, shape (n,)
        The start of each time's UTC bucket, microseconds since the epoch.

    Examples
    --------
    >>> us = np.array([(datetime(2025, 3, 5, 18, 30, tzinfo=UTC) - _EPOCH) // _US])
    >>> bucket_starts_us(us, "week") == (datetime(2025, 3, 3, tzinfo=UTC) - _EPOCH) // _US
    array([ True])
    """
    us = np.asarray(us, dtype=np.int64)
    if unit == "week":
        day = us // _US_PER_DAY
        return (day - (day + 3) % 7) * _US_PER_DAY  # 1970-01-01 was a Thursday (weekday 3)
    floored = us.astype("datetime64[us]").astype(f"datetime64[{_DATETIME64_UNIT[unit]}]")
    return floored.astype("datetime64[us]").astype(np.int64)
