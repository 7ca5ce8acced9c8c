"""The batch writer: one transaction per batch, COPY into staging, INSERT ... ON CONFLICT."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from ingest import queries
from ingest._pgcopy import copy_payload
from ingest.batch import WriteSet

__all__ = ["WriteResult", "Writer", "prepare_connection"]


@dataclass(frozen=True)
class WriteResult:
    """What a committed batch did."""

    stored: int
    duplicates: int
    events_stored: int
    events_duplicate: int
    dead_letters: int
    commit_seconds: float
    committed_at: float  # epoch seconds


def prepare_connection(conn: psycopg.Connection[Any]) -> None:
    """Pool ``configure`` callback: the connection's staging table."""
    conn.execute(queries.CREATE_STAGING)
    conn.commit()


class Writer:
    """Writes :class:`WriteSet` s through a pool; caches vehicle keys once committed."""

    def __init__(self, pool: ConnectionPool[Any], connection_timeout_s: float = 5.0) -> None:
        self.pool = pool
        self.connection_timeout_s = connection_timeout_s
        self._keys: dict[tuple[str, str], int] = {}

    def _resolve(
        self, conn: psycopg.Connection[Any], vehicles: list[tuple[str, str]]
    ) -> tuple[np.ndarray, dict[tuple[str, str], int]]:
        found: dict[tuple[str, str], int] = {}
        missing = sorted({v for v in vehicles if v not in self._keys})  # sorted: no deadlocks
        if missing:
            fleets, ids = [m[0] for m in missing], [m[1] for m in missing]
            conn.execute(queries.INSERT_VEHICLES, (fleets, ids))
            for fleet, vehicle, key in conn.execute(queries.SELECT_VEHICLES, (fleets, ids)):
                found[(str(fleet), str(vehicle))] = int(key)
        keys = np.array(
            [self._keys[v] if v in self._keys else found[v] for v in vehicles], dtype=np.int32
        )
        return keys, found

    def write(self, ws: WriteSet) -> WriteResult:
        """Write and commit ``ws``; raises psycopg errors (nothing is committed then)."""
        started = time.perf_counter()
        stored = events_stored = 0
        with (
            self.pool.connection(timeout=self.connection_timeout_s) as conn,
            conn.transaction(),
        ):
            keys, found = self._resolve(conn, ws.vehicles)
            if len(ws.points):
                vehicle_key = keys[ws.point_vehicle]
                order = np.lexsort((ws.points["ts_ms"], vehicle_key))  # index order
                with conn.cursor() as cur:
                    with cur.copy(queries.COPY_STAGING) as copy:
                        copy.write(
                            copy_payload(
                                ws.points[order],
                                vehicle_key[order],
                                ws.point_received_ms[order],
                            )
                        )
                    cur.execute(queries.INSERT_TELEMETRY)
                    stored = max(cur.rowcount, 0)
            if ws.events:
                with conn.cursor() as cur:
                    cur.executemany(
                        queries.INSERT_EVENT,
                        [
                            (
                                int(keys[v]),
                                dt.datetime.fromtimestamp(e.ts_ms / 1000, dt.UTC),
                                e.type,
                                e.ride_id,
                                e.rider,
                                Jsonb(e.attributes),
                                received,
                            )
                            for v, e, received in ws.events
                        ],
                    )
                    events_stored = max(cur.rowcount, 0)
            if ws.statuses:
                with conn.cursor() as cur:
                    cur.executemany(
                        queries.UPSERT_STATUS,
                        [(int(keys[v]), online, at) for v, online, at in ws.statuses],
                    )
            if ws.dead_letters:
                with conn.cursor() as cur, cur.copy(queries.COPY_DEAD_LETTERS) as copy:
                    for d in ws.dead_letters:
                        copy.write_row((d.topic, d.payload, str(d.reason), d.detail, d.received_at))
        self._keys.update(found)
        return WriteResult(
            stored=stored,
            duplicates=len(ws.points) - stored,
            events_stored=events_stored,
            events_duplicate=len(ws.events) - events_stored,
            dead_letters=len(ws.dead_letters),
            commit_seconds=time.perf_counter() - started,
            committed_at=time.time(),
        )
