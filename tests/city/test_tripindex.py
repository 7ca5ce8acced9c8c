"""The in-memory trip index (the service's one computation of trip figures) against plain SQL
aggregates (tests/city/_reference.py), on the same random trips; and the UTC buckets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg.rows import dict_row

from city.buckets import (
    UNITS,
    Unit,
    bucket_count,
    bucket_edges,
    bucket_edges_us,
    bucket_start,
    bucket_starts_us,
    next_bucket,
)
from city.tripindex import load_index
from tests.city import _reference
from tests.city.builders import trip, trip_index, vehicle


def _sql(db_url: str, name: str, *args: Any) -> Any:
    with psycopg.connect(db_url, autocommit=True, row_factory=dict_row) as conn:
        return getattr(_reference, name)(conn, *args)


def _close(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a.keys() <= b.keys() or b.keys() <= a.keys()
    for key in a.keys() & b.keys():
        if isinstance(a[key], float) or isinstance(b[key], float):
            assert float(a[key]) == pytest.approx(float(b[key]), abs=1e-6), key
        else:
            assert a[key] == b[key], key


@pytest.fixture
def random_trips(db: psycopg.Connection) -> None:
    """300 trips over 100 days: 6 vehicles, 40 riders (some trips without a rider), some
    without energy, two methodology versions."""
    rng = np.random.default_rng(11)
    keys = [vehicle(db, f"m{i}") for i in range(6)]
    start = datetime(2025, 1, 20, tzinfo=UTC)
    for k in range(300):
        trip(
            db,
            keys[int(rng.integers(6))],
            start + timedelta(seconds=int(rng.integers(100 * 86400)), microseconds=k),
            km=float(rng.uniform(0.5, 12)),
            rider=None if rng.random() < 0.1 else f"r{int(rng.integers(40))}",
            energy_kwh=None if rng.random() < 0.2 else float(rng.uniform(0.02, 0.8)),
            methodology="v1" if rng.random() < 0.7 else "v2",
        )


def test_index_equals_sql_for_random_windows_and_buckets(db_url: str, random_trips: None) -> None:
    """Summary, buckets (day, week, month, year) and methodology counts from the index equal
    the SQL aggregates for 25 random windows, distinct riders and vehicles included."""
    index = load_index(db_url)
    assert len(index) == 300
    rng = np.random.default_rng(5)
    base = datetime(2025, 1, 15, tzinfo=UTC)
    for _ in range(25):
        a = base + timedelta(seconds=int(rng.integers(110 * 86400)))
        b = a + timedelta(seconds=int(rng.integers(1, 60 * 86400)))
        _close(index.summary(a, b), _sql(db_url, "summary", a, b))
        for unit in ("day", "week", "month", "year"):
            fast, slow = index.series(a, b, unit), _sql(db_url, "period_series", a, b, unit)
            assert len(fast) == len(slow), unit
            for f, s in zip(fast, slow, strict=True):
                _close(f, s)
        assert index.methodologies(a, b) == _sql(db_url, "methodologies", a, b)
    assert index.span() == _sql(db_url, "trip_span")


def test_empty_index(db_url: str) -> None:
    """Without trips the index answers zeros and no span."""
    index = load_index(db_url)
    day = datetime(2025, 1, 1, tzinfo=UTC)
    assert index.summary(day, day + timedelta(days=1))["trips"] == 0
    assert index.span() == {"first": None, "last": None}
    assert [r["trips"] for r in index.series(day, day + timedelta(days=3), "day")] == [0, 0, 0]


def test_bucket_count_is_the_number_of_buckets_listed() -> None:
    """For random windows (some ending on a boundary), bucket_count equals the buckets that
    bucket_edges lists, in every unit."""
    rng = np.random.default_rng(8)
    base = datetime(2020, 1, 1, tzinfo=UTC)
    for _ in range(2000):
        a = base + timedelta(seconds=int(rng.integers(6 * 365 * 86400)))
        b = a + timedelta(seconds=int(rng.integers(1, 900 * 86400)))
        if rng.random() < 0.2:
            b = max(b.replace(day=1, hour=0, minute=0, second=0), a + timedelta(seconds=1))
        for unit in ("day", "week", "month", "year"):
            assert bucket_count(a, b, unit) == len(bucket_edges(a, b, unit)) - 1, (a, b, unit)


def _edges_one_by_one(start: datetime, end: datetime, unit: Unit) -> list[datetime]:
    edges = [bucket_start(start, unit)]
    while edges[-1] < end:
        edges.append(next_bucket(edges[-1], unit))
    return edges


def test_vectorised_bucket_edges_equal_stepping_bucket_by_bucket() -> None:
    """bucket_edges_us (numpy month and year arithmetic, no loop) equals stepping with
    next_bucket from bucket_start, for random windows from 1960 to 2040 and windows starting
    and ending on, or a microsecond beside, month ends, leap days (2000, 2024), a century's
    28 February (2100) and year ends, in every unit."""
    rng = np.random.default_rng(31)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    us = timedelta(microseconds=1)
    windows = []
    for _ in range(400):
        a = epoch + us * int(rng.integers(-10 * 365 * 86400 * 10**6, 70 * 365 * 86400 * 10**6))
        windows.append((a, a + us * int(rng.integers(1, 400 * 86400 * 10**6))))
    cuts = [
        datetime(y, m, d, tzinfo=UTC)
        for y, m, d in [(2000, 2, 29), (2024, 2, 29), (2100, 2, 28), (2024, 3, 1), (2024, 12, 31)]
    ] + [datetime(2025, 1, 1, tzinfo=UTC), datetime(2024, 4, 30, 23, tzinfo=UTC)]
    near = [c + d * us for c in cuts for d in (-1, 0, 1)]
    windows += [(a, b) for a in near for b in near if a < b]
    for a, b in windows:
        for unit in _UNITS:
            if unit == "hour" and b - a > timedelta(days=40):
                continue
            expected = _edges_one_by_one(a, b, unit)
            assert bucket_edges(a, b, unit) == expected, (a, b, unit)
            edge_us = bucket_edges_us(a, b, unit)
            assert edge_us.dtype == np.int64
            assert edge_us.tolist() == [(e - epoch) // us for e in expected], (a, b, unit)


def test_bucket_edges_past_year_9999_are_refused() -> None:
    """A window whose last bucket would end after 9999-12-31 raises ValueError (as stepping
    past datetime's last year did), in every unit."""
    end = datetime(9999, 12, 31, 23, 30, tzinfo=UTC)
    for unit in _UNITS:
        with pytest.raises(ValueError, match="after year 9999"):
            bucket_edges_us(end - timedelta(days=20), end, unit)


def test_bucket_edges_cross_months_and_years() -> None:
    """Month buckets roll over December; weeks start on Monday; the last edge closes the last
    bucket touching the window."""
    start = datetime(2024, 11, 15, 12, tzinfo=UTC)
    end = datetime(2025, 2, 1, tzinfo=UTC)
    assert bucket_edges(start, end, "month") == [
        datetime(2024, m, 1, tzinfo=UTC) for m in (11, 12)
    ] + [datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 2, 1, tzinfo=UTC)]
    weeks = bucket_edges(start, end, "week")
    assert weeks[0] == datetime(2024, 11, 11, tzinfo=UTC)  # a Monday
    assert all(w.weekday() == 0 for w in weeks)
    assert bucket_edges(start, end, "year")[-1] == datetime(2026, 1, 1, tzinfo=UTC)


