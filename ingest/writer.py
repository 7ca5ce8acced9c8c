"""The batch writer: one transaction per batch.

The points of a batch go straight into ``telemetry`` with one binary COPY (the fast path).
Points already stored are rare (a QoS 1 redelivery, a device resending): the COPY then fails
with a unique violation, the transaction is rolled back, and the batch is written again
through a temporary staging table and ``INSERT ... ON CONFLICT DO NOTHING`` (the slow path).
Duplicates inside one batch never reach the database: they are removed with numpy first
(the first arrival of each (vehicle, ts) is kept), so both paths count them exactly.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from ingest import queries
from ingest._pgcopy import copy_payload
from ingest.batch import DeadLetter, WriteSet

__all__ = ["WriteResult", "Writer", "prepare_connection", "unique_points"]


@dataclass(frozen=True)
class WriteResult:
    """What a committed batch did.

    ``dead_letters`` are the dead letters that made new rows; ``repeated_dead_letters`` those
    already stored (a redelivery after a crash between commit and acknowledgement, or the
    same bad bytes sent again), which only added to the row's ``occurrences``.
    """

    stored: int
    duplicates: int
    events_stored: int
    events_duplicate: int
    commit_seconds: float
    committed_at: float  # epoch seconds
    dead_letters: list[DeadLetter] = field(default_factory=list)
    repeated_dead_letters: list[DeadLetter] = field(default_factory=list)
    slow_path: bool = False  # the batch held points already stored


class _AlreadyStored(Exception):
    """The fast path's COPY met a point already in ``telemetry``."""


def prepare_connection(conn: psycopg.Connection[Any]) -> None:
    """Pool ``configure`` callback: autocommit (a batch is one explicit transaction, a
    vehicle lookup a statement of its own) and the connection's staging table."""
    conn.autocommit = True
    conn.execute(queries.CREATE_STAGING)


def unique_points(vehicle_key: np.ndarray, ts_ms: np.ndarray) -> np.ndarray:
    """Indices of the points to write, in (ts, vehicle_key) order: of several points with
    the same key only the first (in batch order) is kept.

    Time order is the cheaper one for the database (the time index grows at one end; about
    10 % faster than key order, measured), and every writer takes the keys in one order.
    """
    order = np.lexsort((vehicle_key, ts_ms))  # stable: the first arrival comes first
    if len(order) < 2:
        return order
    k, t = vehicle_key[order], ts_ms[order]
    first = np.empty(len(order), dtype=bool)
    first[0] = True
    first[1:] = (k[1:] != k[:-1]) | (t[1:] != t[:-1])
    return order[first]


