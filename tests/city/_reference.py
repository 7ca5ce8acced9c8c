"""The reference the trip index is held to: the same figures as plain SQL aggregates.

The service computes every trip figure with its trip index (``city/tripindex.py``); these
queries compute them the obvious way, straight from the ``trips`` table, so the tests can
compare the two on the same trips. Buckets are computed in UTC: times are converted to
``timestamp`` at UTC before ``date_trunc`` and ``generate_series``, so the session's time zone
never shifts a month boundary (an independent definition of the buckets of ``city/buckets.py``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, LiteralString

import psycopg
from psycopg import sql
from psycopg.rows import DictRow

__all__ = ["methodologies", "period_series", "summary", "trip_span"]

Conn = psycopg.Connection[DictRow]
Row = dict[str, Any]

# The figures of a set of trips; every aggregate reads the trips table only.
_FIGURES: LiteralString = """
    count(*)                                      AS trips,
    coalesce(sum(distance_km), 0)                 AS distance_km,
    count(DISTINCT rider)                         AS riders,
    count(DISTINCT vehicle_key)                   AS vehicles_active,
    coalesce(sum(energy_kwh), 0)                  AS energy_kwh,
    count(*) FILTER (WHERE energy_kwh IS NULL)    AS trips_without_energy,
    coalesce(sum(distance_km) FILTER (WHERE energy_kwh IS NULL), 0)
                                                  AS distance_km_without_energy,
    coalesce(sum(duration_s), 0)                  AS duration_s,
    coalesce(sum(co2_baseline_kg), 0)             AS co2_baseline_kg,
    coalesce(sum(co2_electricity_kg), 0)          AS co2_electricity_kg,
    coalesce(sum(co2_avoided_kg), 0)              AS co2_avoided_kg
"""

_SUMMARY = sql.SQL(
    "SELECT " + _FIGURES + " FROM trips WHERE start_ts >= %(start)s AND start_ts < %(end)s"
)

_SERIES = sql.SQL(
    """
    WITH b AS (
        SELECT generate_series(
                   date_trunc(%(unit)s, %(start)s::timestamptz AT TIME ZONE 'UTC'),
                   %(end)s::timestamptz AT TIME ZONE 'UTC' - interval '1 microsecond',
                   %(step)s::interval) AS bucket
    ),
    t AS (
        SELECT date_trunc(%(unit)s, start_ts AT TIME ZONE 'UTC') AS bucket, """
    + _FIGURES
    + """
        FROM trips
        WHERE start_ts >= %(start)s AND start_ts < %(end)s
        GROUP BY 1
    )
    SELECT b.bucket AT TIME ZONE 'UTC' AS bucket_start,
           (b.bucket + %(step)s::interval) AT TIME ZONE 'UTC' AS bucket_end,
           coalesce(t.trips, 0) AS trips,
           coalesce(t.distance_km, 0) AS distance_km,
           coalesce(t.riders, 0) AS riders,
           coalesce(t.vehicles_active, 0) AS vehicles_active,
           coalesce(t.energy_kwh, 0) AS energy_kwh,
           coalesce(t.trips_without_energy, 0) AS trips_without_energy,
           coalesce(t.distance_km_without_energy, 0) AS distance_km_without_energy,
           coalesce(t.duration_s, 0) AS duration_s,
           coalesce(t.co2_baseline_kg, 0) AS co2_baseline_kg,
           coalesce(t.co2_electricity_kg, 0) AS co2_electricity_kg,
           coalesce(t.co2_avoided_kg, 0) AS co2_avoided_kg
    FROM b LEFT JOIN t USING (bucket)
    ORDER BY b.bucket
    """
)

_METHODOLOGIES = sql.SQL(
    """
    SELECT coalesce(methodology, '') AS methodology, count(*) AS trips
    FROM trips WHERE start_ts >= %(start)s AND start_ts < %(end)s
    GROUP BY 1 ORDER BY 2 DESC, 1
    """
)

_TRIP_SPAN = sql.SQL("SELECT min(start_ts) AS first, max(start_ts) AS last FROM trips")


def summary(conn: Conn, start: datetime, end: datetime) -> Row:
    """The figures of the trips starting in ``[start, end)``."""
    row = conn.execute(_SUMMARY, {"start": start, "end": end}).fetchone()
    assert row is not None  # an aggregate without GROUP BY returns one row
    return dict(row)


def period_series(conn: Conn, start: datetime, end: datetime, unit: str) -> list[Row]:
    """One row of figures per ``unit`` (day, week, month, year) bucket, empty buckets too."""
    params = {"start": start, "end": end, "unit": unit, "step": f"1 {unit}"}
    return [dict(r) for r in conn.execute(_SERIES, params).fetchall()]


def methodologies(conn: Conn, start: datetime, end: datetime) -> list[Row]:
    """The methodology versions stored on the window's trips, with their trip counts."""
    return [dict(r) for r in conn.execute(_METHODOLOGIES, {"start": start, "end": end})]


def trip_span(conn: Conn) -> Row:
    """The first and last trip start stored (None, None when there is no trip)."""
    row = conn.execute(_TRIP_SPAN).fetchone()
    return dict(row) if row else {"first": None, "last": None}