_UNITS = UNITS


@pytest.fixture
def edge_trips(db: psycopg.Connection) -> list[datetime]:
    """200 trips whose starts sit on and beside bucket boundaries (a month, week, day and hour
    start, a microsecond before and after), some sharing a start, 12 riders riding across the
    boundaries, some trips without a rider; returns the instants the windows are cut at."""
    rng = np.random.default_rng(23)
    keys = [vehicle(db, f"e{i}") for i in range(8)]
    boundaries = [
        datetime(2024, 12, 30, tzinfo=UTC),  # a Monday
        datetime(2025, 1, 1, tzinfo=UTC),  # a year, month and day start, a Wednesday
        datetime(2025, 1, 6, tzinfo=UTC),  # a Monday
        datetime(2025, 2, 1, tzinfo=UTC),
        datetime(2025, 2, 1, 13, tzinfo=UTC),
        datetime(2025, 3, 1, tzinfo=UTC),
    ]
    cuts = [b + timedelta(microseconds=d) for b in boundaries for d in (-1, 0, 1)]
    used: set[tuple[int, datetime]] = set()
    for k in range(200):
        when = cuts[int(rng.integers(len(cuts)))] if k % 2 else boundaries[0]
        if k % 2 == 0:
            when += timedelta(seconds=int(rng.integers(62 * 86400)))
        key = keys[int(rng.integers(len(keys)))]
        if (key, when) in used:  # one trip per vehicle and start
            continue
        used.add((key, when))
        trip(
            db,
            key,
            when,
            km=float(rng.uniform(0.5, 9)),
            rider=None if rng.random() < 0.15 else f"e{int(rng.integers(12))}",
            energy_kwh=None if rng.random() < 0.2 else float(rng.uniform(0.02, 0.5)),
            methodology="v1" if rng.random() < 0.5 else "v2",
        )
    return cuts


