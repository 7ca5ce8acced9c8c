"""The service's cache of trip figures: served while trips are unchanged, dropped when any
statement writes the trips table (migration 0032's trigger)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

import httpx
import psycopg
from psycopg_pool import AsyncConnectionPool

from city.auth import Access
from city.cache import CachedFigures, FiguresCache
from tests.city.builders import t, trip, vehicle
from tests.city.conftest import OPERATOR

WINDOW = {"from": "2025-03-01T00:00:00Z", "to": "2025-03-02T00:00:00Z"}


def _trips(client: httpx.Client) -> int:
    return int(client.get("/api/v1/mobility/summary", params=WINDOW).json()["figures"]["trips"])


def test_figures_follow_every_write_to_trips(
    db: psycopg.Connection, make_client: Callable[..., httpx.Client]
) -> None:
    """With the counter read on every request, after an INSERT, an UPDATE, a DELETE and a
    TRUNCATE of trips the next answer shows each change at once."""
    client = make_client(cache_check_interval_s=0)
    v = vehicle(db)
    first = trip(db, v, t("2025-03-01T08:00"), km=5.0)
    assert _trips(client) == 1
    assert _trips(client) == 1

    trip(db, v, t("2025-03-01T09:00"), km=5.0)
    assert _trips(client) == 2

    db.execute("UPDATE trips SET distance_km = 50 WHERE trip_id = %s", (first,))
    km = client.get("/api/v1/mobility/summary", params=WINDOW).json()["figures"]["distance_km"]
    assert km == 55.0

    db.execute("DELETE FROM trips WHERE trip_id = %s", (first,))
    assert _trips(client) == 1

    db.execute("TRUNCATE trips")
    assert _trips(client) == 0


def test_cached_figures_are_at_most_the_check_interval_behind(
    db: psycopg.Connection, make_client: Callable[..., httpx.Client]
) -> None:
    """With a 0.5 s check interval, a trip written just after an answer may be missing from
    an answer within the interval, and is there once the interval has passed."""
    client = make_client(cache_check_interval_s=0.5)
    v = vehicle(db)
    trip(db, v, t("2025-03-01T08:00"))
    assert _trips(client) == 1
    trip(db, v, t("2025-03-01T09:00"))
    assert _trips(client) in (1, 2)  # within the interval: the cached answer is allowed
    time.sleep(0.6)
    assert _trips(client) == 2


def test_data_version_moves_once_per_statement(db: psycopg.Connection) -> None:
    """A multi-row INSERT bumps the version once (a statement-level trigger), not per row."""
    v = vehicle(db)
    before = db.execute("SELECT version FROM city_data_version").fetchone()
    db.execute(
        "INSERT INTO trips (vehicle_key, source, start_ts, end_ts, start_lat, start_lon,"
        " end_lat, end_lon, distance_km, duration_s, avg_speed_kmh, max_speed_kmh, fixes_used)"
        " SELECT %s, 'motion', ts, ts, 32, -7, 32, -7, 1, 0, 0, 0, 2"
        " FROM generate_series(timestamptz '2025-01-01', '2025-01-02', interval '1 hour') ts",
        (v,),
    )
    after = db.execute("SELECT version FROM city_data_version").fetchone()
    assert before is not None and after is not None
    assert after[0] == before[0] + 1


def test_without_kept_answers_the_figures_are_the_same(
    db: psycopg.Connection, make_client: Callable[..., httpx.Client]
) -> None:
    """cache_entries=0 keeps no answer (each is computed again from the trip index); the
    answers equal the cached path's."""
    v = vehicle(db)
    for hour, rider in ((8, "a"), (9, "b"), (10, "a")):
        trip(db, v, t(f"2025-03-01T{hour:02d}:00"), km=float(hour), rider=rider)
    params = {**WINDOW, "bucket": "day"}
    cached, plain = make_client(), make_client(cache_entries=0)
    for url in ("/api/v1/mobility/summary", "/api/v1/mobility/timeseries", "/api/v1/emissions"):
        assert cached.get(url, params=params).json() == plain.get(url, params=params).json()
    summary = plain.get("/api/v1/mobility/summary", params=WINDOW, headers=OPERATOR).json()
    assert summary["figures"]["riders"] == 2


def test_kept_figures_are_keyed_by_the_callers_access() -> None:
    """A value kept for a caller of one access is found again by that access only: a caller
    of other access gets its own computation (no figure crosses from one to the other)."""
    cache = FiguresCache("postgresql://unused", check_interval_s=3600)
    cache.saw(3, time.monotonic())
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool("postgresql://unused", open=False)

    async def ask(access: Access) -> str:
        async with contextlib.AsyncExitStack() as stack:
            figs = CachedFigures(pool, cache, stack, access)

            async def compute() -> str:
                return f"for {access}"

            value: str = await figs.cached(("summary", "window"), compute)
            return value

    async def run() -> list[str]:
        return [await ask(a) for a in ("anonymous", "read", "anonymous", "write", "read")]

    assert asyncio.run(run()) == [
        "for anonymous",
        "for read",
        "for anonymous",
        "for write",
        "for read",
    ]
    assert cache.hits == 2
    assert {key[0] for key in cache.entries} == {"anonymous", "read", "write"}
