"""Two simulated years of the Benguerir scenario in a database of their own, built once.

The database ``pogo_bench_service_<version>`` on the benchmark server is reused while it holds
a complete data set (a ``bench_meta`` row written last); delete it to rebuild. Building it:

1. ``simulators.simulate(simulators.benguerir(seed=7, days=730))`` and
   ``pogo.backfill.backfill(dsn, sim, key)``: about 24 million telemetry points and the ride events,
   written with COPY.
2. Trips: by the trip builder when ``fleet`` ships one; otherwise (and the report says so)
   from the simulator's ground truth, one trips row per true ride, CO2 per trip from
   ``emissions.per_trip`` under the default profile.
"""

from __future__ import annotations

import importlib
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import psycopg
from psycopg import sql

import emissions
import simulators
from fleet import upgrade
from fleet.riders import RiderKey
from fleet.store import StoreOptions
from pogo.backfill import backfill

VERSION = "v1"
BENCH_RIDER_KEY = RiderKey(b"benchmark-rider-key-not-a-secret-0123")
START = datetime(2024, 1, 1, tzinfo=UTC)
END = datetime(2026, 1, 1, tzinfo=UTC)  # 731 days: the scenario's two years and a day


@dataclass(frozen=True)
class Dataset:
    dsn: str
    trips: int
    points: int
    trips_source: str
    build_seconds: float


