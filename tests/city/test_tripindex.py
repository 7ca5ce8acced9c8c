"""The in-memory trip index (the service's one computation of trip figures) against plain SQL
aggregates (tests/city/_reference.py), on the same random trips; and the UTC buckets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg.rows import dict_row

from city.buckets import bucket_count, bucket_edges
from city.tripindex import load_index
from tests.city import _reference
from tests.city.builders import trip, vehicle


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
