"""The reference: the summary's figures computed from the raw telemetry and ride events (what
the service would do without the trip builder's trips table)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

RAW_SUMMARY = sql.SQL(
    """
    WITH days AS (
        SELECT vehicle_key,
               max(odometer_km) - min(odometer_km) AS km,
               greatest(max(soc_pct) - min(soc_pct), 0) AS soc_drop_pct
        FROM telemetry
        WHERE ts >= %(start)s AND ts < %(end)s
        GROUP BY vehicle_key, date_trunc('day', ts, 'UTC')
    ),
    rides AS (
        SELECT count(*) FILTER (WHERE type = 'ride_start') AS trips,
               count(DISTINCT rider) AS riders
        FROM vehicle_events
        WHERE ts >= %(start)s AND ts < %(end)s
    )
    SELECT rides.trips, rides.riders,
           (SELECT count(DISTINCT vehicle_key) FROM days) AS vehicles_active,
           (SELECT coalesce(sum(d.km), 0) FROM days d) AS distance_km,
           (SELECT coalesce(sum(d.soc_drop_pct / 100 * v.battery_kwh), 0)
              FROM days d JOIN vehicles v USING (vehicle_key)) AS energy_kwh
    FROM rides
    """
)


def raw_summary(dsn: str, start: datetime, end: datetime) -> dict[str, Any]:
    """Trips, riders, vehicles, km (odometer) and energy (SoC) from the raw tables."""
    with psycopg.connect(dsn) as conn:
        conn.execute("SET max_parallel_workers_per_gather = 2")
        cur = conn.execute(RAW_SUMMARY, {"start": start, "end": end})
        row = cur.fetchone()
        assert row is not None
        names = [d.name for d in cur.description or []]
        return dict(zip(names, row, strict=True))
