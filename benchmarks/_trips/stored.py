"""A synthetic fleet stored in a database of its own, and the raw COPY-out references.

The fleet of ``tests.fleet.builders.synthetic_fleet`` is written into ``telemetry`` with the
ingester's binary COPY (``fleet._pgcopy.copy_payload``), one vehicle per 5,000 fixes as in
the in-memory benchmark, received one second after each fix. The references read exactly the
rows the trip builder reads (every fix of every vehicle, the same columns, NULLs as NaN):

* ``copy_out_psycopg``: ``COPY (SELECT ...) TO STDOUT (FORMAT BINARY)`` read through psycopg,
  as a Python program reads it (one message per row);
* ``copy_out_psql``: the same COPY written to /dev/null by ``psql`` (libpq's C loop: the pace
  of the database and the wire alone), when ``psql`` is on the PATH.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import psycopg
from psycopg import sql

from benchmarks._service.dataset import _admin_url, _with_db
from fleet import Track, upgrade
from fleet._pgcopy import COLUMNS, copy_payload
from wire.point import empty_points

_ROWS = """
SELECT vehicle_key, ts, lat, lon, coalesce(speed_kmh::float8, 'NaN'),
       coalesce(hdop::float8, 'NaN'), coalesce(soc_pct::float8, 'NaN'),
       coalesce(odometer_km, 'NaN'), coalesce(voltage_v::float8 * current_a::float8, 'NaN')
FROM telemetry
"""
_COPY_OUT = f"COPY ({_ROWS}) TO STDOUT (FORMAT BINARY)"


@contextmanager
def stored_fleet(track: Track, name: str) -> Iterator[str]:
    """A fresh database ``name`` holding ``track`` (vehicle i as vehicle key i); its URL.
    Dropped afterwards."""
    admin = _admin_url()
    ident = sql.Identifier(name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(ident))
    dsn = _with_db(admin, name)
    try:
        upgrade(dsn)
        _write(dsn, track)
        yield dsn
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))


def _write(dsn: str, track: Track) -> None:
    vehicles = np.unique(track.vehicle)
    with psycopg.connect(dsn) as conn:
        keys = [
            row[0]
            for row in conn.execute(
                "INSERT INTO vehicles (fleet, vehicle, battery_kwh) "
                "SELECT 'bench', 'v' || v, 2.3 FROM unnest(%s::bigint[]) AS v "
                "ORDER BY v RETURNING vehicle_key",
                (vehicles.tolist(),),
            )
        ]
        key = np.array(keys, dtype=np.int32)[np.searchsorted(vehicles, track.vehicle)]
        points = empty_points(len(track))
        points["ts_ms"] = track.t_ms
        for name in ("lat", "lon", "speed_kmh", "hdop", "soc_pct", "odometer_km"):
            points[name] = getattr(track, name)
        copy = sql.SQL("COPY telemetry ({}) FROM STDIN (FORMAT BINARY)").format(
            sql.SQL(", ").join(map(sql.Identifier, COLUMNS))
        )
        step = 500_000
        with conn.cursor() as cur:
            for i in range(0, len(points), step):
                part = slice(i, i + step)
                with cur.copy(copy) as out:
                    out.write(copy_payload(points[part], key[part], track.t_ms[part] + 1000))
        conn.commit()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


@contextmanager
def copied_database(source: str, name: str) -> Iterator[str]:
    """A copy ``name`` of the database at ``source`` (``CREATE DATABASE ... TEMPLATE``, so
    nobody may be connected to it meanwhile), its URL; dropped afterwards."""
    admin = _admin_url()
    ident = sql.Identifier(name)
    template = sql.Identifier(source.rsplit("/", 1)[1])
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(ident, template))
    try:
        yield _with_db(admin, name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))


def copy_out_psycopg(dsn: str) -> tuple[float, int]:
    """Seconds to read every fix with a binary COPY through psycopg, and the rows read."""
    began = time.perf_counter()
    rows = 0
    with psycopg.connect(dsn) as conn, conn.cursor() as cur, cur.copy(_COPY_OUT) as copy:
        for _ in copy:
            rows += 1
    return time.perf_counter() - began, rows - 1  # the last message is the trailer


def copy_out_psql(dsn: str) -> float | None:
    """Seconds for ``psql`` to write the same binary COPY to /dev/null (None without psql)."""
    psql = shutil.which("psql")
    if psql is None:
        return None
    command = f"\\copy ({' '.join(_ROWS.split())}) TO '/dev/null' (FORMAT binary)"
    began = time.perf_counter()
    subprocess.run([psql, dsn, "-qX", "-c", command], check=True)
    return time.perf_counter() - began
