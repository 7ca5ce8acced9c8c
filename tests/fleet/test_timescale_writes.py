"""The one telemetry write path on a real TimescaleDB (``POGO_TEST_TIMESCALE_URL``): points
landing in compressed chunks, duplicates among them, and a backfill over a compressed range:
every point stored or proven a duplicate, and the daily aggregate and the trips see them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import psycopg
import pytest

from fleet import StoreOptions, upgrade
from fleet.telemetry import (
    AlreadyStored,
    Events,
    HistoryChunk,
    Vehicles,
    create_staging,
    register_vehicles,
    stage_points,
    write_history,
    write_points,
)
from tests.fixtures.settings import TEST_RIDER_KEY
from tests.fleet.test_timescale import daily, raw_daily
from wire.point import empty_points

pytestmark = pytest.mark.timescale

DAY_MS = 86_400_000
NO_EVENTS = Events([], [], [], [], [], [])


def points_at(ts_ms: np.ndarray) -> np.ndarray:
    points = empty_points(len(ts_ms))
    points["ts_ms"] = ts_ms
    points["lat"] = 32.2 + np.arange(len(ts_ms)) * 1e-5
    points["lon"] = -7.95
    points["speed_kmh"] = 20.0
    return points


def old_day_ms(days_ago: int) -> int:
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return int(today.timestamp() * 1000) - days_ago * DAY_MS


def compress_all(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute(
        "SELECT count(compress_chunk(c, if_not_compressed => true)) FROM show_chunks('telemetry') c"
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_duplicate_and_new_points_in_a_compressed_chunk(timescale_url: str) -> None:
    """A batch holding one point already stored in a compressed chunk and four new ones in the
    same chunk: the four are stored and the one is counted a duplicate, proven so; the direct
    COPY refuses the batch instead of storing part of it (timescale/timescaledb#7672 lost all
    five on 2.17)."""
    upgrade(timescale_url, StoreOptions(timescaledb="require"))
    t0 = old_day_ms(10) + 3_600_000
    with psycopg.connect(timescale_url) as conn:
        key = int(register_vehicles(conn, Vehicles(["f"], ["v1"], [2.3]))[0])
        create_staging(conn)
        first = stage_points(points_at(np.array([t0])), [key], [t0])
        with conn.transaction():
            assert write_points(conn, first, direct=True).stored == 1
        assert compress_all(conn) == 1
        ts = t0 + np.arange(5) * 1000  # t0 again, then four new
        batch = stage_points(points_at(ts), np.full(5, key), ts)
        with pytest.raises(AlreadyStored), conn.transaction():
            write_points(conn, batch, direct=True)
        with conn.transaction():
            written = write_points(conn, batch, direct=False)
        assert (written.stored, written.duplicates, len(written.not_stored)) == (4, 1, 0)
        stored = conn.execute("SELECT count(*), min(lat) FROM telemetry").fetchone()
        assert stored == (5, 32.2)  # the first point kept as it was stored


def test_backfill_over_a_compressed_range_loses_nothing(timescale_url: str) -> None:
    """A history re-imported over a range whose chunks are compressed, with new points between
    the stored ones: every point is stored or counted a duplicate, the table holds each key
    once, and the daily aggregate holds every day after the backfill's refresh."""
    upgrade(timescale_url, StoreOptions(timescaledb="require"))
    start = old_day_ms(20)
    every_min = start + np.arange(0, 10 * DAY_MS, 60_000, dtype=np.int64)
    stored_first = every_min[::2]
    vehicles = Vehicles(["f"], ["v1"], [2.3])

    def chunk(ts: np.ndarray) -> HistoryChunk:
        return HistoryChunk(
            points_at(ts), np.zeros(len(ts), np.int64), ts.copy(), NO_EVENTS, np.zeros(0, np.int64)
        )

    first = write_history(timescale_url, vehicles, [chunk(stored_first)], TEST_RIDER_KEY)
    assert first.points_stored == len(stored_first)
    with psycopg.connect(timescale_url, autocommit=True) as conn:
        assert compress_all(conn) >= 10
    again = write_history(timescale_url, vehicles, [chunk(every_min)], TEST_RIDER_KEY)
    assert again.points_stored == len(every_min) - len(stored_first)
    assert again.duplicates == len(stored_first)
    with psycopg.connect(timescale_url) as conn:
        row = conn.execute("SELECT count(*), count(DISTINCT ts) FROM telemetry").fetchone()
    assert row == (len(every_min), len(every_min))
    assert daily(timescale_url, materialised_only=True) == raw_daily(timescale_url)
