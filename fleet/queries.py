"""Every SQL statement of the trip builder, the vehicle state, the telemetry write path
(:mod:`fleet.telemetry`) and the device registry (:mod:`fleet.devices`); the schema upgrade's
are in store.py.

Functions take an open psycopg connection; values always travel as parameters. Telemetry is
read with a binary ``COPY ... TO STDOUT`` of one row of arrays per vehicle (NULLs coalesced to
NaN in SQL), decoded by numpy (:func:`copy_fixes`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import psycopg
from numpy.typing import NDArray
from psycopg import sql

from fleet._pgcopy import COLUMNS as _COPY_COLUMNS
from fleet._pgcopy import array_rows
from fleet.errors import TripBuildError
from fleet.track import END_OF_TIME_MS, time_key

__all__ = [
    "ANY_TELEMETRY_IN_RANGE",
    "ASYNC_COMMIT",
    "BATTERY_HEALTH_COLUMNS",
    "COPY_FIXES",
    "COPY_TELEMETRY",
    "COPY_TELEMETRY_STAGING",
    "CREATE_TELEMETRY_STAGING",
    "INSERT_EVENTS",
    "INSERT_STAGED_POINT",
    "INSERT_STAGED_TELEMETRY",
    "NEW_ARRIVALS",
    "POINT_STORED",
    "TRIP_COLUMNS",
    "UPSERT_VEHICLES",
    "active_devices",
    "all_arrivals",
    "arrivals_since",
    "copy_fixes",
    "device_rows",
    "load_battery_health",
    "load_battery_kwh",
    "load_events",
    "load_zones",
    "mark_offline",
    "new_arrivals",
    "new_arrivals_params",
    "rebuild_from",
    "record_imports",
    "register_devices",
    "require_schema",
    "revoke_device",
    "rotate_device",
    "settling_vehicles",
    "try_lock",
    "unlock",
    "upsert_battery_health",
    "upsert_trips",
    "upsert_vehicle_state",
    "upsert_watermarks",
]

Conn = psycopg.Connection[Any]

_LOCK_KEY = 0x74726970  # 'trip': one builder at a time per database
_PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in µs since 1970-01-01

# The fixes' columns as each vehicle's row of arrays carries them (NULLs coalesced to NaN in
# SQL): the element kinds of fleet._pgcopy.array_rows, ts as µs since 2000.
_FIX_ARRAYS = (
    ("t_ms", ">i8"),
    ("lat", ">f8"),
    ("lon", ">f8"),
    ("speed_kmh", ">f8"),
    ("hdop", ">f8"),
    ("soc_pct", ">f8"),
    ("odometer_km", ">f8"),
    ("power_w", ">f8"),
)

TRIP_COLUMNS: tuple[str, ...] = (
    "vehicle_key",
    "ride_id",
    "rider",
    "source",
    "start_ts",
    "end_ts",
    "start_lat",
    "start_lon",
    "end_lat",
    "end_lon",
    "start_zone",
    "end_zone",
    "distance_km",
    "odometer_km",
    "distance_flagged",
    "duration_s",
    "avg_speed_kmh",
    "max_speed_kmh",
    "energy_kwh",
    "energy_measured",
    "fixes_used",
    "fixes_dropped",
    "dropped_by_reason",
    "co2_baseline_kg",
    "co2_electricity_kg",
    "co2_avoided_kg",
    "methodology",
    "harsh_braking",
    "harsh_acceleration",
)
"""The columns the builder writes, in the order of the rows it hands to :func:`upsert_trips`."""

_TYPES = {
    "vehicle_key": "integer",
    "ride_id": "text",
    "rider": "text",
    "source": "text",
    "start_ts": "timestamptz",
    "end_ts": "timestamptz",
    "start_zone": "text",
    "end_zone": "text",
    "distance_flagged": "boolean",
    "energy_measured": "boolean",
    "fixes_used": "integer",
    "fixes_dropped": "integer",
    "dropped_by_reason": "jsonb",
    "methodology": "text",
    "harsh_braking": "integer",
    "harsh_acceleration": "integer",
}


def builder_session(conn: Conn) -> None:
    """Settings of a trip builder's connection (its own and each reader's): no JIT. On two
    simulated years each vehicle's read (:data:`COPY_FIXES`, ~600,000 fixes) is costed high
    enough that PostgreSQL compiled it with inlining and optimisation, 170 to 690 ms of a
    1.1 to 1.4 s read (EXPLAIN ANALYZE's JIT timing), once per batch: the builder's queries
    are index range scans and aggregates that compiled code does not make faster."""
    conn.execute("SET jit = off")


def require_schema(conn: Conn) -> None:
    """Raise :class:`TripBuildError` unless migration 0080 (the last the builder writes to:
    the battery health) is applied."""
    row = conn.execute(
        "SELECT 1 FROM information_schema.columns "
        "WHERE table_name = 'trips' AND column_name = 'harsh_acceleration'"
    ).fetchone()
    health = conn.execute("SELECT to_regclass('battery_health') IS NOT NULL").fetchone()
    if row is None or not (health and health[0]):
        raise TripBuildError(
            "the schema lacks the trip builder's columns or tables; run `pogo db upgrade` first"
        )


def try_lock(conn: Conn) -> bool:
    """Take the builder's session advisory lock; False when another builder holds it."""
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (_LOCK_KEY,)).fetchone()
    return bool(row and row[0])


def unlock(conn: Conn) -> None:
    """Release the builder's advisory lock."""
    conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))


