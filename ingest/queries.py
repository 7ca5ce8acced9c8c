"""The ingester's SQL, all of it."""

from __future__ import annotations

from typing import Final

from psycopg import sql

__all__ = [
    "COPY_DEAD_LETTERS",
    "COPY_STAGING",
    "CREATE_STAGING",
    "INSERT_EVENT",
    "INSERT_TELEMETRY",
    "INSERT_VEHICLES",
    "SELECT_VEHICLES",
    "UPSERT_STATUS",
]

# A temporary table per connection, emptied at every commit: the batch's COPY target.
CREATE_STAGING: Final = sql.SQL(
    """
    CREATE TEMP TABLE IF NOT EXISTS ingest_staging (
        vehicle_key integer, ts timestamptz, lat double precision, lon double precision,
        speed_kmh real, heading_deg real, hdop real, soc_pct real, voltage_v real,
        current_a real, batt_temp_c real, odometer_km double precision, seq bigint,
        received_at timestamptz
    ) ON COMMIT DELETE ROWS
    """
)

COPY_STAGING: Final = sql.SQL("COPY ingest_staging FROM STDIN (FORMAT BINARY)")

# Absent optional values travel as NaN (seq as INT64_MIN) so that COPY rows stay fixed-width;
# validation turned every NaN a device sent into a dead letter, so NaN here means absent.
INSERT_TELEMETRY: Final = sql.SQL(
    """
    INSERT INTO telemetry (vehicle_key, ts, lat, lon, speed_kmh, heading_deg, hdop, soc_pct,
                           voltage_v, current_a, batt_temp_c, odometer_km, seq, received_at)
    SELECT vehicle_key, ts, lat, lon,
           NULLIF(speed_kmh, 'NaN'), NULLIF(heading_deg, 'NaN'), NULLIF(hdop, 'NaN'),
           NULLIF(soc_pct, 'NaN'), NULLIF(voltage_v, 'NaN'), NULLIF(current_a, 'NaN'),
           NULLIF(batt_temp_c, 'NaN'), NULLIF(odometer_km, 'NaN'),
           NULLIF(seq, -9223372036854775808), received_at
    FROM ingest_staging
    ON CONFLICT (vehicle_key, ts) DO NOTHING
    """
)

INSERT_VEHICLES: Final = sql.SQL(
    """
    INSERT INTO vehicles (fleet, vehicle)
    SELECT * FROM unnest(%s::text[], %s::text[])
    ON CONFLICT (fleet, vehicle) DO NOTHING
    """
)

SELECT_VEHICLES: Final = sql.SQL(
    """
    SELECT v.fleet, v.vehicle, v.vehicle_key
    FROM vehicles AS v
    JOIN unnest(%s::text[], %s::text[]) AS u (fleet, vehicle)
      ON v.fleet = u.fleet AND v.vehicle = u.vehicle
    """
)

INSERT_EVENT: Final = sql.SQL(
    """
    INSERT INTO vehicle_events (vehicle_key, ts, type, ride_id, rider, attributes, received_at)
    VALUES (%s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT (vehicle_key, ts, type) DO NOTHING
    """
)

# The retained status arrives again on every fresh subscription: the time of change only
# moves when the state does.
UPSERT_STATUS: Final = sql.SQL(
    """
    INSERT INTO vehicle_status (vehicle_key, online, changed_at)
    VALUES (%s, %s, %s)
    ON CONFLICT (vehicle_key) DO UPDATE
        SET online = EXCLUDED.online, changed_at = EXCLUDED.changed_at
        WHERE vehicle_status.online IS DISTINCT FROM EXCLUDED.online
    """
)

COPY_DEAD_LETTERS: Final = sql.SQL(
    "COPY dead_letters (topic, payload, reason, detail, received_at) FROM STDIN"
)
