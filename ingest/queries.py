"""The ingester's own SQL: vehicles, statuses and dead letters (points and events go through
the store's write path, :mod:`fleet.telemetry`)."""

from __future__ import annotations

from typing import Final

from psycopg import sql

__all__ = [
    "SELECT_VEHICLES",
    "UPSERT_DEAD_LETTER",
    "UPSERT_STATUS",
    "UPSERT_VEHICLES",
]

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
