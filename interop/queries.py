"""Every SQL statement of the MDS and GBFS endpoints, one async function each.

They read the store as the rest of the service does (trips, vehicles, vehicle state, events,
status, telemetry, zones, the trip builder's watermarks) and never write. Times travel as
timestamptz; rows come back as dicts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import DictRow

__all__ = [
    "Conn",
    "consumption",
    "event_happenings",
    "gbfs_vehicles",
    "hour_telemetry",
    "hour_trips",
    "mds_vehicles",
    "month_counts",
    "month_energy",
    "operating_since",
    "processed_until",
    "vehicle_capacities",
    "zones",
]

Conn = AsyncConnection[DictRow]
Row = dict[str, Any]

_TRIP_FIELDS = sql.SQL(
    """
    v.fleet, v.vehicle, t.ride_id, t.start_ts, t.end_ts, t.start_lat, t.start_lon,
    t.end_lat, t.end_lon, t.distance_km, t.duration_s, t.energy_kwh, t.energy_measured,
    t.co2_baseline_kg, t.co2_electricity_kg, t.co2_avoided_kg, t.methodology,
    pogo_ms(t.start_ts) AS start_ms, pogo_ms(t.end_ts) AS end_ms
    """
)

# The place and state of charge at a moment: the vehicle's last fix at or before it.
_SOC_AT = sql.SQL(
    """
    LEFT JOIN LATERAL (
        SELECT f.soc_pct::float8 AS soc_pct, f.lat, f.lon FROM telemetry f
        WHERE f.vehicle_key = {key} AND f.ts <= {at} ORDER BY f.ts DESC LIMIT 1
    ) {alias} ON true
    """
)


def _soc_at(table: str, at: str, alias: str) -> sql.Composed:
    return _SOC_AT.format(
        key=sql.Identifier(table, "vehicle_key"),
        at=sql.Identifier(table, at),
        alias=sql.Identifier(alias),
    )


async def _rows(conn: Conn, query: sql.SQL | sql.Composed, params: dict[str, Any]) -> list[Row]:
    cur = await conn.execute(query, params)
    return [dict(r) for r in await cur.fetchall()]


async def _one(conn: Conn, query: sql.SQL | sql.Composed, params: dict[str, Any]) -> Row:
    cur = await conn.execute(query, params)
    row = await cur.fetchone()
    return dict(row) if row else {}


async def processed_until(conn: Conn) -> datetime | None:
    """How far the trip builder has got: the earliest ``closed_until`` of the vehicles it has
    not caught up with (stored fixes after their watermark), no later than its last run. Trips
    ending before it, and the events and telemetry of that time, are final. None before its
    first run."""
    row = await _one(
        conn,
        sql.SQL(
            """
            SELECT least(
                (SELECT max(updated_at) FROM trip_watermarks),
                (SELECT min(w.closed_until) FROM trip_watermarks w
                 JOIN vehicle_state s USING (vehicle_key) WHERE s.last_seen > w.closed_until)
            ) AS until
            """
        ),
        {},
    )
    until: datetime | None = row.get("until")
    return until


async def operating_since(conn: Conn) -> datetime | None:
    """The device time of the first stored fix: the provider operates from then on."""
    row = await _one(conn, sql.SQL("SELECT min(ts) AS since FROM telemetry"), {})
    since: datetime | None = row.get("since")
    return since


async def hour_trips(conn: Conn, start: datetime, end: datetime) -> list[Row]:
    """Trips ending in ``[start, end)``, in end order."""
    query = sql.SQL(
        "SELECT {fields} FROM trips t JOIN vehicles v USING (vehicle_key)"
        " WHERE t.end_ts >= %(start)s AND t.end_ts < %(end)s"
        " ORDER BY t.end_ts, v.fleet, v.vehicle"
    ).format(fields=_TRIP_FIELDS)
    return await _rows(conn, query, {"start": start, "end": end})


async def hour_telemetry(conn: Conn, start: datetime, end: datetime) -> list[Row]:
    """Every fix of ``[start, end)`` with the start of the trip it lies in (None outside one)."""
    query = sql.SQL(
        """
        SELECT v.fleet, v.vehicle, pogo_ms(f.ts) AS t_ms, f.lat, f.lon,
               f.speed_kmh::float8 AS speed_kmh, f.heading_deg::float8 AS heading_deg,
               f.soc_pct::float8 AS soc_pct,
               CASE WHEN tr.end_ts >= f.ts THEN pogo_ms(tr.start_ts) END AS trip_start_ms
        FROM telemetry f JOIN vehicles v USING (vehicle_key)
        LEFT JOIN LATERAL (
            SELECT t.start_ts, t.end_ts FROM trips t
            WHERE t.vehicle_key = f.vehicle_key AND t.start_ts <= f.ts
            ORDER BY t.start_ts DESC LIMIT 1
        ) tr ON true
        WHERE f.ts >= %(start)s AND f.ts < %(end)s
        ORDER BY f.ts, v.fleet, v.vehicle
        """
    )
    return await _rows(conn, query, {"start": start, "end": end})


async def event_happenings(
    conn: Conn, start: datetime, end: datetime, fleet_vehicle: tuple[str, str] | None = None
) -> dict[str, list[Row]]:
    """What the MDS events of ``[start, end)`` derive from, each with its vehicle, its time
    (ms), its place and the state of charge then.

    Returns
    -------
    dict
        ``trips``: trips overlapping the window (``start_ms``, ``end_ms``, places, the SoC at
        start and end); ``events``: charge and fault events in the window; ``offline``:
        vehicles whose device said ``offline`` in the window (its time and last place).
    """
    only = sql.SQL("true")
    params: dict[str, Any] = {"start": start, "end": end}
    if fleet_vehicle is not None:
        only = sql.SQL("v.fleet = %(fleet)s AND v.vehicle = %(vehicle)s")
        params.update(fleet=fleet_vehicle[0], vehicle=fleet_vehicle[1])
    trips = sql.SQL(
        """
        SELECT v.fleet, v.vehicle, t.vehicle_key, pogo_ms(t.start_ts) AS start_ms,
               pogo_ms(t.end_ts) AS end_ms, t.start_lat, t.start_lon, t.end_lat, t.end_lon,
               a.soc_pct AS start_soc, b.soc_pct AS end_soc
        FROM trips t JOIN vehicles v USING (vehicle_key)
        {soc_start} {soc_end}
        WHERE t.end_ts >= %(start)s AND t.start_ts < %(end)s AND {only}
        ORDER BY t.vehicle_key, t.start_ts
        """
    ).format(
        soc_start=_soc_at("t", "start_ts", "a"),
        soc_end=_soc_at("t", "end_ts", "b"),
        only=only,
    )
    events = sql.SQL(
        """
        SELECT v.fleet, v.vehicle, e.vehicle_key, pogo_ms(e.ts) AS t_ms, e.type,
               coalesce(a.lat, n.lat) AS lat, coalesce(a.lon, n.lon) AS lon,
               coalesce(a.soc_pct, n.soc_pct) AS soc_pct
        FROM vehicle_events e JOIN vehicles v USING (vehicle_key)
        {soc_before}
        LEFT JOIN LATERAL (
            SELECT f.soc_pct::float8 AS soc_pct, f.lat, f.lon FROM telemetry f
            WHERE f.vehicle_key = e.vehicle_key AND f.ts > e.ts ORDER BY f.ts LIMIT 1
        ) n ON a.lat IS NULL
        WHERE e.type IN ('charge_start', 'charge_end', 'fault')
          AND e.ts >= %(start)s AND e.ts < %(end)s AND {only}
        ORDER BY e.vehicle_key, e.ts
        """
    ).format(soc_before=_soc_at("e", "ts", "a"), only=only)
    offline = sql.SQL(
        """
        SELECT v.fleet, v.vehicle, st.vehicle_key, pogo_ms(st.changed_at) AS t_ms,
               a.lat, a.lon, a.soc_pct
        FROM vehicle_status st JOIN vehicles v USING (vehicle_key)
        {soc_before}
        WHERE NOT st.online AND st.changed_at >= %(start)s AND st.changed_at < %(end)s
          AND a.lat IS NOT NULL AND {only}
        """
    ).format(soc_before=_soc_at("st", "changed_at", "a"), only=only)
    return {
        "trips": await _rows(conn, trips, params),
        "events": await _rows(conn, events, params),
        "offline": await _rows(conn, offline, params),
    }


async def mds_vehicles(conn: Conn, fleet_vehicle: tuple[str, str] | None = None) -> list[Row]:
    """Every vehicle (or one), with its battery, its current state and its last fix."""
    only = sql.SQL("true")
    params: dict[str, Any] = {}
    if fleet_vehicle is not None:
        only = sql.SQL("v.fleet = %(fleet)s AND v.vehicle = %(vehicle)s")
        params.update(fleet=fleet_vehicle[0], vehicle=fleet_vehicle[1])
    query = sql.SQL(
        """
        SELECT v.fleet, v.vehicle, v.battery_kwh, s.state, s.updated_at,
               pogo_ms(f.ts) AS t_ms, f.lat, f.lon, f.speed_kmh::float8 AS speed_kmh,
               f.heading_deg::float8 AS heading_deg, f.soc_pct::float8 AS soc_pct,
               CASE WHEN tr.end_ts >= f.ts THEN pogo_ms(tr.start_ts) END AS trip_start_ms
        FROM vehicles v
        LEFT JOIN vehicle_state s USING (vehicle_key)
        LEFT JOIN LATERAL (
            SELECT ts, lat, lon, speed_kmh, heading_deg, soc_pct FROM telemetry
            WHERE telemetry.vehicle_key = v.vehicle_key ORDER BY ts DESC LIMIT 1
        ) f ON true
        LEFT JOIN LATERAL (
            SELECT t.start_ts, t.end_ts FROM trips t
            WHERE t.vehicle_key = v.vehicle_key AND t.start_ts <= f.ts
            ORDER BY t.start_ts DESC LIMIT 1
        ) tr ON true
        WHERE {only}
        ORDER BY v.fleet, v.vehicle
        """
    ).format(only=only)
    return await _rows(conn, query, params)


async def gbfs_vehicles(conn: Conn, moving_kmh: float) -> list[Row]:
    """The vehicles GBFS may publish: parked or charging, with a known place, not on a rental
    (no open ride, and no fix moving at ``moving_kmh`` or more since the end of its last stored
    trip: a trip the builder has not closed yet would otherwise keep its old id), with the
    number of trips each has made and whether it has had a fault since its last trip."""
    query = sql.SQL(
        """
        SELECT v.fleet, v.vehicle, v.battery_kwh, s.lat, s.lon, s.soc_pct::float8 AS soc_pct,
               s.last_seen, s.state,
               (SELECT count(*) FROM trips t WHERE t.vehicle_key = v.vehicle_key) AS trips,
               s.state = 'charging' OR EXISTS (
                   SELECT 1 FROM vehicle_events e
                   WHERE e.vehicle_key = v.vehicle_key AND e.type = 'fault'
                     AND e.ts > coalesce(last.end_ts, '-infinity')
               ) AS disabled
        FROM vehicles v JOIN vehicle_state s USING (vehicle_key)
        LEFT JOIN LATERAL (
            SELECT max(end_ts) AS end_ts FROM trips t WHERE t.vehicle_key = v.vehicle_key
        ) last ON true
        LEFT JOIN LATERAL (
            SELECT e.type FROM vehicle_events e
            WHERE e.vehicle_key = v.vehicle_key AND e.type IN ('ride_start', 'ride_end')
            ORDER BY e.ts DESC LIMIT 1
        ) ride ON true
        WHERE s.state IN ('parked', 'charging') AND s.lat IS NOT NULL AND s.lon IS NOT NULL
          AND ride.type IS DISTINCT FROM 'ride_start'
          AND NOT EXISTS (
              SELECT 1 FROM telemetry f
              WHERE f.vehicle_key = v.vehicle_key
                AND f.ts > coalesce(last.end_ts, '-infinity') AND f.speed_kmh >= %(moving)s
          )
        """
    )
    return await _rows(conn, query, {"moving": moving_kmh})


async def vehicle_capacities(conn: Conn) -> list[float | None]:
    """The distinct battery capacities of the fleet, kWh (None: unknown)."""
    rows = await _rows(conn, sql.SQL("SELECT DISTINCT battery_kwh FROM vehicles"), {})
    return [None if r["battery_kwh"] is None else float(r["battery_kwh"]) for r in rows]


async def consumption(conn: Conn, since: datetime) -> float | None:
    """The fleet's measured consumption since ``since``, kWh per km (None: nothing measured)."""
    row = await _one(
        conn,
        sql.SQL(
            "SELECT sum(energy_kwh) / nullif(sum(distance_km), 0) AS kwh_per_km FROM trips"
            " WHERE start_ts >= %(since)s AND energy_kwh IS NOT NULL AND distance_km > 0"
        ),
        {"since": since},
    )
    value = row.get("kwh_per_km")
    return None if value is None or value <= 0 else float(value)


