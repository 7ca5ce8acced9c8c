"""The incremental trip builder against a real PostgreSQL: rows, idempotence, late points."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from emissions import PROFILES
from fleet import TripRules, build_trips, queries
from tests.fleet._reference import ordered_fixes
from tests.fleet.builders import (
    CITY_START,
    LAT0,
    at,
    insert_event,
    insert_fixes,
    parked,
    ride,
    store_city,
    vehicle_key,
)

RULES = TripRules()
PROFILE = PROFILES["ams-iii-c"]
# The city centre's charging station (zone charging_centre, inside city_centre).
CENTRE_CHARGER = (32.2380, -7.9540)


def trips(db: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    cur = db.execute("SELECT * FROM trips ORDER BY vehicle_key, start_ts")
    names = [c.name for c in cur.description or []]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def day(
    rides_at: list[float], lat: float = LAT0, lon: float = -7.9531, speed: float = 24.0
) -> list[dict[str, Any]]:
    """Parked, then a 10-minute ride north at ``speed`` km/h (4 km at the default) from each
    time, parked in between; SoC falls 10 points and the odometer counts each ride."""
    pts: list[dict[str, Any]] = []
    here = lat
    t = -600.0
    for start in rides_at:
        pts += parked(t, start, lat=here, lon=lon, soc_pct=80.0, odometer_km=100.0)
        leg = ride(start, 600, speed_kmh=speed, lat=here, lon=lon, soc_pct=80.0)
        for i, p in enumerate(leg):
            p["soc_pct"] = 80.0 - 10.0 * i / (len(leg) - 1)
            p["odometer_km"] = 100.0 + speed / 6 * i / (len(leg) - 1)
        pts += leg
        here = leg[-1]["lat"]
        t = start + 605
    pts += parked(t, t + 1200, lat=here, lon=lon, soc_pct=70.0, odometer_km=100 + speed / 6)
    return pts


def test_a_ride_becomes_one_trip_row_with_every_column(db_url: str, db: Any) -> None:
    """Parked, ride, parked: one trip with distance, times, zones, energy, odometer, speeds,
    CO2 under the profile and its version; the vehicle's state is parked where it stopped."""
    key = vehicle_key(db, battery_kwh=2.0)
    pts = day([0.0], lat=CENTRE_CHARGER[0], lon=CENTRE_CHARGER[1], speed=12.0)  # 2 km north
    insert_fixes(db, key, pts, received_at=at(1900))
    report = build_trips(db_url, RULES, PROFILE, now=at(2000))
    assert report.inserted == 1
    (trip,) = trips(db)
    assert trip["source"] == "motion"
    assert trip["start_ts"] == at(0)
    assert trip["end_ts"] == at(605)
    assert trip["distance_km"] == pytest.approx(2.0, rel=2e-3)
    assert trip["odometer_km"] == pytest.approx(2.0)
    assert trip["distance_flagged"] is False
    assert trip["duration_s"] == 605
    assert trip["max_speed_kmh"] == 12.0
    assert trip["avg_speed_kmh"] == pytest.approx(2.0 / 605 * 3600, rel=2e-3)
    assert trip["energy_kwh"] == pytest.approx(0.2)  # 10 % of 2 kWh
    assert trip["energy_measured"] is True
    assert trip["start_zone"] == "charging_centre"  # inside city_centre too: lowest sort wins
    assert trip["end_zone"] == "residential_north"
    assert trip["co2_baseline_kg"] == pytest.approx(trip["distance_km"] * 0.0924)
    assert trip["co2_avoided_kg"] == pytest.approx(
        trip["co2_baseline_kg"] - trip["co2_electricity_kg"]
    )
    assert trip["methodology"] == PROFILE.version
    assert trip["fixes_dropped"] == 0
    state = db.execute("SELECT state, lat, soc_pct, last_seen FROM vehicle_state").fetchone()
    assert state[0] == "parked"
    assert state[1] == pytest.approx(pts[-1]["lat"])
    assert state[2] == 70.0
    assert state[3] == at(pts[-1]["t_ms"] / 1000 - at(0).timestamp())


def test_a_second_run_changes_nothing(db_url: str, db: Any) -> None:
    """Running again over the same data (new points within the safety margin included)
    inserts, updates and deletes nothing: same trip ids, same built_at."""
    key = vehicle_key(db)
    insert_fixes(db, key, day([0.0, 2000.0]), received_at=at(5000))
    first = build_trips(db_url, RULES, PROFILE, now=at(6000))
    assert first.inserted == 2
    before = trips(db)
    again = build_trips(db_url, RULES, PROFILE, now=at(6000))
    assert again.vehicles == 1  # re-read: its rows arrived within the margin
    assert again.changed == 0
    assert trips(db) == before


