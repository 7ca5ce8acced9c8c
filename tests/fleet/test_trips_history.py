"""Imported history reaches trips, and ``rebuild`` recomputes every trip: after either, the
stored trips are exactly those of one build over everything."""

from __future__ import annotations

from typing import Any

import numpy as np
import psycopg

from emissions import PROFILES
from fleet import queries
from fleet.rules import TripRules
from fleet.telemetry import Events, HistoryChunk, Vehicles, write_history
from fleet.trips import build_trips
from tests.fixtures.settings import TEST_RIDER_KEY
from tests.fleet.builders import at, insert_fixes, vehicle_key
from tests.fleet.test_trips import day
from wire.point import empty_points

RULES = TripRules()
PROFILE = PROFILES["ams-iii-c"]
COLUMNS = ", ".join(queries.TRIP_COLUMNS)


def stored_trips(db: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    return db.execute(f"SELECT {COLUMNS} FROM trips ORDER BY vehicle_key, start_ts").fetchall()


def one_build_over_everything(
    db_url: str, db: psycopg.Connection[Any], rules: TripRules = RULES
) -> list[tuple[Any, ...]]:
    """The trips a first build over all stored telemetry gives (state reset, then rebuilt)."""
    db.execute("DELETE FROM trips")
    db.execute("DELETE FROM trip_watermarks")
    db.execute("DELETE FROM vehicle_state")
    build_trips(db_url, rules, PROFILE, now=at(24_200))
    return stored_trips(db)


def shifted(points: list[dict[str, Any]], seconds: float) -> list[dict[str, Any]]:
    return [{**p, "t_ms": p["t_ms"] + round(seconds * 1000)} for p in points]


def test_imported_history_reaches_the_next_build(db_url: str, db: Any) -> None:
    """Live telemetry is built; then history older than it is imported with its own (old)
    received_at. Without the import's record the next build never looks at it; with it
    (what the backfill writes), the next build gives exactly the trips of one build over
    everything."""
    key = vehicle_key(db)
    insert_fixes(db, key, shifted(day([0.0, 3000.0]), 40_000), received_at=at(50_000))
    build_trips(db_url, RULES, PROFILE, now=at(60_000), max_age_s=3 * 86_400)
    live_only = stored_trips(db)
    assert len(live_only) == 2

    history = day([0.0, 3000.0, 6000.0])
    insert_fixes(db, key, history, received_at=at(9_000))  # imported: received long ago
    build_trips(db_url, RULES, PROFILE, now=at(60_100), max_age_s=3 * 86_400)
    assert stored_trips(db) == live_only  # the builder's watermark is past its received_at

    with db.transaction():
        queries.record_imports(
            db, [key], [min(p["t_ms"] for p in history)], [max(p["t_ms"] for p in history)]
        )
    build_trips(db_url, RULES, PROFILE, now=at(60_200), max_age_s=3 * 86_400)
    incremental = stored_trips(db)
    assert len(incremental) == 5
    assert incremental == one_build_over_everything(db_url, db)
    again = build_trips(db_url, RULES, PROFILE, now=at(60_300), max_age_s=3 * 86_400)
    assert again.changed == 0  # the import is consumed once


def test_rebuild_recomputes_every_trip_under_new_rules(db_url: str, db: Any) -> None:
    """After a change of trip rules an ordinary build recomputes only around new data; with
    ``rebuild=True`` the stored trips are exactly those of one build over everything under the
    new rules, and an ordinary build after it changes nothing."""
    key = vehicle_key(db)
    insert_fixes(db, key, day([0.0, 1000.0]), received_at=at(2_500))  # 395 s parked between
    build_trips(db_url, RULES, PROFILE, now=at(4_000))
    insert_fixes(db, key, shifted(day([0.0]), 20_000), received_at=at(22_000))
    build_trips(db_url, RULES, PROFILE, now=at(24_000))
    assert len(stored_trips(db)) == 3
    longer_parking = TripRules(min_parking_s=480.0)  # the first two rides become one trip
    build_trips(db_url, longer_parking, PROFILE, now=at(24_100))
    ordinary = stored_trips(db)
    assert len(ordinary) == 3  # the first day was not looked at again
    report = build_trips(db_url, longer_parking, PROFILE, now=at(24_200), rebuild=True)
    rebuilt = stored_trips(db)
    assert len(rebuilt) == 2 and report.changed > 0
    assert build_trips(db_url, longer_parking, PROFILE, now=at(24_300)).changed == 0
    assert rebuilt == one_build_over_everything(db_url, db, longer_parking)


def test_a_backfill_reaches_the_next_build(db_url: str, db: Any) -> None:
    """History imported through the store's write path (the backfill's) with its own old
    received_at: the next build gives exactly the trips of one build over everything."""
    key = vehicle_key(db)  # pogo/m001, battery 2.0 kWh
    insert_fixes(db, key, shifted(day([0.0, 3000.0]), 40_000), received_at=at(50_000))
    build_trips(db_url, RULES, PROFILE, now=at(60_000), max_age_s=3 * 86_400)
    history = day([0.0, 3000.0, 6000.0])
    pts = empty_points(len(history))
    for name in ("lat", "lon", "speed_kmh", "hdop", "soc_pct", "odometer_km"):
        pts[name] = [np.nan if p[name] is None else p[name] for p in history]
    pts["ts_ms"] = [p["t_ms"] for p in history]
    chunk = HistoryChunk(
        points=pts, point_vehicle=np.zeros(len(pts), np.int64),
        point_received_ms=pts["ts_ms"] + 500, events=Events([], [], [], [], [], []),
        event_vehicle=np.zeros(0, np.int64),
    )  # fmt: skip
    report = write_history(db_url, Vehicles(["pogo"], ["m001"], [2.0]), [chunk], TEST_RIDER_KEY)
    assert report.points_stored == len(history)
    build_trips(db_url, RULES, PROFILE, now=at(60_100), max_age_s=3 * 86_400)
    incremental = stored_trips(db)
    assert len(incremental) == 5
    assert incremental == one_build_over_everything(db_url, db)
    build_trips(db_url, RULES, PROFILE, now=at(60_200), rebuild=True)
    assert stored_trips(db) == incremental
    passed = db.execute(  # the rebuild's watermark passed the import (kept to the ms)
        "SELECT bool_and(w.received_until >= date_trunc('milliseconds', i.imported_at))"
        " FROM telemetry_imports i JOIN trip_watermarks w USING (vehicle_key)"
    ).fetchone()
    assert passed == (True,)