# What arrived since the bounds %(since)s (received) and %(ts_from)s (device time): see
# new_arrivals.
NEW_ARRIVALS = """
WITH fixes AS (
    SELECT t.vehicle_key, min(t.ts) AS min_ts, max(t.received_at) AS max_rx,
           count(*) AS n
    FROM telemetry t
    LEFT JOIN trip_watermarks w USING (vehicle_key)
    WHERE t.received_at > %(since)s AND t.ts > %(ts_from)s
      AND t.received_at > coalesce(w.received_until - make_interval(secs => %(margin)s),
                                   '-infinity')
    GROUP BY t.vehicle_key
),
imports AS (
    SELECT i.vehicle_key, min(i.first_ts) AS min_ts, max(i.imported_at) AS max_rx
    FROM telemetry_imports i
    LEFT JOIN trip_watermarks w USING (vehicle_key)
    WHERE i.imported_at > %(since)s
      AND i.imported_at > coalesce(w.received_until - make_interval(secs => %(margin)s),
                                   '-infinity')
    GROUP BY i.vehicle_key
),
events AS (
    SELECT e.vehicle_key, min(e.ts) AS min_ts
    FROM vehicle_events e
    LEFT JOIN trip_watermarks w USING (vehicle_key)
    WHERE e.received_at > %(since)s
      AND e.received_at > coalesce(w.received_until - make_interval(secs => %(margin)s),
                                   '-infinity')
    GROUP BY e.vehicle_key
)
SELECT vehicle_key, pogo_ms(least(f.min_ts, i.min_ts, e.min_ts)),
       pogo_ms(greatest(f.max_rx, i.max_rx)), coalesce(f.n, 0)
FROM fixes f FULL JOIN imports i USING (vehicle_key) FULL JOIN events e USING (vehicle_key)
ORDER BY vehicle_key
"""


def arrivals_since(conn: Conn, margin_s: float) -> float | None:
    """The lower bound of every vehicle's watermark minus ``margin_s`` (epoch ms), or None
    when a vehicle has none yet, or one that received nothing so far (``-infinity``: a
    vehicle with events only, or a first build stopped between two time slices):
    everything is new."""
    row = conn.execute(
        """
        SELECT CASE WHEN EXISTS (
                   SELECT 1 FROM vehicles v
                   WHERE NOT EXISTS (SELECT 1 FROM trip_watermarks w
                                     WHERE w.vehicle_key = v.vehicle_key))
                    OR (SELECT min(received_until) FROM trip_watermarks) = '-infinity'
               THEN NULL
               ELSE pogo_ms((SELECT min(received_until) FROM trip_watermarks)
                            - make_interval(secs => %s)) END
        """,
        (margin_s,),
    ).fetchone()
    return None if row is None or row[0] is None else float(row[0])


def new_arrivals_params(
    conn: Conn, margin_s: float, max_age_s: float | None = None
) -> dict[str, object]:
    """The parameters of :data:`NEW_ARRIVALS` (see :func:`new_arrivals`)."""
    since_ms = arrivals_since(conn, margin_s)
    since = _BEFORE_ALL if since_ms is None else _utc(since_ms)
    ts_from = _BEFORE_ALL
    if since_ms is not None and max_age_s is not None:
        ts_from = _utc(since_ms - max_age_s * 1000)
    return {"margin": margin_s, "since": since, "ts_from": ts_from}


def new_arrivals(
    conn: Conn, margin_s: float, max_age_s: float | None = None
) -> list[tuple[int, int, int | None, int]]:
    """Vehicles with telemetry, events or imports received since their watermark minus
    ``margin_s``.

    Parameters
    ----------
    margin_s
        How far out of order two writers may commit ``received_at``.
    max_age_s
        The oldest point the ingester accepts (``POGO_INGEST_MAX_AGE_DAYS``): a point received
        after the bound has a device time after the bound minus this, which confines the scan
        to the newest chunks. None scans every chunk.

    Returns
    -------
    list of (vehicle_key, earliest device time among them, latest arrival, fixes)
        Times in ms since the epoch; the latest arrival is None for vehicles touched by events
        only; ``fixes`` counts the new telemetry rows.

    Notes
    -----
    The constant bounds, passed as parameters so that the planner sees them, let the BRIN
    index on ``telemetry.received_at`` skip old ranges and, with ``max_age_s``, exclude every
    older chunk of a TimescaleDB hypertable before execution: compressed chunks (which carry
    no ``received_at`` index) are never decompressed, so a run reads what is new, not the
    history. Imported history (``telemetry_imports``) is found by when it was imported.
    """
    rows = conn.execute(NEW_ARRIVALS, new_arrivals_params(conn, margin_s, max_age_s)).fetchall()
    return [(int(r[0]), int(r[1]), _int(r[2]), int(r[3])) for r in rows]


def all_arrivals(conn: Conn) -> list[tuple[int, int, int | None, int]]:
    """Every vehicle with stored telemetry or events, as :func:`new_arrivals` gives them, as
    if everything were new (``pogo trips --rebuild``)."""
    rows = conn.execute(
        """
        SELECT vehicle_key, pogo_ms(min(min_ts)), pogo_ms(max(max_rx)), sum(n)
        FROM (SELECT vehicle_key, min(ts) AS min_ts, max(received_at) AS max_rx, count(*) AS n
              FROM telemetry GROUP BY vehicle_key
              UNION ALL
              SELECT vehicle_key, min(ts), NULL, 0 FROM vehicle_events GROUP BY vehicle_key
              UNION ALL  -- imports consumed by the rebuild: the watermark passes them
              SELECT vehicle_key, NULL, max(imported_at), 0 FROM telemetry_imports
              GROUP BY vehicle_key) x
        GROUP BY vehicle_key
        HAVING min(min_ts) IS NOT NULL
        ORDER BY vehicle_key
        """
    ).fetchall()
    return [(int(r[0]), int(r[1]), _int(r[2]), int(r[3])) for r in rows]


