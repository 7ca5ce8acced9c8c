"""Every SQL statement the city service runs, one async function each.

Windows are half-open ``[start, end)`` on a trip's start time. The trip figures are not
aggregated here: :func:`trip_columns` loads the trips once per data version into the trip index
(:mod:`city.tripindex`), which computes every window and bucket.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, LiteralString

import psycopg
from psycopg import AsyncConnection, sql
from psycopg.errors import UndefinedTable
from psycopg.rows import DictRow

__all__ = [
    "Conn",
    "create_indicator",
    "data_version",
    "fleet_gauges",
    "indicator",
    "indicator_for_update",
    "insert_change",
    "list_alerts",
    "list_changes",
    "list_indicators",
    "list_programmes",
    "list_trips",
    "list_vehicles",
    "programme_exists",
    "schema_version",
    "trip_columns",
    "upsert_indicator",
    "vehicle_battery_health",
    "vehicle_riding",
]

Conn = AsyncConnection[DictRow]
Row = dict[str, Any]

_VEHICLES = sql.SQL(
    """
    SELECT v.fleet, v.vehicle, v.battery_kwh, v.first_seen,
           s.state,
           coalesce(s.lat, t.lat) AS lat,
           coalesce(s.lon, t.lon) AS lon,
           coalesce(s.soc_pct, t.soc_pct)::double precision AS soc_pct,
           coalesce(s.odometer_km, t.odometer_km) AS odometer_km,
           coalesce(s.last_seen, t.ts) AS last_seen,
           st.online
    FROM vehicles v
    LEFT JOIN vehicle_state s USING (vehicle_key)
    LEFT JOIN vehicle_status st USING (vehicle_key)
    LEFT JOIN LATERAL (
        SELECT lat, lon, soc_pct, odometer_km, ts FROM telemetry
        WHERE telemetry.vehicle_key = v.vehicle_key AND s.vehicle_key IS NULL
        ORDER BY ts DESC LIMIT 1
    ) t ON true
    WHERE {conditions}
    ORDER BY v.fleet, v.vehicle
    """
)

# Riding behaviour of one vehicle over its trips with counted events (trips built before
# migration 0070 have NULL counts until rebuilt, and are left out of the rates).
_VEHICLE_RIDING = """
SELECT count(*) AS trips,
       coalesce(sum(t.distance_km), 0) AS distance_km,
       coalesce(sum(t.harsh_braking), 0) AS harsh_braking,
       coalesce(sum(t.harsh_acceleration), 0) AS harsh_acceleration,
       100.0 * sum(t.harsh_braking) / nullif(sum(t.distance_km), 0)
           AS harsh_braking_per_100_km,
       100.0 * sum(t.harsh_acceleration) / nullif(sum(t.distance_km), 0)
           AS harsh_acceleration_per_100_km
FROM trips t JOIN vehicles v USING (vehicle_key)
WHERE v.fleet = %(fleet)s AND v.vehicle = %(vehicle)s
  AND t.harsh_braking IS NOT NULL AND t.harsh_acceleration IS NOT NULL
"""

# Battery state of health of one vehicle (the trip builder's estimate, migration 0080): SoH
# against the rated capacity, with its 95 % interval from the standard error.
_VEHICLE_BATTERY_HEALTH = """
SELECT 100.0 * h.capacity_kwh / h.rated_kwh AS soh_pct,
       h.capacity_kwh, h.rated_kwh, h.samples, h.method,
       100.0 * (h.capacity_kwh - 1.96 * h.stderr_kwh) / h.rated_kwh AS soh_low_pct,
       100.0 * (h.capacity_kwh + 1.96 * h.stderr_kwh) / h.rated_kwh AS soh_high_pct