def _equal(fast: dict[str, Any], slow: dict[str, Any], where: object) -> None:
    """Counts and bounds exactly equal; sums of floats to 1e-9 (the order of summing differs)."""
    assert fast.keys() == slow.keys(), where
    for key, value in slow.items():
        if isinstance(value, float):
            assert fast[key] == pytest.approx(value, rel=1e-12, abs=1e-9), (where, key)
        else:
            assert type(fast[key]) is type(value) and fast[key] == value, (where, key)


def _same_as_sql(db_url: str, index: Any, a: datetime, b: datetime) -> None:
    _equal(index.summary(a, b), _sql(db_url, "summary", a, b), (a, b))
    counted = {"riders", "vehicles_active"}
    summed = index.summary(a, b, distinct=False)
    assert summed == {k: v for k, v in index.summary(a, b).items() if k not in counted}
    for unit in _UNITS:
        if unit == "hour" and b - a > timedelta(days=3):
            continue
        fast, slow = index.series(a, b, unit), _sql(db_url, "period_series", a, b, unit)
        assert len(fast) == len(slow), unit
        for f, s in zip(fast, slow, strict=True):
            _equal(f, s, (a, b, unit, s["bucket_start"]))
        summed_rows = index.series(a, b, unit, distinct=False)
        assert summed_rows == [{k: v for k, v in f.items() if k not in counted} for f in fast]
    assert index.methodologies(a, b) == _sql(db_url, "methodologies", a, b)


def test_windows_cut_on_and_beside_bucket_edges_equal_sql(
    db_url: str, edge_trips: list[datetime]
) -> None:
    """Windows whose ends fall on a bucket boundary, a microsecond either side of it, on a trip
    start (included at the start, excluded at the end) or inside one bucket give exactly the
    SQL figures in every unit (distinct riders and vehicles included): the whole buckets the
    index counted when loaded and the cut first and last buckets counted on demand agree."""
    index = load_index(db_url)
    cuts = sorted(set(edge_trips))
    pairs = [(a, b) for a in cuts for b in cuts if a < b]
    rng = np.random.default_rng(3)
    for k in rng.choice(len(pairs), size=60, replace=False):
        _same_as_sql(db_url, index, *pairs[int(k)])
    # Inside one hour, one day; and windows holding no trip at all.
    first = cuts[0]
    for a, b in [
        (first, first + timedelta(minutes=20)),
        (first + timedelta(hours=3), first + timedelta(hours=21)),
        (datetime(2023, 5, 1, tzinfo=UTC), datetime(2023, 6, 15, tzinfo=UTC)),
        (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC)),
    ]:
        _same_as_sql(db_url, index, a, b)
    empty = index.summary(datetime(2023, 5, 1, tzinfo=UTC), datetime(2023, 6, 1, tzinfo=UTC))
    assert (empty["trips"], empty["riders"], empty["vehicles_active"]) == (0, 0, 0)