def rebuild_arrivals(conn: Conn) -> list[tuple[int, int, int | None, int]] | None:
    """What :func:`all_arrivals` gives, without reading the telemetry: each vehicle's first
    fix from the primary key, its received watermark kept (None) and its fixes estimated
    from the table's row estimate, shared by the vehicles' time spans; None when that
    cannot stand in for the full scan (a vehicle never built, so no watermark to keep, or
    no row estimate yet), and :func:`all_arrivals` must be read.

    The estimate only cuts a rebuild into time slices (:mod:`fleet.slices`); the fixes are
    counted as they are read. Keeping the watermarks means that what arrived since the last
    run is read again by the next one, which finds it unchanged: the price of not scanning
    every row twice in a rebuild."""
    estimate = conn.execute(
        """
        SELECT coalesce(sum(greatest(c.reltuples, 0)), 0), bool_or(c.reltuples < 0)
        FROM pg_class c
        WHERE c.oid = 'telemetry'::regclass
           OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'telemetry'::regclass)
        """
    ).fetchone()
    rows = conn.execute(
        """
        SELECT v.vehicle_key, pogo_ms(f.first_ts), pogo_ms(f.last_ts), w.vehicle_key IS NOT NULL
        FROM vehicles v
        CROSS JOIN LATERAL (
            SELECT (SELECT ts FROM telemetry t WHERE t.vehicle_key = v.vehicle_key
                    ORDER BY ts LIMIT 1) AS first_ts,
                   (SELECT ts FROM telemetry t WHERE t.vehicle_key = v.vehicle_key
                    ORDER BY ts DESC LIMIT 1) AS last_ts
        ) f
        LEFT JOIN trip_watermarks w
               ON w.vehicle_key = v.vehicle_key AND w.received_until > '-infinity'
        WHERE f.first_ts IS NOT NULL
        ORDER BY v.vehicle_key
        """
    ).fetchall()
    # No estimate yet (never analysed: -1, or 0 rows), or a vehicle without a watermark.
    if estimate is None or estimate[1] or float(estimate[0]) < max(len(rows), 1):
        return None
    if not all(r[3] for r in rows):
        return None
    span = np.array([max(int(r[2]) - int(r[1]), 1) for r in rows], dtype=np.float64)
    counts = np.maximum(np.rint(float(estimate[0]) * span / span.sum()), 1).astype(np.int64)
    return [
        (int(r[0]), int(r[1]), None, int(c)) for r, c in zip(rows, counts.tolist(), strict=True)
    ]


def record_imports(
    conn: Conn, vehicles: Sequence[int], first_ms: Sequence[int], last_ms: Sequence[int]
) -> None:
    """Note, in the import's transaction, the device-time range it wrote for each vehicle, so
    the next trip build rebuilds it."""
    conn.execute(
        """
        INSERT INTO telemetry_imports (vehicle_key, first_ts, last_ts)
        SELECT v, pogo_ts(f), pogo_ts(l)
        FROM unnest(%s::integer[], %s::bigint[], %s::bigint[]) AS u(v, f, l)
        """,
        (list(vehicles), list(first_ms), list(last_ms)),
    )


_BEFORE_ALL = datetime(1, 1, 1, tzinfo=UTC)  # bound as a timestamptz, which the planner sees


def _utc(ms: float) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def settling_vehicles(conn: Conn, settled_before_ms: int) -> list[tuple[int, int]]:
    """Vehicles whose open tail may now be final because time passed (no new data needed):
    fixes after their ``closed_until``, which lies before ``settled_before_ms``.
    Returns ``(vehicle_key, closed_until_ms)``."""
    rows = conn.execute(
        """
        SELECT w.vehicle_key, pogo_ms(w.closed_until)
        FROM trip_watermarks w JOIN vehicle_state s USING (vehicle_key)
        WHERE s.last_seen > w.closed_until AND w.closed_until < pogo_ts(%s)
        """,
        (settled_before_ms,),
    ).fetchall()
    return [(int(r[0]), int(r[1])) for r in rows]


def rebuild_from(
    conn: Conn, vehicles: Sequence[int], earliest_ms: Sequence[int], context_s: float
) -> list[tuple[int, int | None, int | None]]:
    """Per vehicle: its watermark ``closed_until`` and the start of the earliest stored trip
    that a change at ``min(earliest, closed_until)`` may touch (one ending at or after that
    minus ``context_s``). Times in ms since the epoch, None when absent."""
    rows = conn.execute(
        """
        SELECT u.v, pogo_ms(w.closed_until),
               (SELECT pogo_ms(min(t.start_ts)) FROM trips t
                WHERE t.vehicle_key = u.v
                  AND t.end_ts >= least(pogo_ts(u.e), coalesce(w.closed_until, pogo_ts(u.e)))
                                  - make_interval(secs => %s))
        FROM unnest(%s::integer[], %s::bigint[]) AS u(v, e)
        LEFT JOIN trip_watermarks w ON w.vehicle_key = u.v
        ORDER BY u.v
        """,
        (context_s, list(vehicles), list(earliest_ms)),
    ).fetchall()
    return [(int(r[0]), _int(r[1]), _int(r[2])) for r in rows]


def _int(value: object) -> int | None:
    return None if value is None else int(value)  # type: ignore[call-overload]


# One row per vehicle: its fixes since its bound as arrays, aggregated in the order of the
# primary key's index scan (each vehicle's scan is already in time order, so nothing is
# sorted); a vehicle without fixes there has no row. The bound is a row comparison on the
# primary key's columns, which only that index can serve: with `ts >= bound` the planner chose,
# on two simulated years, a backward scan of the ts index filtering every vehicle's rows (4x
# slower for one vehicle of 40).
COPY_FIXES = """
COPY (
    SELECT u.v, f.ts, f.lat, f.lon, f.speed_kmh, f.hdop, f.soc_pct, f.odometer_km, f.power_w
    FROM unnest(%s::integer[], %s::bigint[]) AS u(v, since)
    CROSS JOIN LATERAL (
        SELECT array_agg(t.ts) AS ts, array_agg(t.lat) AS lat, array_agg(t.lon) AS lon,
               array_agg(t.speed_kmh) AS speed_kmh, array_agg(t.hdop) AS hdop,
               array_agg(t.soc_pct) AS soc_pct, array_agg(t.odometer_km) AS odometer_km,
               array_agg(t.power_w) AS power_w
        FROM (
            SELECT ts, lat, lon,
                   coalesce(speed_kmh::float8, 'NaN') AS speed_kmh,
                   coalesce(hdop::float8, 'NaN') AS hdop,
                   coalesce(soc_pct::float8, 'NaN') AS soc_pct,
                   coalesce(odometer_km, 'NaN') AS odometer_km,
                   coalesce(voltage_v::float8 * current_a::float8, 'NaN') AS power_w
            FROM telemetry
            WHERE vehicle_key = u.v AND (vehicle_key, ts) >= (u.v, pogo_ts(u.since))
            ORDER BY ts
        ) t
        HAVING count(*) > 0
    ) f
) TO STDOUT (FORMAT BINARY)
"""


