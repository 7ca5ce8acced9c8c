"""Rows dropped without a conflict, as TimescaleDB before 2.18.1 drops them from a multi-row
``INSERT ... ON CONFLICT DO NOTHING`` into compressed chunks (timescale/timescaledb#7672),
emulated on plain PostgreSQL by a trigger that skips the rows it is told to."""

from __future__ import annotations

from typing import Any, Literal

import psycopg

#: The latitude of the rows the trigger drops.
DROPPED_LAT = 11.0


def drop_marked_rows(conn: psycopg.Connection[Any], when: Literal["bulk", "always"]) -> None:
    """Skip every telemetry row at :data:`DROPPED_LAT`: in the store's multi-row staged
    insert only (``bulk``, as the bug does), or in every insert (``always``)."""
    conn.execute(
        """
        CREATE FUNCTION drop_marked() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.lat = 11.0
               AND (TG_ARGV[0] = 'always' OR current_query() LIKE '%unproven%') THEN
                RETURN NULL;
            END IF;
            RETURN NEW;
        END $$
        """
    )
    trigger = "CREATE TRIGGER drop_marked BEFORE INSERT ON telemetry FOR EACH ROW EXECUTE "
    conn.execute(
        trigger
        + ("FUNCTION drop_marked('bulk')" if when == "bulk" else "FUNCTION drop_marked('always')")
    )