def test_the_open_tail_is_written_once_it_closes(db_url: str, db: Any) -> None:
    """A ride still under way is not written; when the rest arrives, the builder rebuilds
    the tail and writes exactly the trip a single run over all the data writes."""
    key = vehicle_key(db)
    pts = day([0.0])
    head = [p for p in pts if p["t_ms"] < at(300).timestamp() * 1000]
    tail = [p for p in pts if p["t_ms"] >= at(300).timestamp() * 1000]
    insert_fixes(db, key, head, received_at=at(301))
    r1 = build_trips(db_url, RULES, PROFILE, now=at(302))
    assert r1.inserted == 0 and r1.trips_open == 1
    state = db.execute("SELECT state FROM vehicle_state").fetchone()
    assert state[0] == "riding"
    insert_fixes(db, key, tail, received_at=at(2000))
    r2 = build_trips(db_url, RULES, PROFILE, now=at(2001))
    assert r2.inserted == 1
    (trip,) = trips(db)
    assert trip["start_ts"] == at(0)
    assert trip["distance_km"] == pytest.approx(4.0, rel=2e-3)


def test_late_points_rebuild_exactly_the_trips_they_touch(db_url: str, db: Any) -> None:
    """Three rides, the middle one with a hole in its data (so it is two trips); the hole's
    points arrive late: the two halves become one trip, the first and last rides keep their
    ids and build times."""
    rules = TripRules(max_gap_s=120)
    key = vehicle_key(db)
    pts = day([0.0, 3000.0, 6000.0])
    lo, hi = at(3200).timestamp() * 1000, at(3330).timestamp() * 1000
    hole = [p for p in pts if lo <= p["t_ms"] < hi]
    first_batch = [p for p in pts if not lo <= p["t_ms"] < hi]
    insert_fixes(db, key, first_batch, received_at=at(9000))
    build_trips(db_url, rules, PROFILE, now=at(9100))
    before = trips(db)
    assert len(before) == 4
    insert_fixes(db, key, hole, received_at=at(9500))
    report = build_trips(db_url, rules, PROFILE, now=at(9600))
    after = trips(db)
    assert len(after) == 3
    assert report.inserted + report.updated == 1 and report.deleted == 1
    assert after[0]["trip_id"] == before[0]["trip_id"]
    assert after[0]["built_at"] == before[0]["built_at"]
    assert after[2]["trip_id"] == before[3]["trip_id"]
    assert after[2]["built_at"] == before[3]["built_at"]
    assert after[1]["distance_km"] == pytest.approx(4.0, rel=2e-3)


def test_rows_committed_out_of_received_order_are_not_missed(db_url: str, db: Any) -> None:
    """A second ingester commits rows whose received_at is a little earlier than what the
    builder already saw: the safety margin still picks them up."""
    key = vehicle_key(db)
    pts = day([0.0, 3000.0])
    cut = at(2500).timestamp() * 1000
    insert_fixes(db, key, [p for p in pts if p["t_ms"] < cut], received_at=at(5000))
    build_trips(db_url, RULES, PROFILE, now=at(5001))
    assert len(trips(db)) == 1
    late = at(5000) - timedelta(seconds=RULES.received_margin_s / 2)
    insert_fixes(db, key, [p for p in pts if p["t_ms"] >= cut], received_at=late)
    build_trips(db_url, RULES, PROFILE, now=at(5200))
    assert len(trips(db)) == 2


def test_ride_events_define_trips_with_rider(db_url: str, db: Any) -> None:
    """For a fleet sending ride events, trips take the events' times, ride id and rider."""
    key = vehicle_key(db)
    insert_fixes(db, key, day([0.0]), received_at=at(3000))
    insert_event(db, key, -3, "ride_start", at(3000), ride_id="R-1", rider="tok-9f2")
    insert_event(db, key, 607, "ride_end", at(3000), ride_id="R-1")
    build_trips(db_url, RULES, PROFILE, now=at(4000))
    (trip,) = trips(db)
    assert trip["source"] == "events"
    assert (trip["ride_id"], trip["rider"]) == ("R-1", "tok-9f2")
    assert (trip["start_ts"], trip["end_ts"]) == (at(-3), at(607))