FROM battery_health h JOIN vehicles v USING (vehicle_key)
WHERE v.fleet = %(fleet)s AND v.vehicle = %(vehicle)s
"""

_TRIPS = sql.SQL(
    """
    SELECT t.trip_id, v.fleet, v.vehicle, t.ride_id, t.rider, t.source,
           t.start_ts, t.end_ts, t.start_lat, t.start_lon, t.end_lat, t.end_lon,
           t.start_zone, t.end_zone, t.distance_km, t.duration_s, t.avg_speed_kmh,
           t.max_speed_kmh, t.energy_kwh, t.co2_baseline_kg, t.co2_electricity_kg,
           t.co2_avoided_kg, t.methodology, t.harsh_braking, t.harsh_acceleration
    FROM trips t JOIN vehicles v USING (vehicle_key)
    WHERE {conditions}
    ORDER BY t.start_ts, t.trip_id
    LIMIT %(limit)s
    """
)

_GAUGES = sql.SQL(
    """
    SELECT
      (SELECT coalesce(jsonb_object_agg(state, n), '{}'::jsonb)
         FROM (SELECT state, count(*) AS n FROM vehicle_state GROUP BY state) s) AS states,
      (SELECT count(*) FROM vehicle_state WHERE soc_pct < %(low)s) AS low_battery,
      (SELECT count(*) FROM trips) AS trips,
      (SELECT coalesce(sum(distance_km), 0) FROM trips) AS distance_km,
      (SELECT coalesce(sum(co2_avoided_kg), 0) FROM trips) AS co2_avoided_kg,
      (SELECT coalesce(sum(energy_kwh), 0) FROM trips) AS energy_kwh,
      (SELECT extract(epoch FROM max(updated_at))::float8 FROM trip_watermarks)
        AS trip_builder_last_run,
      (SELECT coalesce(jsonb_object_agg(kind, n), '{}'::jsonb)
         FROM (SELECT kind, count(*) AS n FROM alerts WHERE cleared_at IS NULL
               GROUP BY kind) a) AS alerts_open,
      (SELECT count(*) FROM alert_deliveries
         WHERE delivered_at IS NULL AND abandoned_at IS NULL) AS alert_deliveries_waiting,
      (SELECT coalesce(jsonb_object_agg(bucket, n), '{}'::jsonb)
         FROM (SELECT CASE WHEN h.capacity_kwh IS NULL THEN 'unknown'
                           WHEN h.capacity_kwh < 0.7 * h.rated_kwh THEN '0-70'
                           WHEN h.capacity_kwh < 0.8 * h.rated_kwh THEN '70-80'
                           WHEN h.capacity_kwh < 0.9 * h.rated_kwh THEN '80-90'
                           ELSE '90+' END AS bucket, count(*) AS n
               FROM vehicles v LEFT JOIN battery_health h USING (vehicle_key)
               GROUP BY 1) b) AS battery_health
    """
)

_ALERTS = sql.SQL(
    """
    SELECT a.alert_id, a.kind,
           CASE WHEN a.cleared_at IS NULL THEN 'open' ELSE 'cleared' END AS state,
           v.fleet, v.vehicle, a.zone_id, z.name AS zone_name, a.opened_at, a.cleared_at,
           a.value, a.threshold
    FROM alerts a
    JOIN vehicles v USING (vehicle_key)
    LEFT JOIN zones z USING (zone_id)
    WHERE {conditions}
    ORDER BY a.opened_at DESC, a.alert_id DESC
    LIMIT %(limit)s
    """
)

_DATA_VERSION = sql.SQL("SELECT version FROM city_data_version")
_HAS_DATA_VERSION = sql.SQL("SELECT to_regclass('city_data_version') IS NOT NULL")
_TRIP_COLUMNS = sql.SQL(
    """
    WITH t AS (
        SELECT row_number() OVER (ORDER BY start_ts, trip_id) - 1 AS idx, start_ts, rider,
               vehicle_key, distance_km, energy_kwh, duration_s, co2_baseline_kg,
               co2_electricity_kg, co2_avoided_kg, methodology
        FROM trips
    )
    SELECT (extract(epoch FROM start_ts) * 1000000)::bigint AS start_us,
           distance_km,
           energy_kwh,
           (energy_kwh IS NULL)::int AS trips_without_energy,
           CASE WHEN energy_kwh IS NULL THEN distance_km ELSE 0 END
               AS distance_km_without_energy,
           duration_s, co2_baseline_kg, co2_electricity_kg, co2_avoided_kg,
           coalesce(methodology, '') AS methodology,
           CASE WHEN rider IS NOT NULL
                THEN coalesce(lag(idx) OVER (PARTITION BY rider ORDER BY idx), -1) END
               AS prev_rider,
           coalesce(lag(idx) OVER (PARTITION BY vehicle_key ORDER BY idx), -1) AS prev_vehicle
    FROM t
    ORDER BY idx
    """
)
_HAS_MIGRATIONS = sql.SQL("SELECT to_regclass('schema_migrations') IS NOT NULL AS found")
_SCHEMA_VERSION = sql.SQL("SELECT coalesce(max(version), 0) AS version FROM schema_migrations")

_PROGRAMMES = sql.SQL(
    "SELECT programme_id, name, description, sort FROM programmes ORDER BY sort, programme_id"
)
_PROGRAMME_EXISTS = sql.SQL("SELECT 1 AS found FROM programmes WHERE programme_id = %(p)s")
_INDICATOR_COLUMNS: LiteralString = (
    "programme_id, indicator_id, label, value::double precision AS value, qualifier, unit,"
    " period, source, sort, updated_at, updated_by"
)
_INDICATORS = sql.SQL(
    "SELECT " + _INDICATOR_COLUMNS + " FROM programme_indicators ORDER BY programme_id, sort,"
    " indicator_id"
)
_INDICATOR_FOR_UPDATE = sql.SQL(
    "SELECT " + _INDICATOR_COLUMNS + " FROM programme_indicators"
    " WHERE programme_id = %(p)s AND indicator_id = %(i)s FOR UPDATE"
)
_INDICATOR = sql.SQL(
    "SELECT " + _INDICATOR_COLUMNS + " FROM programme_indicators"
    " WHERE programme_id = %(p)s AND indicator_id = %(i)s"
)
_WRITE_INDICATOR: LiteralString = """
    INSERT INTO programme_indicators
        (programme_id, indicator_id, label, value, qualifier, unit, period, source, sort,
         updated_at, updated_by)
    VALUES (%(programme_id)s, %(indicator_id)s, %(label)s, %(value)s, %(qualifier)s, %(unit)s,
            %(period)s, %(source)s, %(sort)s, now(), %(updated_by)s)
    """
_UPSERT_INDICATOR = sql.SQL(
    _WRITE_INDICATOR
    + """
    ON CONFLICT (programme_id, indicator_id) DO UPDATE SET
        label = EXCLUDED.label, value = EXCLUDED.value, qualifier = EXCLUDED.qualifier,
        unit = EXCLUDED.unit, period = EXCLUDED.period, source = EXCLUDED.source,
        sort = EXCLUDED.sort, updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by
    RETURNING """
    + _INDICATOR_COLUMNS
)
_CREATE_INDICATOR = sql.SQL(
    _WRITE_INDICATOR
    + " ON CONFLICT (programme_id, indicator_id) DO NOTHING RETURNING "
    + _INDICATOR_COLUMNS
)
_INSERT_CHANGE = sql.SQL(
    """
    INSERT INTO programme_changes (programme_id, indicator_id, changed_by, old_value, new_value)
    VALUES (%(p)s, %(i)s, %(by)s, %(old)s::jsonb, %(new)s::jsonb)
    """
)
_CHANGES = sql.SQL(
    """
    SELECT change_id, programme_id, indicator_id, changed_by, changed_at, old_value, new_value
    FROM programme_changes
    WHERE {conditions}
    ORDER BY change_id DESC
    LIMIT %(limit)s
    """
)


async def list_vehicles(
    conn: Conn, fleet: str | None = None, vehicle: str | None = None, state: str | None = None
) -> list[Row]:
    """Vehicles with their last position, state, SoC and last-seen time."""
    conditions = [sql.SQL("true")]
    if fleet is not None:
        conditions.append(sql.SQL("v.fleet = %(fleet)s"))
    if vehicle is not None:
        conditions.append(sql.SQL("v.vehicle = %(vehicle)s"))
    if state is not None:
        conditions.append(sql.SQL("s.state = %(state)s"))
    query = _VEHICLES.format(conditions=sql.SQL(" AND ").join(conditions))
    cur = await conn.execute(query, {"fleet": fleet, "vehicle": vehicle, "state": state})
    return [dict(r) for r in await cur.fetchall()]


async def vehicle_riding(conn: Conn, fleet: str, vehicle: str) -> Row:
    """Trips, km and harsh braking and acceleration events (and per 100 km) of one vehicle,
    over its trips with counted events."""
    cur = await conn.execute(_VEHICLE_RIDING, {"fleet": fleet, "vehicle": vehicle})
    row = await cur.fetchone()
    return dict(row) if row else {}


async def vehicle_battery_health(conn: Conn, fleet: str, vehicle: str) -> Row | None:
    """The battery state of health of one vehicle, None before the trip builder counted a
    ride or charge of it."""
    cur = await conn.execute(_VEHICLE_BATTERY_HEALTH, {"fleet": fleet, "vehicle": vehicle})
    row = await cur.fetchone()
    return dict(row) if row else None


async def list_trips(
    conn: Conn,
    start: datetime,
    end: datetime,
    limit: int,
    fleet: str | None = None,
    vehicle: str | None = None,
    zone: str | None = None,
    after: tuple[datetime, int] | None = None,
) -> list[Row]:
    """Trips starting in ``[start, end)``, in start order, after a page cursor."""
    conditions = [sql.SQL("t.start_ts >= %(start)s AND t.start_ts < %(end)s")]
    if fleet is not None:
        conditions.append(sql.SQL("v.fleet = %(fleet)s"))
    if vehicle is not None:
        conditions.append(sql.SQL("v.vehicle = %(vehicle)s"))
    if zone is not None:
        conditions.append(sql.SQL("(t.start_zone = %(zone)s OR t.end_zone = %(zone)s)"))
    if after is not None:
        conditions.append(sql.SQL("(t.start_ts, t.trip_id) > (%(after_ts)s, %(after_id)s)"))
    query = _TRIPS.format(conditions=sql.SQL(" AND ").join(conditions))
    params = {
        "start": start,
        "end": end,
        "limit": limit,
        "fleet": fleet,
        "vehicle": vehicle,
        "zone": zone,
        "after_ts": after[0] if after else None,
        "after_id": after[1] if after else None,
    }
    cur = await conn.execute(query, params)
    return [dict(r) for r in await cur.fetchall()]


async def list_alerts(
    conn: Conn,
    start: datetime,
    end: datetime | None,
    limit: int,
    *,
    kind: str | None = None,
    state: str | None = None,
    fleet: str | None = None,
    vehicle: str | None = None,
    zone: str | None = None,
    before: tuple[datetime, int] | None = None,
) -> list[Row]:
    """Alerts open at some time in ``[start, end)`` (``end`` None: up to now), newest opened
    first, before a page cursor."""
    conditions = [sql.SQL("(a.cleared_at IS NULL OR a.cleared_at >= %(start)s)")]
    if end is not None:
        conditions.append(sql.SQL("a.opened_at < %(end)s"))
    if kind is not None:
        conditions.append(sql.SQL("a.kind = %(kind)s"))
    if state == "open":
        conditions.append(sql.SQL("a.cleared_at IS NULL"))
    elif state == "cleared":
        conditions.append(sql.SQL("a.cleared_at IS NOT NULL"))
    if fleet is not None:
        conditions.append(sql.SQL("v.fleet = %(fleet)s"))
    if vehicle is not None:
        conditions.append(sql.SQL("v.vehicle = %(vehicle)s"))
    if zone is not None:
        conditions.append(sql.SQL("a.zone_id = %(zone)s"))
    if before is not None:
        conditions.append(sql.SQL("(a.opened_at, a.alert_id) < (%(before_ts)s, %(before_id)s)"))
    query = _ALERTS.format(conditions=sql.SQL(" AND ").join(conditions))
    params = {
        "start": start,
        "end": end,
        "limit": limit,
        "kind": kind,
        "fleet": fleet,
        "vehicle": vehicle,
        "zone": zone,
        "before_ts": before[0] if before else None,
        "before_id": before[1] if before else None,
    }
    cur = await conn.execute(query, params)
    return [dict(r) for r in await cur.fetchall()]


async def fleet_gauges(conn: Conn, low_battery_pct: float) -> Row:
    """The fleet figures ``/metrics`` exposes, read now."""
    cur = await conn.execute(_GAUGES, {"low": low_battery_pct})
    row = await cur.fetchone()
    assert row is not None  # scalar sub-selects return one row
    return dict(row)


async def data_version(conn: Conn) -> int | None:
    """The trips table's change counter (migration 0032), None before that migration."""
    try:
        cur = await conn.execute(_DATA_VERSION)
    except UndefinedTable:
        return None
    row = await cur.fetchone()
    return None if row is None else int(row["version"])