def copy_fixes(
    conn: Conn, vehicles: Sequence[int], since_ms: Sequence[int]
) -> dict[str, NDArray[Any]]:
    """The fixes of each vehicle from its ``since_ms`` on, in (vehicle, time) order, as arrays.

    Returns
    -------
    dict of str to ndarray, shape (n,) each
        ``vehicle`` (int64), ``t_ms`` (int64, ms since the epoch), ``lat``, ``lon``,
        ``speed_kmh``, ``hdop``, ``soc_pct``, ``odometer_km``, ``power_w`` (voltage times
        current) (float64, NaN for NULL).

    Notes
    -----
    Read as one row of arrays per vehicle (:data:`COPY_FIXES`, decoded by
    :func:`fleet._pgcopy.array_rows`): the database reads each vehicle's index range in
    order and sends a few large messages instead of one per fix. One vehicle's array holds at
    most PostgreSQL's 1 GB per value, about 89 million fixes in one read. The order is
    checked, and restored with one sort of packed ``(vehicle, time)`` keys should the
    database ever aggregate out of order.
    """
    return _copy_fix_arrays(conn, COPY_FIXES, (list(vehicles), list(since_ms)))


# The fixes of one time slice [lo, hi) of many vehicles as one row of arrays per vehicle: one
# scan of the ts index's range reads every page of the slice once, where one primary-key range
# per vehicle would visit each page once per vehicle with fixes on it (on two simulated years
# of 40 vehicles, 3.3x slower). The arrays come in the scan's order, sorted after the read.
# Each vehicle's own lower bound is applied after the read: as a join condition it cost the
# database a quarter more.
COPY_FIX_SLICE = """
COPY (
    SELECT vehicle_key, array_agg(ts), array_agg(lat), array_agg(lon),
           array_agg(coalesce(speed_kmh::float8, 'NaN')),
           array_agg(coalesce(hdop::float8, 'NaN')),
           array_agg(coalesce(soc_pct::float8, 'NaN')),
           array_agg(coalesce(odometer_km, 'NaN')),
           array_agg(coalesce(voltage_v::float8 * current_a::float8, 'NaN'))
    FROM telemetry
    WHERE ts >= %s AND ts < %s AND vehicle_key = ANY(%s::integer[])
    GROUP BY vehicle_key
) TO STDOUT (FORMAT BINARY)
"""


def copy_fix_slice(
    conn: Conn, vehicles: Sequence[int], since_ms: Sequence[int], lo_ms: int, hi_ms: int
) -> dict[str, NDArray[Any]]:
    """The fixes of each vehicle from its ``since_ms`` on with device times in
    ``[lo_ms, hi_ms)``, as :func:`copy_fixes` gives them (:data:`COPY_FIX_SLICE`).

    The slice's bounds are sent as constants, which the planner sees (on TimescaleDB only
    the chunks of the slice are planned and read). The read runs without parallel workers
    (the trip builder's readers already keep the cores busy, and a Gather of hundreds of
    thousands of rows cost more than it saved) and without plain index scans: a bitmap scan
    of the ts index reads the slice's pages in their order, so fixes stored in time order
    come in time order and need no sort, where the ts index's own (descending) order had
    every vehicle's arrays reversed.
    """
    with conn.transaction():
        conn.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        conn.execute("SET LOCAL enable_indexscan = off")
        cols = _copy_fix_arrays(conn, COPY_FIX_SLICE, (_utc(lo_ms), _utc(hi_ms), list(vehicles)))
    order = np.argsort(np.asarray(vehicles, dtype=np.int64))
    keys = np.asarray(vehicles, dtype=np.int64)[order]
    since = np.asarray(since_ms, dtype=np.int64)[order][np.searchsorted(keys, cols["vehicle"])]
    keep = cols["t_ms"] >= since
    return cols if keep.all() else {name: values[keep] for name, values in cols.items()}


def _copy_fix_arrays(conn: Conn, query: str, params: Sequence[Any]) -> dict[str, NDArray[Any]]:
    """Run a COPY of rows ``(vehicle_key, ts[], lat[], ...)`` (the :data:`_FIX_ARRAYS`) and
    decode it, in (vehicle, time) order."""
    data = bytearray()
    with conn.cursor() as cur, cur.copy(query, params) as copy:
        for block in copy:
            data += block
    key, arrays = array_rows(data, [kind for _, kind in _FIX_ARRAYS])
    cols = dict(zip((name for name, _ in _FIX_ARRAYS), arrays, strict=True))
    cols["t_ms"] = (cols["t_ms"] + _PG_EPOCH_US) // 1000
    order = time_key(key, cols["t_ms"])
    if order.size > 1 and not (np.diff(order) > 0).all():
        # A stable sort finds each vehicle's descending or ascending run: near-linear.
        pick = np.argsort(order, kind="stable")
        key, cols = key[pick], {name: values[pick] for name, values in cols.items()}
    return {"vehicle": key, **cols}


def stored_by_vehicle(conn: Conn) -> bool:
    """Whether the telemetry's rows lie vehicle after vehicle (an import of each vehicle's
    history in turn), by the planner's statistics: the correlation of ``vehicle_key`` with
    the physical order. False without statistics (a table never analysed, or a TimescaleDB
    hypertable, whose chunks are ranges of time) and for the ingester's order, in which
    every page holds fixes of many vehicles."""
    row = conn.execute(
        "SELECT correlation FROM pg_stats WHERE schemaname = current_schema()"
        " AND tablename = 'telemetry' AND attname = 'vehicle_key'"
    ).fetchone()
    return row is not None and row[0] is not None and abs(float(row[0])) >= 0.5


