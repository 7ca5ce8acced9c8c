"""The ingester's SQL, all of it."""

from __future__ import annotations

from typing import Final

from psycopg import sql

from ingest._pgcopy import COLUMNS

__all__ = [
    "COPY_STAGING",
    "COPY_TELEMETRY",
    "CREATE_STAGING",
    "INSERT_EVENT",
    "INSERT_TELEMETRY",
    "SELECT_VEHICLES",
    "UPSERT_DEAD_LETTER",
    "UPSERT_STATUS",
    "UPSERT_VEHICLES",
]

_COLUMNS: Final = sql.SQL(", ").join(map(sql.Identifier, COLUMNS))

# A temporary table per connection, emptied at every commit: the COPY target of a batch that
# holds points already stored (the slow path).
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

# The fast path: a batch's points straight into telemetry (a duplicate raises UniqueViolation
# and the batch is written again through the staging table).
COPY_TELEMETRY: Final = sql.SQL("COPY telemetry ({}) FROM STDIN (FORMAT BINARY)").format(_COLUMNS)

COPY_STAGING: Final = sql.SQL("COPY ingest_staging ({}) FROM STDIN (FORMAT BINARY)").format(
    _COLUMNS
)

INSERT_TELEMETRY: Final = sql.SQL(
    """
    INSERT INTO telemetry ({columns})
    SELECT {columns} FROM ingest_staging
    ON CONFLICT (vehicle_key, ts) DO NOTHING
    """
).format(columns=_COLUMNS)

# One statement (one round trip, its own transaction): the vehicles it created, and those
# that were there when it started. One created meanwhile by another ingester is in neither
# (its row appeared after the statement's snapshot): SELECT_VEHICLES finds it.
UPSERT_VEHICLES: Final = sql.SQL(
    """
    WITH wanted (fleet, vehicle) AS (SELECT * FROM unnest(%(fleets)s::text[], %(ids)s::text[])),
    created AS (
        INSERT INTO vehicles (fleet, vehicle)
        SELECT fleet, vehicle FROM wanted
        ON CONFLICT (fleet, vehicle) DO NOTHING
        RETURNING fleet, vehicle, vehicle_key
    )
    SELECT fleet, vehicle, vehicle_key FROM created
    UNION ALL
    SELECT v.fleet, v.vehicle, v.vehicle_key
    FROM vehicles AS v JOIN wanted AS w ON v.fleet = w.fleet AND v.vehicle = w.vehicle
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

# One row per distinct dead letter (migration 0010's fingerprint): a redelivered or resent
# one adds its occurrences. The returned total equals the occurrences passed in exactly when
# the row is new.
UPSERT_DEAD_LETTER: Final = sql.SQL(
    """
    INSERT INTO dead_letters (topic, payload, reason, detail, received_at, last_received_at,
                              occurrences)
    VALUES (%s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT (fingerprint) DO UPDATE
        SET occurrences = dead_letters.occurrences + EXCLUDED.occurrences,
            last_received_at = greatest(dead_letters.last_received_at,
                                        EXCLUDED.last_received_at)
    RETURNING occurrences
    """
)
