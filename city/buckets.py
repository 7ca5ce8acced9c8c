"""UTC buckets of time: the one definition of an hour, day, week (from Monday), month and year.

Every figure per bucket (time series, emissions groups, the report's charts), the count of
buckets a window may hold and the default window of whole days use these functions, so a
bucket boundary is the same everywhere.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

__all__ = ["Unit", "bucket_count", "bucket_edges", "bucket_start", "next_bucket"]

Unit = Literal["hour", "day", "week", "month", "year"]


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
    that bucket's end: ``len(edges) - 1`` buckets touch ``[start, end)``.

    Examples
    --------
    >>> edges = bucket_edges(datetime(2024, 12, 15, tzinfo=UTC), datetime(2025, 2, 1, tzinfo=UTC),
    ...                      "month")
    >>> [f"{e:%Y-%m-%d}" for e in edges]
    ['2024-12-01', '2025-01-01', '2025-02-01']
    """
    edges = [bucket_start(start, unit)]
    while edges[-1] < end:
        edges.append(next_bucket(edges[-1], unit))
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
