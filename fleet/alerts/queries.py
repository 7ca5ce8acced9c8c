"""Every SQL statement of the fleet alerts: their zones, the alerts, their watermarks and the
delivery outbox. Functions take an open psycopg connection; values travel as parameters."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg

__all__ = [
    "abandon_expired",
    "allocate_alert_ids",
    "clear_alerts",
    "delete_old_deliveries",
    "insert_alerts",
    "insert_deliveries",
    "last_seen",
    "load_fences",
    "mark_delivered",
    "mark_failed",
    "next_due",
    "open_alerts",
    "upsert_watermarks",
    "vehicle_names",
    "watermarks",
]

Conn = psycopg.Connection[Any]


def load_fences(conn: Conn) -> list[tuple[str, str, str, bool, float | None]]:
    """``(zone_id, name, polygon_wkt, alert_geofence, speed_limit_kmh)`` of every zone."""
    rows = conn.execute(
        "SELECT zone_id, name, polygon_wkt, alert_geofence, speed_limit_kmh FROM zones"
        " ORDER BY zone_id"
    ).fetchall()
    return [(str(r[0]), str(r[1]), str(r[2]), bool(r[3]), r[4]) for r in rows]


def open_alerts(
    conn: Conn, vehicles: Sequence[int] | None = None, kind: str | None = None
) -> list[tuple[int, int, str, str | None, int]]:
    """``(alert_id, vehicle_key, kind, zone_id, opened_ms)`` of the open alerts (of
    ``vehicles``, of ``kind``; all when None)."""
    rows = conn.execute(
        "SELECT alert_id, vehicle_key, kind, zone_id, pogo_ms(opened_at) FROM alerts"
        " WHERE cleared_at IS NULL"
        " AND (%(v)s::integer[] IS NULL OR vehicle_key = ANY(%(v)s))"
        " AND (%(k)s::text IS NULL OR kind = %(k)s)"
        " ORDER BY alert_id",
        {"v": None if vehicles is None else list(vehicles), "k": kind},
    ).fetchall()
    return [(int(r[0]), int(r[1]), str(r[2]), r[3], int(r[4])) for r in rows]


def watermarks(conn: Conn, vehicles: Sequence[int]) -> list[tuple[int, int]]:
    """``(vehicle_key, latest fix ms an alert evaluation saw)`` of those of ``vehicles``
    that have one, in key order."""
    rows = conn.execute(
        "SELECT vehicle_key, pogo_ms(evaluated_until) FROM alert_watermarks"
        " WHERE vehicle_key = ANY(%s) ORDER BY vehicle_key",
        (list(vehicles),),
    ).fetchall()
    return [(int(r[0]), int(r[1])) for r in rows]


def upsert_watermarks(conn: Conn, vehicles: Sequence[int], until_ms: Sequence[int]) -> None:
    """Move each vehicle's evaluation watermark to ``until_ms`` (never backwards)."""
    conn.execute(
        """
        INSERT INTO alert_watermarks AS w (vehicle_key, evaluated_until)
        SELECT v, pogo_ts(u) FROM unnest(%s::integer[], %s::bigint[]) AS x(v, u)
        ON CONFLICT (vehicle_key) DO UPDATE
        SET evaluated_until = greatest(w.evaluated_until, excluded.evaluated_until)
        """,
        (list(vehicles), list(until_ms)),
    )


def last_seen(conn: Conn) -> list[tuple[int, int]]:
    """``(vehicle_key, last fix ms)`` of every vehicle with a state."""
    rows = conn.execute(
        "SELECT vehicle_key, pogo_ms(last_seen) FROM vehicle_state ORDER BY vehicle_key"
    ).fetchall()
    return [(int(r[0]), int(r[1])) for r in rows]


def vehicle_names(conn: Conn, vehicles: Sequence[int]) -> dict[int, tuple[str, str]]:
    """``vehicle_key -> (fleet, vehicle)``."""
    rows = conn.execute(
        "SELECT vehicle_key, fleet, vehicle FROM vehicles WHERE vehicle_key = ANY(%s)",
        (list(vehicles),),
    ).fetchall()
    return {int(r[0]): (str(r[1]), str(r[2])) for r in rows}


