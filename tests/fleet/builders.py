"""Small builders of test data for the trip builder: one fix, one track, a synthetic fleet.

``point(t=…, lat=…, speed_kmh=…)`` builds a fix (t in seconds from T0); ``track(points)`` a
``Track``; ``ride(...)`` a straight ride as a list of fixes; ``synthetic_fleet(n, seed)`` a
seeded, vectorised fleet of rides, parkings, stops at lights, spikes, bad HDOP and gaps
(used by the property tests and the benchmark); ``store_city(db_url)`` a few simulated days
of the city, stored as the backfill stores them.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

import numpy as np

import simulators
from fleet import Track
from pogo.backfill import backfill
from tests.fixtures.settings import TEST_RIDER_KEY

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
T0_MS = int(T0.timestamp() * 1000)
LAT0, LON0 = 32.2361, -7.9531  # Benguerir centre
KM_PER_DEG_LAT = 111.195


def point(
    t: float,
    lat: float = LAT0,
    lon: float = LON0,
    speed_kmh: float | None = 0.0,
    hdop: float | None = 0.9,
    soc_pct: float | None = None,
    odometer_km: float | None = None,
    vehicle: int = 1,
) -> dict[str, Any]:
    """One fix; ``t`` in seconds after T0."""
    return {
        "vehicle": vehicle,
        "t_ms": T0_MS + round(t * 1000),
        "lat": lat,
        "lon": lon,
        "speed_kmh": np.nan if speed_kmh is None else speed_kmh,
        "hdop": np.nan if hdop is None else hdop,
        "soc_pct": np.nan if soc_pct is None else soc_pct,
        "odometer_km": np.nan if odometer_km is None else odometer_km,
    }


def track(points: list[dict[str, Any]]) -> Track:
    """A ``Track`` of the given fixes, sorted by vehicle and time."""
    pts = sorted(points, key=lambda p: (p["vehicle"], p["t_ms"]))
    cols = {k: [p[k] for p in pts] for k in pts[0]} if pts else {}
    if not pts:
        return Track.from_arrays([], [], [], [])
    return Track.from_arrays(**cols)


def parked(
    t0: float, t1: float, every: float = 30.0, lat: float = LAT0, lon: float = LON0, **kw: Any
) -> list[dict[str, Any]]:
    """Fixes of a parked vehicle from t0 to t1 (s), every ``every`` s."""
    return [point(t=t, lat=lat, lon=lon, speed_kmh=0.0, **kw) for t in np.arange(t0, t1, every)]


def ride(
    t0: float,
    seconds: float,
    speed_kmh: float = 20.0,
    every: float = 5.0,
    lat: float = LAT0,
    lon: float = LON0,
    north: bool = True,
    **kw: Any,
) -> list[dict[str, Any]]:
    """A straight ride north (or east) at constant speed, fixes every ``every`` s, from
    ``(lat, lon)``, including a fix at its very start and end."""
    times = np.arange(0.0, seconds + 1e-9, every)
    km = speed_kmh * times / 3600.0
    deg = km / KM_PER_DEG_LAT
    out = []
    for tt, d in zip(times, deg, strict=True):
        la = lat + d if north else lat
        lo = lon if north else lon + d / np.cos(np.radians(lat))
        out.append(point(t=t0 + tt, lat=la, lon=lo, speed_kmh=speed_kmh, **kw))
    return out


def synthetic_fleet(n_points: int, n_vehicles: int = 200, seed: int = 7) -> Track:
    """A seeded synthetic fleet: rides, lights, parkings, jitter, spikes, bad HDOP, gaps.

    Fixes every 5 s; blocks of riding (60-300 fixes), stops at lights (3-10 fixes) and
    parkings (30-200 fixes, with ~5 m jitter); 0.2 % of fixes are 1 km spikes, 0.5 % have
    HDOP 8, 0.05 % of steps are 15-minute gaps, 1 % of fixes have no speed.
    """
    rng = np.random.default_rng(seed)
    n = int(n_points)
    nb = n // 40 + 10
    kind = rng.choice(3, size=nb, p=[0.45, 0.2, 0.35])  # 0 ride, 1 light, 2 parking
    length = np.where(
        kind == 0,
        rng.integers(60, 300, nb),
        np.where(kind == 1, rng.integers(3, 10, nb), rng.integers(30, 200, nb)),
    )
    block = np.repeat(np.arange(nb), length)[:n]
    state = kind[block]
    vehicle = (np.arange(n) * n_vehicles // n).astype(np.int64) + 1
    riding = state == 0
    speed = np.where(riding, rng.uniform(12, 40, nb)[block] + rng.normal(0, 2, n), 0.0)
    speed = np.clip(speed, 0, None)
    heading = rng.uniform(0, 2 * np.pi, nb)[block] + rng.normal(0, 0.05, n)
    dt = np.full(n, 5.0)
    gap = rng.random(n) < 0.0005
    dt[gap] = 900.0
    step = np.where(riding, speed * dt / 3600.0, 0.0) / KM_PER_DEG_LAT
    dlat = step * np.cos(heading)
    dlon = step * np.sin(heading) / np.cos(np.radians(LAT0))
    lat = LAT0 + np.cumsum(dlat)
    lon = LON0 + np.cumsum(dlon)
    # Bring every vehicle back near the centre (tracks wander otherwise).
    starts = np.searchsorted(vehicle, np.unique(vehicle))
    lat -= np.repeat(lat[starts] - LAT0, np.diff(np.append(starts, n)))
    lon -= np.repeat(lon[starts] - LON0, np.diff(np.append(starts, n)))
    still = ~riding
    lat[still] += rng.normal(0, 5e-5, still.sum())
    lon[still] += rng.normal(0, 5e-5, still.sum())
    spike = rng.random(n) < 0.002
    lat[spike] += 0.01
    hdop = np.where(rng.random(n) < 0.005, 8.0, rng.uniform(0.6, 1.6, n))
    speed[rng.random(n) < 0.01] = np.nan
    t_ms = T0_MS + np.cumsum(dt * 1000).astype(np.int64)
    soc = np.clip(95 - np.cumsum(step) * 3, 5, 100)
    return Track.from_arrays(
        vehicle, t_ms, lat, lon, speed, hdop, soc, 1000 + np.cumsum(step) * KM_PER_DEG_LAT
    )


def vehicle_key(
    conn: Any, name: str = "m001", fleet: str = "pogo", battery_kwh: float | None = 2.0
) -> int:
    """The key of vehicle ``fleet/name``, created when absent."""
    row = conn.execute(
        "INSERT INTO vehicles (fleet, vehicle, battery_kwh) VALUES (%s, %s, %s) "
        "ON CONFLICT (fleet, vehicle) DO UPDATE SET battery_kwh = excluded.battery_kwh "
        "RETURNING vehicle_key",
        (fleet, name, battery_kwh),
    ).fetchone()
    return int(row[0])


def insert_fixes(conn: Any, key: int, points: list[dict[str, Any]], received_at: datetime) -> None:
    """Store fixes of vehicle ``key`` as the ingester would, all received at ``received_at``."""

    def val(x: Any) -> Any:
        return None if x is None or (isinstance(x, float) and np.isnan(x)) else x

    with (
        conn.cursor() as cur,
        cur.copy(
            "COPY telemetry (vehicle_key, ts, lat, lon, speed_kmh, hdop, soc_pct, odometer_km, "
            "received_at) FROM STDIN"
        ) as copy,
    ):
        for p in points:
            copy.write_row(
                (
                    key,
                    datetime.fromtimestamp(p["t_ms"] / 1000, UTC),
                    p["lat"],
                    p["lon"],
                    val(p["speed_kmh"]),
                    val(p["hdop"]),
                    val(p["soc_pct"]),
                    val(p["odometer_km"]),
                    received_at,
                )
            )


def insert_event(
    conn: Any,
    key: int,
    t: float,
    kind: str,
    received_at: datetime,
    ride_id: str | None = None,
    rider: str | None = None,
) -> None:
    """Store a vehicle event at ``t`` seconds after T0."""
    conn.execute(
        "INSERT INTO vehicle_events (vehicle_key, ts, type, ride_id, rider, received_at) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        (
            key,
            datetime.fromtimestamp((T0_MS + round(t * 1000)) / 1000, UTC),
            kind,
            ride_id,
            rider,
            received_at,
        ),
    )


CITY_START = datetime(2025, 3, 3, tzinfo=UTC)


@functools.cache
def city_simulation(days: float = 3.0, vehicles: int = 8) -> simulators.Simulation:
    """A few days of the Benguerir scenario (rides, parkings, charging, faults: fixes
    without speed, HDOP or SoC, spikes, gaps), simulated once per test session."""
    return simulators.simulate(
        simulators.benguerir(seed=11, days=days, vehicles=vehicles, start=CITY_START)
    )


def store_city(db_url: str, days: float = 3.0, vehicles: int = 8) -> simulators.Simulation:
    """Store :func:`city_simulation` as the backfill does (telemetry, events, vehicles)."""
    sim = city_simulation(days, vehicles)
    backfill(db_url, sim, TEST_RIDER_KEY)
    return sim


def at(t: float) -> datetime:
    """T0 + t seconds, as a UTC datetime."""
    return datetime.fromtimestamp((T0_MS + round(t * 1000)) / 1000, UTC)
