"""fleet/telemetry.py against the real database: the direct COPY, the staged path's proof of
what it stored, rows dropped without a conflict (TimescaleDB#7672, emulated by a trigger that
skips rows as the bug does), events, and histories."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import numpy as np
import psycopg
import pytest

from fleet import (
    AlreadyStored,
    Events,
    HistoryChunk,
    TelemetryWriteError,
    Vehicles,
    create_staging,
    register_vehicles,
    stage_points,
    write_events,
    write_history,
    write_points,
)
from fleet.riders import pseudonym
from tests.fixtures.settings import TEST_RIDER_KEY
from tests.fleet.dropping import DROPPED_LAT, drop_marked_rows
from wire.point import empty_points

T0 = 1_732_000_000_000  # epoch ms


def points(ts_ms: list[int], lat: float = 32.2) -> np.ndarray:
    """Points of one vehicle at these device times (epoch ms), every optional field absent."""
    out = empty_points(len(ts_ms))
    out["ts_ms"] = ts_ms
    out["lat"] = lat
    out["lon"] = -7.95
    return out


def no_events() -> Events:
    return Events(ts=[], type=[], ride_id=[], rider=[], attributes=[], received_at=[])


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection to this test's database, with its staging table."""
    with psycopg.connect(db_url, autocommit=True) as c:
        create_staging(c)
        yield c


def _key(conn: psycopg.Connection[Any], vehicle: str = "v1") -> int:
    return int(register_vehicles(conn, Vehicles(["tf"], [vehicle], [2.0]))[0])


def _write(
    conn: psycopg.Connection[Any], pts: np.ndarray, key: int, *, direct: bool
) -> tuple[int, int, list[int], bool]:
    staged = stage_points(pts, np.full(len(pts), key), pts["ts_ms"] + 50)
    with conn.transaction():
        w = write_points(conn, staged, direct=direct)
    return w.stored, w.duplicates, w.not_stored.tolist(), w.slow_path