def last_fix_ms(conn: Conn, vehicles: Sequence[int]) -> list[int | None]:
    """Each vehicle's latest device time (ms; None without fixes), from the primary key."""
    rows = conn.execute(
        """
        SELECT (SELECT pogo_ms(max(t.ts)) FROM telemetry t WHERE t.vehicle_key = u.v)
        FROM unnest(%s::integer[]) WITH ORDINALITY AS u(v, i) ORDER BY u.i
        """,
        (list(vehicles),),
    ).fetchall()
    return [_int(r[0]) for r in rows]


def load_events(
    conn: Conn,
    vehicles: Sequence[int],
    since_ms: Sequence[int],
    between_ms: tuple[int, int] | None = None,
) -> list[tuple[int, int, str, str | None, str | None]]:
    """Ride and charge events of each vehicle from its ``since_ms`` on (and, given
    ``between_ms``, in that ``[lo, hi)``), in (vehicle, time) order:
    ``(vehicle_key, ts_ms, type, ride_id, rider)``."""
    lo, hi = between_ms or (0, END_OF_TIME_MS)
    rows = conn.execute(
        """
        SELECT e.vehicle_key, pogo_ms(e.ts), e.type, e.ride_id, e.rider
        FROM unnest(%s::integer[], %s::bigint[]) AS u(v, since)
        JOIN vehicle_events e ON e.vehicle_key = u.v AND e.ts >= pogo_ts(u.since)
        WHERE e.type IN ('ride_start', 'ride_end', 'charge_start', 'charge_end')
          AND e.ts >= %s AND e.ts < %s
        ORDER BY e.vehicle_key, e.ts
        """,
        (list(vehicles), list(since_ms), _utc(lo), _utc(hi)),
    ).fetchall()
    return [(int(r[0]), int(r[1]), str(r[2]), r[3], r[4]) for r in rows]


def load_battery_kwh(conn: Conn, vehicles: Sequence[int]) -> dict[int, float | None]:
    """Battery capacity per vehicle (None where unknown)."""
    rows = conn.execute(
        "SELECT vehicle_key, battery_kwh FROM vehicles WHERE vehicle_key = ANY(%s)",
        (list(vehicles),),
    ).fetchall()
    return {int(r[0]): (float(r[1]) if r[1] is not None else None) for r in rows}


BATTERY_HEALTH_COLUMNS: tuple[str, ...] = (
    "samples",
    "xx_y",
    "xy_y",
    "yy_y",
    "xx_x",
    "xy_x",
    "yy_x",
    "var_x",
    "var_y",
)
"""The running sums of ``battery_health``, in :data:`fleet.capacity.SUMS` order after ``n``."""


def load_battery_health(
    conn: Conn, vehicles: Sequence[int]
) -> dict[int, tuple[int, int | None, list[float]]]:
    """Each vehicle's battery-health state: ``(sampled_until_ms, open_from_ms, sums)``,
    ``sums`` in :data:`BATTERY_HEALTH_COLUMNS` order; vehicles without a row are absent."""
    rows = conn.execute(
        sql.SQL(
            "SELECT vehicle_key, pogo_ms(sampled_until), pogo_ms(open_from), {} "
            "FROM battery_health WHERE vehicle_key = ANY(%s)"
        ).format(sql.SQL(", ").join(map(sql.Identifier, BATTERY_HEALTH_COLUMNS))),
        (list(vehicles),),
    ).fetchall()
    return {
        int(r[0]): (int(r[1]), None if r[2] is None else int(r[2]), [float(v) for v in r[3:]])
        for r in rows
    }


def upsert_battery_health(conn: Conn, rows: Sequence[Sequence[Any]]) -> None:
    """Write ``(vehicle_key, sampled_until, open_from, samples, xx_y, ..., var_y,
    capacity_kwh, stderr_kwh, rated_kwh, method)`` rows (times as UTC datetimes)."""
    if not rows:
        return
    names = ("vehicle_key", "sampled_until", "open_from", *BATTERY_HEALTH_COLUMNS)
    names += ("capacity_kwh", "stderr_kwh", "rated_kwh", "method")
    query = sql.SQL(
        "INSERT INTO battery_health ({}) VALUES ({}) ON CONFLICT (vehicle_key) DO UPDATE SET {}"
    ).format(
        sql.SQL(", ").join(map(sql.Identifier, names)),
        sql.SQL(", ").join(sql.Placeholder() * len(names)),
        sql.SQL(", ").join(
            sql.SQL("{0} = excluded.{0}").format(sql.Identifier(n)) for n in names[1:]
        ),
    )
    with conn.cursor() as cur:
        cur.executemany(query, rows)


def load_zones(conn: Conn) -> list[tuple[str, str, str, str, int]]:
    """``(zone_id, name, kind, polygon_wkt, sort)`` of every zone."""
    rows = conn.execute(
        "SELECT zone_id, name, kind, polygon_wkt, sort FROM zones ORDER BY sort, zone_id"
    ).fetchall()
    return [(str(r[0]), str(r[1]), str(r[2]), str(r[3]), int(r[4])) for r in rows]


def _staging(conn: Conn, columns: Mapping[str, NDArray[Any]]) -> None:
    cols = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(_TYPES.get(c, "double precision")))
        for c in TRIP_COLUMNS
    )
    conn.execute(
        sql.SQL("CREATE TEMP TABLE IF NOT EXISTS trips_stage ({}) ON COMMIT DELETE ROWS").format(
            cols
        )
    )
    copy_sql = sql.SQL("COPY trips_stage ({}) FROM STDIN").format(
        sql.SQL(", ").join(sql.Identifier(c) for c in TRIP_COLUMNS)
    )
    with conn.cursor() as cur, cur.copy(copy_sql) as copy:
        copy.write(copy_text(columns))


