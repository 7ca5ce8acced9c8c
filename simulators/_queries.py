"""Every SQL statement of the simulators (the backfill's), composed with psycopg.sql."""

from __future__ import annotations

from psycopg import sql

__all__ = [
    "ANY_TELEMETRY_IN_RANGE",
    "ASYNC_COMMIT",
    "COPY_EVENTS_STAGE",
    "COPY_TELEMETRY",
    "COPY_TELEMETRY_STAGE",
    "CREATE_EVENTS_STAGE",
    "CREATE_TELEMETRY_STAGE",
    "INSERT_EVENTS",
    "INSERT_TELEMETRY",
    "TRUNCATE_STAGES",
    "UPSERT_VEHICLES",
]

_TELEMETRY_STAGE = sql.Identifier("sim_telemetry_stage")
_EVENTS_STAGE = sql.Identifier("sim_events_stage")

ASYNC_COMMIT = sql.SQL("SET synchronous_commit = off")

UPSERT_VEHICLES = sql.SQL(
    """
    INSERT INTO vehicles (fleet, vehicle, battery_kwh)
    SELECT f, v, b FROM unnest(%s::text[], %s::text[], %s::float8[]) AS u(f, v, b)
    ON CONFLICT (fleet, vehicle) DO UPDATE SET battery_kwh = EXCLUDED.battery_kwh
    RETURNING fleet, vehicle, vehicle_key
    """
)

CREATE_TELEMETRY_STAGE = sql.SQL(
    """
    CREATE TEMP TABLE IF NOT EXISTS {stage} (
        vehicle_key integer, ts timestamptz, lat float8, lon float8,
        speed_kmh real, heading_deg real, hdop real, soc_pct real, voltage_v real,
        current_a real, batt_temp_c real, odometer_km float8, seq int8, received_at timestamptz
    )
    """
).format(stage=_TELEMETRY_STAGE)

CREATE_EVENTS_STAGE = sql.SQL(
    """
    CREATE TEMP TABLE IF NOT EXISTS {stage} (
        vehicle_key integer, ts timestamptz, type text, ride_id text, rider text,
        attributes jsonb, received_at timestamptz
    )
    """
).format(stage=_EVENTS_STAGE)

TRUNCATE_STAGES = sql.SQL("TRUNCATE {}, {}").format(_TELEMETRY_STAGE, _EVENTS_STAGE)

_TELEMETRY_COLUMNS = sql.SQL(
    "(vehicle_key, ts, lat, lon, speed_kmh, heading_deg, hdop, soc_pct, voltage_v, current_a, "
    "batt_temp_c, odometer_km, seq, received_at)"
)

COPY_TELEMETRY_STAGE = sql.SQL("COPY {} {} FROM STDIN (FORMAT BINARY)").format(
    _TELEMETRY_STAGE, _TELEMETRY_COLUMNS
)

# Straight into the table when no stored row can conflict (a fresh history).
COPY_TELEMETRY = sql.SQL("COPY telemetry {} FROM STDIN (FORMAT BINARY)").format(_TELEMETRY_COLUMNS)

ANY_TELEMETRY_IN_RANGE = sql.SQL(
    "SELECT 1 FROM telemetry WHERE vehicle_key = ANY(%s) AND ts BETWEEN %s AND %s LIMIT 1"
)

COPY_EVENTS_STAGE = sql.SQL(
    "COPY {} (vehicle_key, ts, type, ride_id, rider, attributes, received_at) FROM STDIN"
).format(_EVENTS_STAGE)

INSERT_TELEMETRY = sql.SQL(
    """
    INSERT INTO telemetry (vehicle_key, ts, lat, lon, speed_kmh, heading_deg, hdop, soc_pct,
                           voltage_v, current_a, batt_temp_c, odometer_km, seq, received_at)
    SELECT vehicle_key, ts, lat, lon, speed_kmh, heading_deg, hdop, soc_pct, voltage_v,
           current_a, batt_temp_c, odometer_km, seq, received_at
    FROM {stage}
    ON CONFLICT (vehicle_key, ts) DO NOTHING
    """
).format(stage=_TELEMETRY_STAGE)

INSERT_EVENTS = sql.SQL(
    """
    INSERT INTO vehicle_events (vehicle_key, ts, type, ride_id, rider, attributes, received_at)
    SELECT vehicle_key, ts, type, ride_id, rider, attributes, received_at FROM {stage}
    ON CONFLICT (vehicle_key, ts, type) DO NOTHING
    """
).format(stage=_EVENTS_STAGE)