def test_random_windows_and_every_unit_equal_sql(db_url: str, random_trips: None) -> None:
    """100 random windows, from a minute to 70 days, each unit hour to year: every figure
    equals the SQL aggregates (integers exactly, sums to 1e-9)."""
    index = load_index(db_url)
    rng = np.random.default_rng(17)
    base = datetime(2025, 1, 15, tzinfo=UTC)
    for _ in range(100):
        a = base + timedelta(microseconds=int(rng.integers(110 * 86400 * 10**6)))
        span = 60 if rng.random() < 0.3 else 70 * 86400
        b = a + timedelta(microseconds=int(rng.integers(1, span * 10**6)))
        _same_as_sql(db_url, index, a, b)


def test_whole_bucket_counts_are_the_distinct_riders_of_each_bucket(
    db_url: str, random_trips: None
) -> None:
    """The distinct riders and vehicles the index counts per whole bucket when it loads are
    SQL's count(DISTINCT ...) per UTC bucket, for every bucket that holds a trip."""
    index = load_index(db_url)
    for unit in _UNITS:
        whole = index.whole[unit]
        assert whole.start_us.size and np.all(np.diff(whole.start_us) > 0)
        for start_us, riders, vehicles in zip(
            whole.start_us.tolist(), whole.riders.tolist(), whole.vehicles.tolist(), strict=True
        ):
            a = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=start_us)
            b = bucket_edges(a, a + timedelta(microseconds=1), unit)[-1]
            row = _sql(db_url, "summary", a, b)
            assert row["trips"] > 0
            assert (riders, vehicles) == (row["riders"], row["vehicles_active"]), (unit, a)


def test_vectorised_bucket_starts_equal_bucket_start() -> None:
    """bucket_starts_us, the trip index's bucket of many times at once, equals bucket_start
    for random times from 1960 to 2040 and for times on and a microsecond beside bucket
    boundaries (years, months, Mondays, days, hours), in every unit."""
    rng = np.random.default_rng(29)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    us = rng.integers(-10 * 365 * 86400 * 10**6, 70 * 365 * 86400 * 10**6, 3000)
    edges = [
        datetime(2024, 2, 29, tzinfo=UTC),
        datetime(2024, 12, 30, tzinfo=UTC),
        datetime(2025, 1, 1, tzinfo=UTC),
        datetime(1969, 12, 29, tzinfo=UTC),
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(2025, 3, 30, 1, tzinfo=UTC),
    ]
    near = [(e - epoch) // timedelta(microseconds=1) + d for e in edges for d in (-1, 0, 1)]
    times = np.concatenate([us, np.array(near)]).astype(np.int64)
    for unit in _UNITS:
        fast = bucket_starts_us(times, unit)
        for t_us, start_us in zip(times.tolist(), fast.tolist(), strict=True):
            when = epoch + timedelta(microseconds=t_us)
            expected = bucket_start(when, unit)
            assert epoch + timedelta(microseconds=start_us) == expected, (unit, when)


def test_bucket_columns_with_the_total_end_with_the_windows_summary() -> None:
    """bucket_columns(total=True) is bucket_columns' buckets, exactly, then one more row that
    is exactly the window's summary (distinct riders and vehicles counted or not), for random
    windows in every unit."""
    index = trip_index(np.random.default_rng(37), 3000, datetime(2024, 1, 1, tzinfo=UTC), 400)
    rng = np.random.default_rng(38)
    for _ in range(40):
        a = datetime(2023, 12, 1, tzinfo=UTC) + timedelta(seconds=int(rng.integers(420 * 86400)))
        b = a + timedelta(seconds=int(rng.integers(1, 200 * 86400)))
        for unit in ("day", "week", "month", "year"):
            for distinct in (True, False):
                buckets = index.bucket_columns(a, b, unit, distinct)
                both = index.bucket_columns(a, b, unit, distinct, total=True)
                assert both.keys() == buckets.keys()
                np.testing.assert_array_equal(both["edge_us"], buckets["edge_us"])
                total = {k: v[-1].item() for k, v in both.items() if k != "edge_us"}
                assert total == index.summary(a, b, distinct), (a, b, unit)
                for k, v in buckets.items():
                    if k != "edge_us":
                        np.testing.assert_array_equal(both[k][:-1], v, err_msg=k)