def _admin_url() -> str:
    return os.environ.get("POGO_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _with_db(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def _existing(dsn: str) -> Dataset | None:
    try:
        with psycopg.connect(dsn) as conn:
            row = conn.execute(
                "SELECT trips, points, trips_source, build_seconds FROM bench_meta"
            ).fetchone()
    except (psycopg.OperationalError, psycopg.errors.UndefinedTable):
        return None
    if row is None:
        return None
    return Dataset(dsn, int(row[0]), int(row[1]), str(row[2]), float(row[3]))


def _trip_builder() -> Any:
    """The trip builder's entry point, if ``fleet`` ships one."""
    return getattr(importlib.import_module("fleet"), "build_trips", None)


def _done(dsn: str, step: str) -> bool:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_progress (step text PRIMARY KEY)")
        return (
            conn.execute("SELECT 1 FROM bench_progress WHERE step = %s", (step,)).fetchone()
            is not None
        )


def _mark(dsn: str, step: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        # The database may have been created after _done() looked: the table may be missing.
        conn.execute("CREATE TABLE IF NOT EXISTS bench_progress (step text PRIMARY KEY)")
        conn.execute("INSERT INTO bench_progress VALUES (%s) ON CONFLICT DO NOTHING", (step,))


_INSERT_TRUTH = sql.SQL(
    """
    INSERT INTO trips (vehicle_key, ride_id, rider, source, start_ts, end_ts, start_lat,
        start_lon, end_lat, end_lon, start_zone, end_zone, distance_km, duration_s,
        avg_speed_kmh, max_speed_kmh, energy_kwh, fixes_used, co2_baseline_kg,
        co2_electricity_kg, co2_avoided_kg, methodology)
    SELECT v.vehicle_key, s.ride_id, s.rider, 'events', s.start_ts, s.end_ts, s.start_lat,
        s.start_lon, s.end_lat, s.end_lon, z1.zone_id, z2.zone_id, s.distance_km,
        extract(epoch FROM s.end_ts - s.start_ts),
        s.distance_km / greatest(extract(epoch FROM s.end_ts - s.start_ts), 1) * 3600,
        s.distance_km / greatest(extract(epoch FROM s.end_ts - s.start_ts), 1) * 3600 * 1.6,
        s.energy_kwh, 0, s.base, s.elec, s.avoided, %(methodology)s
    FROM truth_stage s
    JOIN vehicles v ON v.fleet = s.fleet AND v.vehicle = s.vehicle
    LEFT JOIN zones z1 ON z1.zone_id = s.start_zone
    LEFT JOIN zones z2 ON z2.zone_id = s.end_zone
    ON CONFLICT (vehicle_key, start_ts) DO NOTHING
    """
)


def _trips_from_truth(dsn: str, truth: np.ndarray) -> None:
    profile = emissions.get_profile(emissions.DEFAULT_PROFILE)
    co2 = emissions.per_trip(truth["distance_km"], truth["energy_kwh"], profile)
    with psycopg.connect(dsn) as conn:
        conn.execute(
            """CREATE TEMP TABLE truth_stage (fleet text, vehicle text, ride_id text,
            rider text, start_ts timestamptz, end_ts timestamptz, start_lat float8,
            start_lon float8, end_lat float8, end_lon float8, start_zone text, end_zone text,
            distance_km float8, energy_kwh float8, base float8, elec float8, avoided float8)"""
        )
        with conn.cursor().copy("COPY truth_stage FROM STDIN") as copy:
            for i, row in enumerate(truth):
                copy.write_row(
                    (
                        str(row["fleet"]),
                        str(row["vehicle"]),
                        str(row["ride_id"]) or None,
                        str(row["rider"]) or None,
                        row["start_ts"].astype(datetime).replace(tzinfo=UTC),
                        row["end_ts"].astype(datetime).replace(tzinfo=UTC),
                        float(row["start_lat"]),
                        float(row["start_lon"]),
                        float(row["end_lat"]),
                        float(row["end_lon"]),
                        str(row["start_zone"]) or None,
                        str(row["end_zone"]) or None,
                        float(row["distance_km"]),
                        None if np.isnan(row["energy_kwh"]) else float(row["energy_kwh"]),
                        float(co2.baseline_kg[i]),
                        float(co2.electricity_kg[i]),
                        float(co2.avoided_kg[i]),
                    )
                )
        conn.execute(_INSERT_TRUTH, {"methodology": profile.version})


def ensure_dataset(log: Any = print) -> Dataset:
    """The two-year data set, built on first use (several minutes), reused afterwards."""
    admin = _admin_url()
    name = f"pogo_bench_service_{VERSION}"
    dsn = _with_db(admin, name)
    found = _existing(dsn)
    if found is not None:
        # Migrations that landed since it was built (the service checks); raw rider tokens of
        # an older data set become pseudonyms.
        upgrade(dsn, StoreOptions(rider_key=BENCH_RIDER_KEY))
        return found
    # One builder per server: a second benchmark started meanwhile waits here, then reuses the
    # data set (without this it truncated the trips the first one was building).
    with psycopg.connect(admin, autocommit=True) as lock:
        lock.execute("SELECT pg_advisory_lock(hashtext(%s))", (name,))
        found = _existing(dsn)
        return found if found is not None else _build(admin, name, dsn, log)


def _build(admin: str, name: str, dsn: str, log: Any) -> Dataset:
    began = time.perf_counter()
    try:
        fresh = not _done(dsn, "backfill")
    except psycopg.OperationalError:
        fresh = True
    sim = simulators.simulate(simulators.benguerir(seed=7, days=730, start=START))
    if fresh:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        upgrade(dsn, StoreOptions(rider_key=BENCH_RIDER_KEY))
        log(f"simulated {len(sim.truth):,} rides; backfilling telemetry (minutes)...")
        counts = backfill(dsn, sim, BENCH_RIDER_KEY)
        log(f"backfilled {counts.points_inserted:,} points in {counts.seconds:.0f} s")
        _mark(dsn, "backfill")
    # Migrations that landed since the data set was started (raw rider tokens of an older
    # data set become pseudonyms).
    upgrade(dsn, StoreOptions(rider_key=BENCH_RIDER_KEY))
    builder = _trip_builder()
    if builder is not None:
        log("building trips with the trip builder (minutes)...")
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("TRUNCATE trips")
            conn.execute("DELETE FROM trip_watermarks")
        report = builder(
            dsn, None, emissions.get_profile(emissions.DEFAULT_PROFILE), now=END + timedelta(days=1)
        )
        log(f"trip builder: {report}")
        source = "trip builder"
    else:
        _trips_from_truth(dsn, sim.truth)
        source = "simulator ground truth (no trip builder in fleet yet)"
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT count(*) FROM telemetry").fetchone()
        points = int(row[0]) if row else 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        trips = conn.execute("SELECT count(*) FROM trips").fetchone()
        conn.execute(
            "CREATE TABLE bench_meta (trips bigint, points bigint, trips_source text,"
            " build_seconds float8)"
        )
        seconds = time.perf_counter() - began
        conn.execute(
            "INSERT INTO bench_meta VALUES (%s, %s, %s, %s)",
            (trips[0] if trips else 0, points, source, seconds),
        )
    found = _existing(dsn)
    assert found is not None
    return found