def trip_columns(conn: psycopg.Connection[Any]) -> tuple[int, dict[str, list[Any]]]:
    """The data version and every trip as columns, in start order, with each trip's previous
    trip by the same rider and vehicle (synchronous: the trip index loads in a thread; run
    it inside one REPEATABLE READ transaction so both come from one snapshot). The version is
    0 before migration 0032."""
    found = conn.execute(_HAS_DATA_VERSION).fetchone()
    row = conn.execute(_DATA_VERSION).fetchone() if found and found[0] else None
    version = int(row[0]) if row else 0
    cur = conn.execute(_TRIP_COLUMNS)
    names = [d.name for d in cur.description or []]
    rows = cur.fetchall()
    columns = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in names]
    return version, dict(zip(names, columns, strict=True))


async def schema_version(conn: Conn) -> int | None:
    """The highest applied migration, or None when the schema was never created."""
    cur = await conn.execute(_HAS_MIGRATIONS)
    found = await cur.fetchone()
    if found is None or not found["found"]:
        return None
    cur = await conn.execute(_SCHEMA_VERSION)
    row = await cur.fetchone()
    return None if row is None else int(row["version"])


async def list_programmes(conn: Conn) -> list[Row]:
    """The learning-city programmes, in display order."""
    cur = await conn.execute(_PROGRAMMES)
    return [dict(r) for r in await cur.fetchall()]


