"""Tests of ingest/_rfc3339.py: the vectorised fixed-shape timestamp parser."""

from __future__ import annotations

import datetime as dt
import random

import numpy as np

from ingest._rfc3339 import parse_fixed, parse_ts_ms


def _iso(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def test_fast_path_agrees_with_fromisoformat_over_two_centuries() -> None:
    """For 5,000 random instants 1970-2170 the vectorised parse equals the one-by-one one."""
    rng = random.Random(3)
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    column = [
        _iso(epoch + dt.timedelta(milliseconds=rng.randrange(200 * 365 * 86_400_000)))
        for _ in range(5000)
    ]
    column.append("2028-02-29T23:59:59.999Z")  # a leap day
    got = parse_fixed(column)
    assert got is not None
    np.testing.assert_array_equal(got, [parse_ts_ms(s) for s in column])


def test_any_other_shape_falls_back() -> None:
    """A single string of another shape or an impossible date sends the column to the slow path."""
    good = "2026-11-22T08:15:30.250Z"
    for other in [
        "2026-11-22T08:15:30.250+01:00",
        "2026-11-22T08:15:30Z",
        "2026-11-22 08:15:30.250Z",
        "2026-02-29T08:15:30.250Z",  # not a leap year
        "2026-11-22T24:15:30.250Z",
        "2026-11-22T08:15:30.25xZ",
        "2026-11-22T08:15:30.250ZZ",
        "é026-11-22T08:15:30.250Z",
    ]:
        assert parse_fixed([good, other]) is None, other