def _count(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT count(*) FROM telemetry").fetchone()
    return int(row[0]) if row else -1


def test_direct_copy_stores_all_and_refuses_a_stored_point(
    conn: psycopg.Connection[Any],
) -> None:
    """The direct path stores every new point (a repeat in the input counted a duplicate);
    a point already stored makes it raise AlreadyStored and write nothing."""
    key = _key(conn)
    assert _write(conn, points([T0, T0 + 1, T0]), key, direct=True) == (2, 1, [], False)
    with pytest.raises(AlreadyStored):
        _write(conn, points([T0 + 1, T0 + 2]), key, direct=True)
    assert _count(conn) == 2


def test_staged_path_proves_stored_and_duplicate_points(conn: psycopg.Connection[Any]) -> None:
    """Overlapping points: the new ones stored, the stored and repeated ones duplicates, the
    stored values kept (first write wins)."""
    key = _key(conn)
    _write(conn, points([T0, T0 + 1]), key, direct=True)
    result = _write(conn, points([T0, T0 + 1, T0 + 2, T0 + 2, T0 + 3], lat=30.0), key, direct=False)
    assert result == (2, 3, [], True)
    rows = conn.execute("SELECT lat FROM telemetry ORDER BY ts").fetchall()
    assert rows == [(32.2,), (32.2,), (30.0,), (30.0,)]


def test_rows_dropped_by_the_bulk_insert_are_written_one_by_one(
    conn: psycopg.Connection[Any],
) -> None:
    """Rows the multi-row insert drops without a conflict are neither returned nor stored
    before: they are not counted as duplicates but written on their own, and stored."""
    key = _key(conn)
    _write(conn, points([T0]), key, direct=True)
    drop_marked_rows(conn, "bulk")
    pts = points([T0, T0 + 1, T0 + 2, T0 + 3])
    pts["lat"][[1, 3]] = DROPPED_LAT
    assert _write(conn, pts, key, direct=False) == (3, 1, [], True)
    assert _count(conn) == 4


def test_a_row_the_database_never_stores_is_reported_not_stored(
    conn: psycopg.Connection[Any],
) -> None:
    """A row dropped by the single-row insert too is reported by its index, counted neither
    stored nor duplicate."""
    key = _key(conn)
    _write(conn, points([T0]), key, direct=True)
    drop_marked_rows(conn, "always")
    pts = points([T0 + 5, T0, T0 + 6, T0 + 7])
    pts["lat"][2] = DROPPED_LAT
    assert _write(conn, pts, key, direct=False) == (2, 1, [2], True)
    assert _count(conn) == 3


def test_events_are_stored_once(conn: psycopg.Connection[Any]) -> None:
    """Events are inserted in one statement; a repeat (in the input or stored) is skipped; a
    rider token is stored as its pseudonym, never as given."""
    key = _key(conn)
    at = dt.datetime(2024, 5, 6, 8, tzinfo=dt.UTC)
    events = Events(
        ts=[at, at, at],
        type=["ride_start", "ride_start", "fault"],
        ride_id=["r1", "r1", None],
        rider=["tok-1234abcd-5678efgh", "tok-1234abcd-5678efgh", None],
        attributes=[{}, {}, {"code": "gps"}],
        received_at=[at, at, at],
    )
    with conn.transaction():
        assert write_events(conn, [key] * 3, events, TEST_RIDER_KEY) == 2
    with conn.transaction():
        assert write_events(conn, [key] * 3, events, TEST_RIDER_KEY) == 0
    rows = conn.execute("SELECT type, attributes FROM vehicle_events ORDER BY type").fetchall()
    assert rows == [("fault", {"code": "gps"}), ("ride_start", {})]
    riders = conn.execute("SELECT rider FROM vehicle_events ORDER BY type").fetchall()
    assert riders == [(None,), (pseudonym(TEST_RIDER_KEY, "tok-1234abcd-5678efgh"),)]


def _chunk(ts_ms: list[int], vehicle: list[int], lat: float = 32.2) -> HistoryChunk:
    pts = points(ts_ms, lat)
    return HistoryChunk(
        points=pts,
        point_vehicle=np.array(vehicle),
        point_received_ms=pts["ts_ms"] + 50,
        events=no_events(),
        event_vehicle=np.zeros(0, dtype=np.int32),
    )


def test_history_is_written_chunk_by_chunk_and_once(db_url: str) -> None:
    """Vehicles are registered; a chunk overlapping stored points stores only the new ones;
    a re-run stores nothing."""
    vehicles = Vehicles(["tf", "tf"], ["h1", "h2"], [2.0, 3.0])
    chunks = [_chunk([T0, T0, T0 + 1], [0, 1, 0]), _chunk([T0 + 1, T0 + 2], [0, 1])]
    report = write_history(db_url, vehicles, chunks, TEST_RIDER_KEY)
    assert (report.vehicles, report.points_given, report.points_stored) == (2, 5, 4)
    assert report.duplicates == 1
    again = write_history(db_url, vehicles, chunks, TEST_RIDER_KEY)
    assert (again.points_stored, again.duplicates) == (0, 5)


def test_history_refuses_points_the_database_drops(db_url: str) -> None:
    """A history point the database neither stores nor holds stops the write with
    TelemetryWriteError, and its chunk is rolled back."""
    vehicles = Vehicles(["tf"], ["h1"], [2.0])
    write_history(db_url, vehicles, [_chunk([T0], [0])], TEST_RIDER_KEY)
    with psycopg.connect(db_url, autocommit=True) as c:
        drop_marked_rows(c, "always")
    with pytest.raises(TelemetryWriteError, match="neither stored nor holds 1 points"):
        write_history(
            db_url, vehicles, [_chunk([T0, T0 + 1], [0, 0], lat=DROPPED_LAT)], TEST_RIDER_KEY
        )
    with psycopg.connect(db_url) as c:
        assert _count(c) == 1
