"""Small SQL builders for the city service's tests: one row at a time, sensible defaults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import psycopg

from city.tripindex import ADDITIVE, TripIndex

Conn = psycopg.Connection[Any]


def t(text: str) -> datetime:
    """``t("2025-03-01T08:00")`` -> an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def vehicle(
    conn: Conn, vehicle: str = "m001", fleet: str = "benguerir", battery_kwh: float = 2.0
) -> int:
    row = conn.execute(
        "INSERT INTO vehicles (fleet, vehicle, battery_kwh, first_seen)"
        " VALUES (%s, %s, %s, %s) RETURNING vehicle_key",
        (fleet, vehicle, battery_kwh, t("2025-01-01T00:00")),
    ).fetchone()
    assert row is not None
    return int(row[0])


def zone(conn: Conn, zone_id: str, name: str | None = None, kind: str = "centre") -> str:
    conn.execute(
        "INSERT INTO zones (zone_id, name, kind, polygon_wkt) VALUES (%s, %s, %s, %s)",
        (
            zone_id,
            name or zone_id,
            kind,
            "POLYGON((-7.96 32.23,-7.94 32.23,-7.94 32.25,-7.96 32.23))",
        ),
    )
    return zone_id


def trip(
    conn: Conn,
    vehicle_key: int,
    start: datetime,
    km: float = 4.6,
    minutes: float = 15.0,
    rider: str | None = "rider-1",
    energy_kwh: float | None = 0.27,
    co2_avoided_kg: float | None = None,
    start_zone: str | None = None,
    end_zone: str | None = None,
    methodology: str | None = "test-v1",
    harsh: tuple[int, int] | None = None,
) -> int:
    """A trip; CO2 defaults to 186 g/km baseline and 36 g/km electricity (150 g/km net);
    ``harsh``: its (harsh braking, harsh acceleration) counts, None before they were counted."""
    avoided = 0.150 * km if co2_avoided_kg is None else co2_avoided_kg
    baseline = 0.186 * km
    row = conn.execute(
        """
        INSERT INTO trips (vehicle_key, rider, source, start_ts, end_ts, start_lat, start_lon,
            end_lat, end_lon, start_zone, end_zone, distance_km, duration_s, avg_speed_kmh,
            max_speed_kmh, energy_kwh, fixes_used, co2_baseline_kg, co2_electricity_kg,
            co2_avoided_kg, methodology, harsh_braking, harsh_acceleration)
        VALUES (%s, %s, 'motion', %s, %s, 32.24, -7.95, 32.25, -7.94, %s, %s, %s, %s, %s, %s,
            %s, 30, %s, %s, %s, %s, %s, %s)
        RETURNING trip_id
        """,
        (
            vehicle_key,
            rider,
            start,
            start + timedelta(minutes=minutes),
            start_zone,
            end_zone,
            km,
            minutes * 60,
            km / (minutes / 60),
            35.0,
            energy_kwh,
            baseline,
            baseline - avoided,
            avoided,
            methodology,
            *(harsh or (None, None)),
        ),
    ).fetchone()
    assert row is not None
    return int(row[0])


def state(
    conn: Conn,
    vehicle_key: int,
    state: str = "parked",
    soc_pct: float = 80.0,
    last_seen: datetime | None = None,
    lat: float = 32.24,
    lon: float = -7.95,
) -> None:
    conn.execute(
        "INSERT INTO vehicle_state (vehicle_key, state, lat, lon, soc_pct, odometer_km,"
        " last_seen) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (vehicle_key, state, lat, lon, soc_pct, 1234.5, last_seen or t("2025-03-01T12:00")),
    )


def point(
    conn: Conn,
    vehicle_key: int,
    ts: datetime,
    lat: float = 32.24,
    lon: float = -7.95,
    soc_pct: float | None = 70.0,
) -> None:
    conn.execute(
        "INSERT INTO telemetry (vehicle_key, ts, lat, lon, soc_pct, received_at)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        (vehicle_key, ts, lat, lon, soc_pct, ts),
    )


def alert(
    conn: Conn,
    vehicle_key: int,
    kind: str,
    opened: datetime,
    cleared: datetime | None = None,
    zone_id: str | None = None,
    value: float | None = None,
    threshold: float | None = None,
) -> int:
    """A fleet alert, open unless ``cleared`` is given."""
    row = conn.execute(
        "INSERT INTO alerts (vehicle_key, kind, zone_id, opened_at, cleared_at, value, threshold)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING alert_id",
        (vehicle_key, kind, zone_id, opened, cleared, value, threshold),
    ).fetchone()
    assert row is not None
    return int(row[0])


def battery_health(
    conn: Conn,
    vehicle_key: int,
    capacity_kwh: float | None,
    rated_kwh: float = 2.0,
    stderr_kwh: float | None = 0.01,
    samples: int = 40,
) -> None:
    """A vehicle's battery-health row as the trip builder writes it (sums left at zero)."""
    conn.execute(
        """
        INSERT INTO battery_health (vehicle_key, sampled_until, samples, xx_y, xy_y, yy_y,
            xx_x, xy_x, yy_x, var_x, var_y, capacity_kwh, stderr_kwh, rated_kwh, method)
        VALUES (%s, %s, %s, 0, 0, 0, 0, 0, 0, 0, 0, %s, %s, %s, 'awtls-plett-2011')
        """,
        (vehicle_key, t("2025-03-01T00:00"), samples, capacity_kwh, stderr_kwh, rated_kwh),
    )


def _previous(keys: np.ndarray) -> np.ndarray:
    """Each position's previous position with the same key, -1 for the first."""
    order = np.lexsort((np.arange(keys.size), keys))
    previous = np.full(keys.size, -1, dtype=np.int32)
    same = keys[order][1:] == keys[order][:-1]
    previous[order[1:][same]] = order[:-1][same]
    return previous


def trip_index(
    rng: np.random.Generator, trips: int, start: datetime, days: int, version: int = 1
) -> TripIndex:
    """An in-memory trip index (no database) of ``trips`` random trips starting in the
    ``days`` after ``start``: 7 vehicles, 50 riders (a tenth of the trips without one), a
    tenth without energy (their kWh NaN, as NULL is loaded), two methodology versions."""
    t0 = (start - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    start_us = np.sort(rng.integers(t0, t0 + days * 86_400_000_000, trips))
    km = rng.uniform(0.3, 15.0, trips)
    without = rng.random(trips) < 0.1
    additive = {name: rng.uniform(0.0, 2.0, trips) for name in ADDITIVE}
    additive.update(
        distance_km=km,
        energy_kwh=np.where(without, np.nan, km * rng.uniform(0.03, 0.08, trips)),
        trips_without_energy=without.astype(np.float64),
        distance_km_without_energy=np.where(without, km, 0.0),
    )
    riders = np.where(rng.random(trips) < 0.1, -1, rng.integers(0, 50, trips))
    prev_rider = np.where(riders < 0, trips, _previous(riders)).astype(np.int32)
    return TripIndex.build(
        version=version,
        start_us=start_us.astype(np.int64),
        additive=additive,
        prev_rider=prev_rider,
        prev_vehicle=_previous(rng.integers(0, 7, trips)),
        methodology=rng.integers(0, 2, trips).astype(np.int64),
        methodology_names=["test-v1", "test-v2"],
    )