_ESCAPE = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _text_column(name: str, values: NDArray[Any]) -> list[str]:
    """One column in COPY's text format (``\\N`` for NULL: None, or NaN for a float)."""
    kind = _TYPES.get(name, "double precision")
    if kind == "timestamptz":  # int64 ms since the epoch
        return [f"{v}Z" for v in values.astype("datetime64[ms]").astype(str).tolist()]
    if kind == "boolean":
        return list(np.where(values, "t", "f").tolist())
    if kind == "integer":
        return list(values.astype(np.int64).astype(str).tolist())
    if kind == "double precision":
        # Python's float repr: the shortest text that reads back as the same double (twice
        # as fast as numpy's astype(str)); NaN is NULL.
        floats = np.asarray(values, dtype=np.float64)
        out = list(map(float.__repr__, floats.tolist()))
        for i in np.flatnonzero(np.isnan(floats)).tolist():
            out[i] = "\\N"
        return out
    raw = [None if v is None else str(v) for v in values.tolist()]
    present = "".join([v for v in raw if v is not None])
    if any(c in present for c in "\\\t\n\r"):
        raw = [None if v is None else v.translate(_ESCAPE) for v in raw]  # rare
    return ["\\N" if v is None else v for v in raw]


def copy_text(columns: Mapping[str, NDArray[Any]]) -> bytes:
    """The trips of ``columns`` (:data:`TRIP_COLUMNS`, as :class:`fleet.trips.TripFrame`
    holds them: times as int64 ms, NaN or None for NULL) in COPY's text format, one
    conversion per column rather than per value.

    Examples
    --------
    >>> cols = {c: np.array([1]) for c in TRIP_COLUMNS}
    >>> cols.update(ride_id=np.array([None], dtype=object), rider=np.array(["a\\tb"], dtype=object))
    >>> cols.update(start_ts=np.array([1500]), start_lat=np.array([np.nan]))
    >>> copy_text(cols).decode().split("\\t")[:7]
    ['1', '\\\\N', 'a\\\\tb', '1', '1970-01-01T00:00:01.500Z', '1970-01-01T00:00:00.001Z', '\\\\N']
    """
    text = [_text_column(name, np.asarray(columns[name])) for name in TRIP_COLUMNS]
    if not text[0]:
        return b""
    return ("\n".join(map("\t".join, zip(*text, strict=True))) + "\n").encode()


def delete_missing_trips(
    conn: Conn,
    vehicles: Sequence[int],
    rebuilt_from_ms: Sequence[int],
    rebuilt_until_ms: Sequence[int] | None = None,
) -> int:
    """Delete each vehicle's stored trips starting at or after its ``rebuilt_from`` (and
    before its ``rebuilt_until``, when given) that the staged rebuild no longer holds; the
    number deleted."""
    until = [END_OF_TIME_MS] * len(vehicles) if rebuilt_until_ms is None else rebuilt_until_ms
    cur = conn.execute(
        """
        DELETE FROM trips t
        USING unnest(%s::integer[], %s::bigint[], %s::bigint[]) AS u(v, since, until)
        WHERE t.vehicle_key = u.v AND t.start_ts >= pogo_ts(u.since)
          AND t.start_ts < pogo_ts(u.until)
          AND NOT EXISTS (SELECT 1 FROM trips_stage s
                          WHERE s.vehicle_key = t.vehicle_key AND s.start_ts = t.start_ts)
        """,
        (list(vehicles), list(rebuilt_from_ms), list(until)),
    )
    return cur.rowcount


def upsert_trips(
    conn: Conn,
    columns: Mapping[str, NDArray[Any]],
    vehicles: Sequence[int],
    rebuilt_from_ms: Sequence[int],
    rebuilt_until_ms: Sequence[int] | None = None,
) -> tuple[int, int, int]:
    """Stage the rebuilt trips, delete the vanished ones (of ``[rebuilt_from,
    rebuilt_until)``, see :func:`delete_missing_trips`), insert new and update changed ones.

    A trip identical to its stored row is left alone (same ``trip_id``, same ``built_at``),
    so a second run over the same data changes nothing. Runs in the caller's transaction:
    the staging table empties when it commits (``ON COMMIT DELETE ROWS``).

    Returns
    -------
    (inserted, updated, deleted)
    """
    _staging(conn, columns)
    deleted = delete_missing_trips(conn, vehicles, rebuilt_from_ms, rebuilt_until_ms)
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in TRIP_COLUMNS)
    changed = sql.SQL(" OR ").join(
        sql.SQL("t.{0} IS DISTINCT FROM excluded.{0}").format(sql.Identifier(c))
        for c in TRIP_COLUMNS
    )
    sets = sql.SQL(", ").join(
        sql.SQL("{0} = excluded.{0}").format(sql.Identifier(c)) for c in TRIP_COLUMNS
    )
    query = sql.SQL(
        "INSERT INTO trips AS t ({cols}) SELECT {cols} FROM trips_stage "
        "ON CONFLICT (vehicle_key, start_ts) DO UPDATE SET {sets}, built_at = now() "
        "WHERE {changed} RETURNING (xmax = 0)"
    ).format(cols=cols, sets=sets, changed=changed)
    flags = [bool(r[0]) for r in conn.execute(query).fetchall()]
    inserted = sum(flags)
    return inserted, len(flags) - inserted, deleted


def upsert_watermarks(
    conn: Conn,
    vehicles: Sequence[int],
    closed_until_ms: Sequence[int],
    received_until_ms: Sequence[int | None],
) -> None:
    """Record each vehicle's progress (ms since the epoch); ``received_until`` None keeps
    the stored value."""
    conn.execute(
        """
        INSERT INTO trip_watermarks AS w (vehicle_key, closed_until, received_until, updated_at)
        SELECT v, pogo_ts(c), coalesce(pogo_ts(r), '-infinity'), now()
        FROM unnest(%s::integer[], %s::bigint[], %s::bigint[]) AS u(v, c, r)
        ON CONFLICT (vehicle_key) DO UPDATE
        SET closed_until = excluded.closed_until,
            received_until = greatest(w.received_until, excluded.received_until),
            updated_at = now()
        """,
        (list(vehicles), list(closed_until_ms), list(received_until_ms)),
    )