async def zones(conn: Conn) -> list[Row]:
    """Every zone, in display order."""
    return await _rows(
        conn,
        sql.SQL("SELECT zone_id, name, kind, polygon_wkt FROM zones ORDER BY sort, zone_id"),
        {},
    )


async def month_counts(conn: Conn, start: datetime, end: datetime) -> Row:
    """Trips starting in ``[start, end)`` and their distinct riders."""
    return await _one(
        conn,
        sql.SQL(
            "SELECT count(*) AS trips, count(DISTINCT rider) AS riders FROM trips"
            " WHERE start_ts >= %(start)s AND start_ts < %(end)s"
        ),
        {"start": start, "end": end},
    )


async def month_energy(conn: Conn, start: datetime, end: datetime) -> list[Row]:
    """Per methodology version: trips starting in ``[start, end)``, km, measured kWh, trips
    without a measured energy, and the stored CO2 sums."""
    return await _rows(
        conn,
        sql.SQL(
            """
            SELECT coalesce(methodology, '') AS methodology, count(*) AS trips,
                   sum(distance_km) AS distance_km, coalesce(sum(energy_kwh), 0) AS energy_kwh,
                   count(*) FILTER (WHERE energy_kwh IS NULL) AS trips_without_energy,
                   coalesce(sum(co2_baseline_kg), 0) AS co2_baseline_kg,
                   coalesce(sum(co2_electricity_kg), 0) AS co2_electricity_kg,
                   coalesce(sum(co2_avoided_kg), 0) AS co2_avoided_kg
            FROM trips WHERE start_ts >= %(start)s AND start_ts < %(end)s
            GROUP BY 1 ORDER BY 2 DESC, 1
            """
        ),
        {"start": start, "end": end},
    )