def allocate_alert_ids(conn: Conn, count: int) -> list[int]:
    """``count`` new alert ids from the table's identity sequence, in increasing order."""
    rows = conn.execute(
        "SELECT nextval(pg_get_serial_sequence('alerts', 'alert_id')) FROM generate_series(1, %s)",
        (count,),
    ).fetchall()
    return sorted(int(r[0]) for r in rows)


def insert_alerts(conn: Conn, rows: Sequence[Sequence[Any]]) -> None:
    """Insert ``(alert_id, vehicle_key, kind, zone_id, opened_at, cleared_at, value,
    threshold)`` rows (times as UTC datetimes, cleared_at None while open)."""
    if not rows:
        return
    cols = list(zip(*rows, strict=True))
    conn.execute(
        """
        INSERT INTO alerts (alert_id, vehicle_key, kind, zone_id, opened_at, cleared_at, value,
                            threshold)
        OVERRIDING SYSTEM VALUE
        SELECT * FROM unnest(%s::bigint[], %s::integer[], %s::text[], %s::text[],
                             %s::timestamptz[], %s::timestamptz[], %s::float8[], %s::float8[])
        """,
        [list(c) for c in cols],
    )


def clear_alerts(conn: Conn, alert_ids: Sequence[int], cleared_at: Sequence[datetime]) -> None:
    """Clear open alerts, each at its time."""
    conn.execute(
        """
        UPDATE alerts AS a SET cleared_at = greatest(x.c, a.opened_at)
        FROM unnest(%s::bigint[], %s::timestamptz[]) AS x(i, c)
        WHERE a.alert_id = x.i AND a.cleared_at IS NULL
        """,
        (list(alert_ids), list(cleared_at)),
    )


def insert_deliveries(conn: Conn, rows: Sequence[Sequence[Any]]) -> None:
    """Queue ``(delivery_id, alert_id, transition, body)`` rows in the outbox."""
    if not rows:
        return
    cols = list(zip(*rows, strict=True))
    conn.execute(
        """
        INSERT INTO alert_deliveries (delivery_id, alert_id, transition, body)
        SELECT * FROM unnest(%s::uuid[], %s::bigint[], %s::text[], %s::text[])
        """,
        [list(c) for c in cols],
    )


def next_due(conn: Conn, now: datetime, skip: Sequence[str]) -> tuple[str, str, int] | None:
    """The oldest delivery due at ``now`` (not in ``skip``), locked until the transaction ends
    (a second deliverer skips it): ``(delivery_id, body, attempts)``."""
    row = conn.execute(
        """
        SELECT delivery_id::text, body, attempts FROM alert_deliveries
        WHERE delivered_at IS NULL AND abandoned_at IS NULL AND next_attempt_at <= %s
          AND NOT (delivery_id::text = ANY(%s))
        ORDER BY created_at, delivery_id
        LIMIT 1
        FOR UPDATE SKIP LOCKED
        """,
        (now, list(skip)),
    ).fetchone()
    return None if row is None else (str(row[0]), str(row[1]), int(row[2]))


def mark_delivered(conn: Conn, delivery_id: str, now: datetime) -> None:
    """The receiver accepted it: never sent again."""
    conn.execute(
        "UPDATE alert_deliveries SET delivered_at = %s, attempts = attempts + 1,"
        " last_error = NULL WHERE delivery_id = %s",
        (now, delivery_id),
    )


def mark_failed(conn: Conn, delivery_id: str, retry_at: datetime, error: str) -> None:
    """It failed: try again at ``retry_at``."""
    conn.execute(
        "UPDATE alert_deliveries SET attempts = attempts + 1, next_attempt_at = %s,"
        " last_error = %s WHERE delivery_id = %s",
        (retry_at, error, delivery_id),
    )


def abandon_expired(conn: Conn, created_before: datetime) -> int:
    """Give up on undelivered deliveries queued before ``created_before``; how many."""
    cur = conn.execute(
        "UPDATE alert_deliveries SET abandoned_at = now()"
        " WHERE delivered_at IS NULL AND abandoned_at IS NULL AND created_at < %s",
        (created_before,),
    )
    return cur.rowcount


def delete_old_deliveries(conn: Conn, settled_before: datetime) -> int:
    """Delete delivered or abandoned deliveries queued before ``settled_before``."""
    cur = conn.execute(
        "DELETE FROM alert_deliveries WHERE (delivered_at IS NOT NULL OR abandoned_at IS NOT"
        " NULL) AND created_at < %s",
        (settled_before,),
    )
    return cur.rowcount
