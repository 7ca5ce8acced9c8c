"""Tests of ingest/_rfc3339.py: the vectorised fixed-shape timestamp parser and the strict
RFC 3339 one."""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pytest

from ingest._rfc3339 import parse_fixed, parse_rfc3339_ms, parse_ts_ms


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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-22T08:15:30.250Z", "2026-11-22T08:15:30.250+00:00"),
        ("2026-11-22t08:15:30.250z", "2026-11-22T08:15:30.250+00:00"),  # RFC 3339 5.6 NOTE
        ("2026-11-22 08:15:30Z", "2026-11-22T08:15:30+00:00"),  # the same note
        ("2026-11-22T09:15:30+01:00", "2026-11-22T08:15:30+00:00"),
        ("2026-11-22T08:15:30.123456789-00:30", "2026-11-22T08:45:30.123+00:00"),
    ],
)
def test_rfc3339_date_times_are_read(text: str, expected: str) -> None:
    """RFC 3339 date-times with an offset, lower-case t and z included, are epoch ms."""
    want = dt.datetime.fromisoformat(expected)
    assert parse_rfc3339_ms(text) == parse_ts_ms(text) == int(want.timestamp() * 1000)


@pytest.mark.parametrize(
    "text",
    [
        "2026-W48-2T10:00:00Z",  # ISO 8601 week date
        "2026-326T10:00:00Z",  # ordinal date
        "20261122T081530Z",  # basic format
        "2026-11-22T08:15:30Z\x00",  # trailing NUL
        "2026-11-22T08:15:30Zjunk",
        "2026-11-22T08:15Z",  # no seconds
        "2026-11-22T08:15:30",  # no offset
        "2026-11-22T08:15:30+0100",  # offset without its colon
        "2026-11-22T08:15:30,5Z",  # decimal comma
        "2026-02-30T08:15:30Z",  # no such day
        "2026-11-22T24:00:00Z",
        "\u0662\u0660\u0662\u0666-11-22T08:15:30Z",  # digits, but not ASCII ones
        "",
    ],
)
def test_anything_else_is_refused(text: str) -> None:
    """What datetime.fromisoformat would also take (week and ordinal dates, the basic format,
    trailing garbage, no seconds...) is not RFC 3339 and is refused."""
    assert parse_rfc3339_ms(text) is None
    assert parse_ts_ms(text) is None