def test_any_ride_id_is_stored_as_sent_and_a_rebuild_leaves_it(db_url: str, db: Any) -> None:
    """A ride id with a tab, a backslash, a newline and non-ASCII letters (a device's own
    text) survives the builder's text COPY as sent; a rebuild finds the row unchanged."""
    key = vehicle_key(db)
    odd = "R\t1\\n\nBenguérir\r"
    insert_fixes(db, key, day([0.0]), received_at=at(3000))
    insert_event(db, key, -3, "ride_start", at(3000), ride_id=odd, rider="tok-\\9f2")
    insert_event(db, key, 607, "ride_end", at(3000), ride_id=odd)
    build_trips(db_url, RULES, PROFILE, now=at(4000))
    (trip,) = trips(db)
    assert (trip["ride_id"], trip["rider"]) == (odd, "tok-\\9f2")
    assert build_trips(db_url, RULES, PROFILE, now=at(4000), rebuild=True).changed == 0


def test_dropped_fixes_are_recorded_per_reason(db_url: str, db: Any) -> None:
    """A spike and a poor-HDOP fix inside a ride are counted on the trip by reason."""
    key = vehicle_key(db)
    pts = day([0.0])
    riding = [i for i, p in enumerate(pts) if p["speed_kmh"] > 0]
    pts[riding[20]]["lat"] += 0.02
    pts[riding[40]]["hdop"] = 9.0
    insert_fixes(db, key, pts, received_at=at(3000))
    build_trips(db_url, RULES, PROFILE, now=at(4000))
    (trip,) = trips(db)
    assert trip["fixes_dropped"] == 2
    assert trip["dropped_by_reason"] == {"jump": 1, "hdop": 1}
    assert json.dumps(trip["dropped_by_reason"])


def test_vehicles_gone_silent_become_offline(db_url: str, db: Any) -> None:
    """A vehicle whose last fix is older than offline_after_s is offline."""
    key = vehicle_key(db)
    insert_fixes(db, key, day([0.0]), received_at=at(3000))
    build_trips(db_url, RULES, PROFILE, now=at(3000))
    build_trips(db_url, RULES, PROFILE, now=at(3000 + 24 * 3600))
    assert db.execute("SELECT state FROM vehicle_state").fetchone()[0] == "offline"


@pytest.mark.parametrize("analysed", [False, True])
def test_batches_of_vehicles_build_the_same_trips(db_url: str, db: Any, analysed: bool) -> None:
    """With max_fixes_per_batch smaller than one vehicle's fixes, the trips equal those of a
    single batch: built in time slices of all vehicles (no statistics yet), or, once the
    statistics show the rows stored vehicle after vehicle, in batches of whole vehicles."""
    for name in ("a", "b", "c"):
        key = vehicle_key(db, name=name)
        insert_fixes(db, key, day([0.0, 3000.0]), received_at=at(8000))
    if analysed:
        db.execute("ANALYZE telemetry")
    assert queries.stored_by_vehicle(db) is analysed
    small = TripRules(max_fixes_per_batch=10)
    report = build_trips(db_url, small, PROFILE, now=at(9000))
    assert report.vehicles == 3 and report.inserted == 6
    batched = trips(db)
    db.execute("TRUNCATE trips, trip_watermarks, vehicle_state")
    build_trips(db_url, RULES, PROFILE, now=at(9000))
    whole = trips(db)
    drop = ("trip_id", "built_at")
    assert [{k: v for k, v in t.items() if k not in drop} for t in batched] == [
        {k: v for k, v in t.items() if k not in drop} for t in whole
    ]