class Writer:
    """Writes :class:`WriteSet` s through a pool; caches vehicle keys once committed."""

    def __init__(self, pool: ConnectionPool[Any], connection_timeout_s: float = 5.0) -> None:
        self.pool = pool
        self.connection_timeout_s = connection_timeout_s
        self._keys: dict[tuple[str, str], int] = {}

    def _resolve(
        self, conn: psycopg.Connection[Any], vehicles: list[tuple[str, str]]
    ) -> np.ndarray:
        """The ``vehicle_key`` of each vehicle. Unknown vehicles are created first, in one
        statement of their own (the connection is in autocommit): creating one is idempotent,
        and holding the new rows' locks through the batch would make other ingesters writing
        the same vehicles wait for its commit."""
        missing = sorted({v for v in vehicles if v not in self._keys})  # sorted: no deadlocks
        if missing:
            params = {"fleets": [m[0] for m in missing], "ids": [m[1] for m in missing]}
            rows = conn.execute(queries.UPSERT_VEHICLES, params).fetchall()
            if len({(f, v) for f, v, _ in rows}) < len(missing):
                rows += conn.execute(queries.SELECT_VEHICLES, (params["fleets"], params["ids"]))
            self._keys.update({(str(f), str(v)): int(k) for f, v, k in rows})
        return np.array([self._keys[v] for v in vehicles], dtype=np.int32)

    def write(self, ws: WriteSet) -> WriteResult:
        """Write and commit ``ws``; raises psycopg errors (nothing is committed then)."""
        started = time.perf_counter()
        try:
            return self._write(ws, started, fast=True)
        except _AlreadyStored:
            return self._write(ws, started, fast=False)

    def _write(self, ws: WriteSet, started: float, fast: bool) -> WriteResult:
        with self.pool.connection(timeout=self.connection_timeout_s) as conn:
            keys = self._resolve(conn, ws.vehicles)
            with conn.transaction():
                stored = self._points(conn, ws, keys, fast)
                events_stored = self._events(conn, ws, keys)
                if ws.statuses:
                    with conn.cursor() as cur:
                        cur.executemany(
                            queries.UPSERT_STATUS,
                            [(int(keys[v]), online, at) for v, online, at in ws.statuses],
                        )
                new, repeated = self._dead_letters(conn, ws.dead_letters)
        return WriteResult(
            stored=stored,
            duplicates=len(ws.points) - stored,
            events_stored=events_stored,
            events_duplicate=len(ws.events) - events_stored,
            commit_seconds=time.perf_counter() - started,
            committed_at=time.time(),
            dead_letters=new,
            repeated_dead_letters=repeated,
            slow_path=not fast,
        )

    @staticmethod
    def _points(conn: psycopg.Connection[Any], ws: WriteSet, keys: np.ndarray, fast: bool) -> int:
        """COPY the batch's points (fast: into telemetry; else through staging); stored."""
        if not len(ws.points):
            return 0
        vehicle_key = keys[ws.point_vehicle]
        keep = unique_points(vehicle_key, ws.points["ts_ms"])
        payload = copy_payload(ws.points[keep], vehicle_key[keep], ws.point_received_ms[keep])
        with conn.cursor() as cur:
            if fast:
                try:
                    with cur.copy(queries.COPY_TELEMETRY) as copy:
                        copy.write(payload)
                except psycopg.errors.UniqueViolation as exc:
                    raise _AlreadyStored from exc
                return len(keep)
            with cur.copy(queries.COPY_STAGING) as copy:
                copy.write(payload)
            cur.execute(queries.INSERT_TELEMETRY)
            return max(cur.rowcount, 0)

    @staticmethod
    def _events(conn: psycopg.Connection[Any], ws: WriteSet, keys: np.ndarray) -> int:
        if not ws.events:
            return 0
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
            return max(cur.rowcount, 0)

    @staticmethod
    def _dead_letters(
        conn: psycopg.Connection[Any], letters: list[DeadLetter]
    ) -> tuple[list[DeadLetter], list[DeadLetter]]:
        """Upsert the batch's dead letters; ``(new, repeated)``, one entry per occurrence."""
        if not letters:
            return [], []
        groups: dict[tuple[str, bytes, str, str], list[DeadLetter]] = {}
        for d in letters:
            groups.setdefault((d.topic, d.payload, str(d.reason), d.detail), []).append(d)
        params = []
        for (topic, payload, reason, detail), same in groups.items():
            first = min(d.received_at for d in same)
            last = max(d.received_at for d in same)
            params.append((topic, payload, reason, detail, first, last, len(same)))
        totals: list[int] = []
        with conn.cursor() as cur:
            cur.executemany(queries.UPSERT_DEAD_LETTER, params, returning=True)
            while True:
                row = cur.fetchone()
                totals.append(int(row[0]) if row else 0)
                if not cur.nextset():
                    break
        new: list[DeadLetter] = []
        repeated: list[DeadLetter] = []
        for same, passed, total in zip(groups.values(), params, totals, strict=True):
            if total == passed[-1]:  # the row is new: its first occurrence made it
                new.append(same[0])
                repeated.extend(same[1:])
            else:
                repeated.extend(same)
        return new, repeated