async def programme_exists(conn: Conn, programme_id: str) -> bool:
    """Whether the programme is stored."""
    cur = await conn.execute(_PROGRAMME_EXISTS, {"p": programme_id})
    return await cur.fetchone() is not None


async def list_indicators(conn: Conn) -> list[Row]:
    """Every programme indicator, grouped by programme, in display order."""
    cur = await conn.execute(_INDICATORS)
    return [dict(r) for r in await cur.fetchall()]


async def indicator_for_update(conn: Conn, programme_id: str, indicator_id: str) -> Row | None:
    """An indicator, locked until the transaction ends, or None."""
    cur = await conn.execute(_INDICATOR_FOR_UPDATE, {"p": programme_id, "i": indicator_id})
    row = await cur.fetchone()
    return dict(row) if row else None


async def indicator(conn: Conn, programme_id: str, indicator_id: str) -> Row | None:
    """An indicator, or None."""
    cur = await conn.execute(_INDICATOR, {"p": programme_id, "i": indicator_id})
    row = await cur.fetchone()
    return dict(row) if row else None


async def create_indicator(conn: Conn, values: Row) -> Row | None:
    """Create an indicator; returns the stored row, or None when it exists already."""
    cur = await conn.execute(_CREATE_INDICATOR, values)
    row = await cur.fetchone()
    return dict(row) if row else None