def test_the_read_ahead_path_builds_the_trips_of_the_ordered_read(
    db_url: str, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a stored simulated city (rides with events, parkings, charging, faults): the trips,
    vehicle states and battery health of one batch read row by row in database order (the
    builder's former read) equal, to the row, those of a build in time slices of 500 fixes
    of every vehicle (five times more slices than vehicles: trips, rides and battery runs
    cross slice edges), read as arrays by the reader threads ahead of the build;
    a rebuild in slices then changes nothing."""
    store_city(db_url)
    now = CITY_START + timedelta(days=4)
    with monkeypatch.context() as patch:
        patch.setattr(queries, "copy_fixes", ordered_fixes)
        build_trips(db_url, RULES, PROFILE, now=now)
    ordered = stored(db)
    states, health = derived(db)
    assert len(ordered) > 100 and any(t[RIDER] for t in ordered) and len(health) == 8

    db.execute("TRUNCATE trips, trip_watermarks, vehicle_state, battery_health")
    small = TripRules(max_fixes_per_batch=500)
    report = build_trips(db_url, small, PROFILE, now=now)
    fixes = db.execute("SELECT count(*) FROM telemetry").fetchone()[0]
    assert report.vehicles == 8 and report.fixes == fixes > 40 * 500
    assert report.trips_closed == len(ordered)
    assert stored(db) == ordered
    assert derived(db) == (states, health)
    again = build_trips(db_url, small, PROFILE, now=now, rebuild=True)
    assert again.changed == 0 and stored(db) == ordered and derived(db) == (states, health)
    # Analysed, the table has a row estimate: a rebuild takes each vehicle's first fix from
    # the primary key and the fixes from the estimate instead of scanning them all.
    db.execute("ANALYZE telemetry")
    assert queries.rebuild_arrivals(db) is not None
    again = build_trips(db_url, small, PROFILE, now=now, rebuild=True)
    assert again.changed == 0 and again.fixes == fixes
    assert stored(db) == ordered and derived(db) == (states, health)


def test_a_rebuild_without_a_scan_leaves_what_arrived_since_to_the_next_run(
    db_url: str, db: Any
) -> None:
    """A rebuild that kept the received watermarks builds the fixes that arrived since the
    last run, and the next run, which reads them again, finds its trips unchanged; a vehicle
    never built makes the rebuild scan."""
    key = vehicle_key(db)
    insert_fixes(db, key, day([0.0]), received_at=at(3000))
    build_trips(db_url, RULES, PROFILE, now=at(4000))
    insert_fixes(
        db, key, [dict(p, t_ms=p["t_ms"] + 5_000_000) for p in day([0.0])], received_at=at(9000)
    )
    db.execute("ANALYZE telemetry")
    assert queries.rebuild_arrivals(db) is not None
    report = build_trips(db_url, RULES, PROFILE, now=at(9500), rebuild=True)
    assert report.inserted == 1 and len(trips(db)) == 2
    after = build_trips(db_url, RULES, PROFILE, now=at(9500))
    assert after.vehicles == 1 and after.changed == 0
    insert_fixes(db, vehicle_key(db, name="new"), day([0.0]), received_at=at(9600))
    assert queries.rebuild_arrivals(db) is None


def test_a_sliced_build_stops_where_an_interrupted_one_left_off(
    db_url: str, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A build in time slices that fails halfway has written the trips of the slices it
    finished (each slice commits its own) and no more; the next run ends with the trips of
    one uninterrupted build."""
    store_city(db_url, days=2.0, vehicles=4)
    now = CITY_START + timedelta(days=3)
    build_trips(db_url, RULES, PROFILE, now=now)
    whole = stored(db)
    db.execute("TRUNCATE trips, trip_watermarks, vehicle_state, battery_health")

    small = TripRules(max_fixes_per_batch=500)
    real = queries.upsert_watermarks
    calls = []

    def fail_on_the_fourth(*args: Any, **kwargs: Any) -> None:
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("the builder died")
        real(*args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(queries, "upsert_watermarks", fail_on_the_fourth)
        with pytest.raises(RuntimeError):
            build_trips(db_url, small, PROFILE, now=now)
    partial = stored(db)
    assert 0 < len(partial) < len(whole) and all(t in whole for t in partial)
    build_trips(db_url, small, PROFILE, now=now)
    assert stored(db) == whole


def derived(db: psycopg.Connection[Any]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The vehicle states and battery health rows, without their write times."""
    states = db.execute(
        "SELECT vehicle_key, state, lat, lon, soc_pct, odometer_km, last_seen"
        " FROM vehicle_state ORDER BY vehicle_key"
    ).fetchall()
    cur = db.execute("SELECT * FROM battery_health ORDER BY vehicle_key")
    keep = [i for i, c in enumerate(cur.description or []) if c.name != "updated_at"]
    health = [tuple(row[i] for i in keep) for row in cur.fetchall()]
    return states, health


RIDER = queries.TRIP_COLUMNS.index("rider")


def stored(db: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    columns = ", ".join(queries.TRIP_COLUMNS)
    return db.execute(f"SELECT {columns} FROM trips ORDER BY vehicle_key, start_ts").fetchall()