def upsert_vehicle_state(conn: Conn, rows: Sequence[Sequence[Any]]) -> None:
    """Write ``(vehicle_key, state, lat, lon, soc_pct, odometer_km, last_seen)`` rows, never
    moving a vehicle's ``last_seen`` backwards."""
    if not rows:
        return
    with conn.cursor() as cur:
        cur.executemany(
            """
            INSERT INTO vehicle_state AS s
                (vehicle_key, state, lat, lon, soc_pct, odometer_km, last_seen, updated_at)
            VALUES (%s, %s, %s, %s, %s, %s, %s, now())
            ON CONFLICT (vehicle_key) DO UPDATE
            SET state = excluded.state, lat = excluded.lat, lon = excluded.lon,
                soc_pct = excluded.soc_pct, odometer_km = excluded.odometer_km,
                last_seen = excluded.last_seen, updated_at = now()
            WHERE excluded.last_seen >= s.last_seen
            """,
            rows,
        )


def mark_offline(conn: Conn, silent_since_ms: int) -> int:
    """Vehicles silent since before ``silent_since``, or whose device said ``offline`` after
    its last fix, become ``offline``; the number changed."""
    cur = conn.execute(
        """
        UPDATE vehicle_state s SET state = 'offline', updated_at = now()
        WHERE s.state <> 'offline'
          AND (s.last_seen < pogo_ts(%s)
               OR EXISTS (SELECT 1 FROM vehicle_status st
                          WHERE st.vehicle_key = s.vehicle_key AND NOT st.online
                            AND st.changed_at >= s.last_seen))
        """,
        (silent_since_ms,),
    )
    return cur.rowcount


# The telemetry write path (fleet/telemetry.py).

_TELEMETRY_COLUMNS = sql.SQL(", ").join(map(sql.Identifier, _COPY_COLUMNS))
_STAGING = sql.Identifier("telemetry_staging")

ASYNC_COMMIT = sql.SQL("SET synchronous_commit = off")

# A temporary table per connection, emptied at every commit: the COPY target of points that
# may be stored already (the slow path).
CREATE_TELEMETRY_STAGING = sql.SQL(
    """
    CREATE TEMP TABLE IF NOT EXISTS {staging} (
        vehicle_key integer, ts timestamptz, lat double precision, lon double precision,
        speed_kmh real, heading_deg real, hdop real, soc_pct real, voltage_v real,
        current_a real, batt_temp_c real, odometer_km double precision, seq bigint,
        received_at timestamptz
    ) ON COMMIT DELETE ROWS
    """
).format(staging=_STAGING)

# The fast path: straight into telemetry (a point already stored raises UniqueViolation).
COPY_TELEMETRY = sql.SQL("COPY telemetry ({}) FROM STDIN (FORMAT BINARY)").format(
    _TELEMETRY_COLUMNS
)

COPY_TELEMETRY_STAGING = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
    _STAGING, _TELEMETRY_COLUMNS
)

# The slow path, one statement: insert the staged points, and name the staged keys that are
# neither returned by the insert nor stored before it (every part of a statement sees the
# same snapshot, so "stored before" excludes the rows the insert adds). Those are unproven:
# a row dropped without a conflict (timescale/timescaledb#7672), or one a concurrent writer
# committed meanwhile; the caller writes and looks up each of them on its own.
INSERT_STAGED_TELEMETRY = sql.SQL(
    """
    WITH stored AS (
        INSERT INTO telemetry ({columns})
        SELECT {columns} FROM {staging}
        ON CONFLICT (vehicle_key, ts) DO NOTHING
        RETURNING vehicle_key, ts
    ),
    unproven AS (
        SELECT s.vehicle_key, s.ts FROM {staging} AS s
        WHERE NOT EXISTS (
                SELECT 1 FROM stored AS r WHERE r.vehicle_key = s.vehicle_key AND r.ts = s.ts)
          AND NOT EXISTS (
                SELECT 1 FROM telemetry AS t WHERE t.vehicle_key = s.vehicle_key AND t.ts = s.ts)
    )
    SELECT (SELECT count(*) FROM stored),
           coalesce((SELECT array_agg(vehicle_key) FROM unproven), '{{}}'),
           coalesce((SELECT array_agg(ts) FROM unproven), '{{}}')
    """
).format(columns=_TELEMETRY_COLUMNS, staging=_STAGING)

# One unproven point on its own (a single-row insert), then whether it is stored.
INSERT_STAGED_POINT = sql.SQL(
    """
    INSERT INTO telemetry ({columns})
    SELECT {columns} FROM {staging} WHERE vehicle_key = %s AND ts = %s
    ON CONFLICT (vehicle_key, ts) DO NOTHING
    RETURNING 1
    """
).format(columns=_TELEMETRY_COLUMNS, staging=_STAGING)

POINT_STORED = sql.SQL("SELECT 1 FROM telemetry WHERE vehicle_key = %s AND ts = %s")

# Whether a history chunk can clash with stored points (else it is copied straight in).
ANY_TELEMETRY_IN_RANGE = sql.SQL(
    "SELECT 1 FROM telemetry WHERE vehicle_key = ANY(%s) AND ts BETWEEN %s AND %s LIMIT 1"
)

INSERT_EVENTS = sql.SQL(
    """
    INSERT INTO vehicle_events (vehicle_key, ts, type, ride_id, rider, attributes, received_at)
    SELECT * FROM unnest(%s::integer[], %s::timestamptz[], %s::text[], %s::text[], %s::text[],
                         %s::jsonb[], %s::timestamptz[])
    ON CONFLICT (vehicle_key, ts, type) DO NOTHING
    """
)