async def upsert_indicator(conn: Conn, values: Row) -> Row:
    """Create or replace an indicator; returns the stored row."""
    cur = await conn.execute(_UPSERT_INDICATOR, values)
    row = await cur.fetchone()
    assert row is not None  # INSERT ... RETURNING returns the row
    return dict(row)


async def insert_change(
    conn: Conn,
    programme_id: str,
    indicator_id: str,
    changed_by: str,
    old: Row | None,
    new: Row,
) -> None:
    """Keep one change: who, the old and the new value (``changed_at`` is the server's now)."""
    await conn.execute(
        _INSERT_CHANGE,
        {
            "p": programme_id,
            "i": indicator_id,
            "by": changed_by,
            "old": None if old is None else json.dumps(old, default=str),
            "new": json.dumps(new, default=str),
        },
    )


async def list_changes(conn: Conn, programme_id: str | None, limit: int) -> list[Row]:
    """The most recent changes to the programme tables, newest first."""
    conditions = [sql.SQL("true")]
    if programme_id is not None:
        conditions.append(sql.SQL("programme_id = %(p)s"))
    query = _CHANGES.format(conditions=sql.SQL(" AND ").join(conditions))
    cur = await conn.execute(query, {"p": programme_id, "limit": limit})
    return [dict(r) for r in await cur.fetchall()]