UPSERT_VEHICLES = sql.SQL(
    """
    INSERT INTO vehicles (fleet, vehicle, battery_kwh)
    SELECT f, v, b FROM unnest(%s::text[], %s::text[], %s::float8[]) AS u(f, v, b)
    ON CONFLICT (fleet, vehicle) DO UPDATE SET battery_kwh = EXCLUDED.battery_kwh
    RETURNING fleet, vehicle, vehicle_key
    """
)

# -- the device registry (fleet.devices) ----------------------------------------------------

DeviceRow = tuple[str, str, str, Any, Any, Any]  # fleet, vehicle, hash, created, rotated, revoked


def device_rows(
    conn: Conn, fleet: str | None = None, vehicle: str | None = None
) -> list[DeviceRow]:
    """Devices in (fleet, vehicle) order, all of them or the one named."""
    return conn.execute(
        "SELECT fleet, vehicle, password_hash, created_at, rotated_at, revoked_at FROM devices"
        " WHERE (%(fleet)s::text IS NULL OR fleet = %(fleet)s)"
        " AND (%(vehicle)s::text IS NULL OR vehicle = %(vehicle)s)"
        " ORDER BY fleet, vehicle",
        {"fleet": fleet, "vehicle": vehicle},
    ).fetchall()


def active_devices(conn: Conn) -> list[tuple[str, str, str]]:
    """(fleet, vehicle, password hash) of every device not revoked, in (fleet, vehicle) order."""
    rows = conn.execute(
        "SELECT fleet, vehicle, password_hash FROM devices WHERE revoked_at IS NULL"
        " ORDER BY fleet, vehicle"
    ).fetchall()
    return [(str(f), str(v), str(h)) for f, v, h in rows]


_REGISTER_NEW = """
    INSERT INTO devices (fleet, vehicle, password_hash)
    SELECT * FROM unnest(%s::text[], %s::text[], %s::text[])
    ON CONFLICT (fleet, vehicle) DO NOTHING
"""
_REGISTER_REPLACE = """
    INSERT INTO devices (fleet, vehicle, password_hash)
    SELECT * FROM unnest(%s::text[], %s::text[], %s::text[])
    ON CONFLICT (fleet, vehicle) DO UPDATE
    SET password_hash = excluded.password_hash, rotated_at = now(), revoked_at = NULL
"""


def register_devices(conn: Conn, rows: Sequence[tuple[str, str, str]], replace: bool) -> int:
    """Insert (fleet, vehicle, hash) rows; with ``replace`` an existing device (revoked or not)
    gets the new hash and is reinstated, without it an existing device is left alone. Returns
    how many rows were inserted or changed."""
    cur = conn.execute(
        _REGISTER_REPLACE if replace else _REGISTER_NEW,
        ([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]),
    )
    return cur.rowcount


def rotate_device(conn: Conn, fleet: str, vehicle: str, password_hash: str) -> bool:
    """A new hash for an active device; False when there is no such active device."""
    cur = conn.execute(
        "UPDATE devices SET password_hash = %s, rotated_at = now()"
        " WHERE fleet = %s AND vehicle = %s AND revoked_at IS NULL",
        (password_hash, fleet, vehicle),
    )
    return cur.rowcount == 1


def revoke_device(conn: Conn, fleet: str, vehicle: str) -> bool:
    """Revoke an active device; False when there is no such active device."""
    cur = conn.execute(
        "UPDATE devices SET revoked_at = now()"
        " WHERE fleet = %s AND vehicle = %s AND revoked_at IS NULL",
        (fleet, vehicle),
    )
    return cur.rowcount == 1


# Rider pseudonyms (fleet.riders): raw tokens an older version stored, replaced in place.
RIDER_TABLES = ("vehicle_events", "trips")
_RAW_RIDER = sql.SQL("rider IS NOT NULL AND rider !~ '^p1_[0-9a-f]{64}$'")
RAW_RIDERS = sql.SQL("SELECT DISTINCT rider FROM {table} WHERE {raw}")
CREATE_RIDER_MAP = sql.SQL(
    "CREATE TEMP TABLE IF NOT EXISTS rider_map (raw text PRIMARY KEY, p text NOT NULL)"
    " ON COMMIT DROP"
)
COPY_RIDER_MAP = sql.SQL("COPY rider_map (raw, p) FROM STDIN")
PSEUDONYMISE_RIDERS = sql.SQL(
    "UPDATE {table} AS t SET rider = m.p FROM rider_map AS m WHERE t.rider = m.raw"
)
DEAD_LETTERS_WITH_RIDER = sql.SQL(
    "SELECT dead_letter_id, payload, occurrences FROM dead_letters"
    " WHERE position('rider'::bytea IN payload) > 0"
)
SET_DEAD_LETTER_PAYLOAD = sql.SQL(
    "UPDATE dead_letters SET payload = %(payload)s WHERE dead_letter_id = %(id)s"
)
# A stripped dead letter identical to one stored: its occurrences go to that row.
FOLD_DEAD_LETTER = sql.SQL(
    """
    WITH gone AS (DELETE FROM dead_letters WHERE dead_letter_id = %(id)s
                  RETURNING topic, reason, detail, occurrences)
    UPDATE dead_letters AS d SET occurrences = d.occurrences + gone.occurrences
    FROM gone
    WHERE d.fingerprint = sha256(decode(md5(gone.topic) || md5(gone.reason)
                                        || md5(coalesce(gone.detail, '')), 'hex') || %(payload)s)
    """
)
DELETE_OLD_DEAD_LETTERS = sql.SQL(
    "DELETE FROM dead_letters WHERE last_received_at < now() - make_interval(days => %(days)s)"
)


def raw_riders(table: str) -> sql.Composed:
    """The distinct raw (not yet pseudonymised) rider values of ``table``."""
    return RAW_RIDERS.format(table=sql.Identifier(table), raw=_RAW_RIDER)


def pseudonymise_riders(table: str) -> sql.Composed:
    """Replace ``table``'s raw rider values through the ``rider_map`` temp table."""
    return PSEUDONYMISE_RIDERS.format(table=sql.Identifier(table))
