"""The batch writer: one transaction per batch, points and events through the store's write
path (:mod:`fleet.telemetry`).

The points of a batch go straight into ``telemetry`` with one binary COPY (the fast path).
Points already stored are rare (a QoS 1 redelivery, a device resending): the COPY then fails
with a unique violation, the transaction is rolled back, and the batch is written again
through the staging table (the slow path), which proves for each point whether it was stored
or was a duplicate; a point the database neither stored nor holds becomes a ``not_stored``
dead letter. Duplicates inside one batch never reach the database: they are removed with
numpy first (the first arrival of each (vehicle, ts) is kept), so both paths count them
exactly.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import psycopg
from psycopg_pool import ConnectionPool

from fleet import (
    AlreadyStored,
    Events,
    create_staging,
    stage_points,
    write_events,
    write_points,
)
from fleet.riders import RiderKey, strip_riders
from ingest import queries
from ingest.batch import DeadLetter, WriteSet
from wire.errors import Reason
from wire.point import OPTIONAL_FIELDS, SEQ_ABSENT
from wire.topics import format_topic

__all__ = ["WriteResult", "Writer", "prepare_connection"]


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


def prepare_connection(conn: psycopg.Connection[Any]) -> None:
    """Pool ``configure`` callback: autocommit (a batch is one explicit transaction, a
    vehicle lookup a statement of its own) and the connection's staging table."""
    conn.autocommit = True
    create_staging(conn)


def _not_stored(ws: WriteSet, lost: np.ndarray) -> list[DeadLetter]:
    """Dead letters for points the database neither stored nor holds: the point as JSON."""
    letters = []
    for i in lost.tolist():
        p = ws.points[i]
        fleet, vehicle = ws.vehicles[int(ws.point_vehicle[i])]
        body: dict[str, object] = {
            "ts": int(p["ts_ms"]),
            "lat": float(p["lat"]),
            "lon": float(p["lon"]),
        }
        for name in OPTIONAL_FIELDS:
            value = p[name].item()
            if value == value and value != SEQ_ABSENT:  # NaN, SEQ_ABSENT: absent
                body[name] = value
        letters.append(
            DeadLetter(
                format_topic(fleet, vehicle, "telemetry", ws.root),
                orjson.dumps(body),
                Reason.NOT_STORED,
                "the database neither stored this point nor holds it (a row dropped without "
                "a conflict, as TimescaleDB before 2.18.1 does)",
                dt.datetime.fromtimestamp(int(ws.point_received_ms[i]) / 1000, dt.UTC),
                points=1,
            )
        )
    return letters


class Writer:
    """Writes :class:`WriteSet` s through a pool; caches vehicle keys once committed."""

    def __init__(
        self, pool: ConnectionPool[Any], rider_key: RiderKey, connection_timeout_s: float = 5.0
    ) -> None:
        self.pool = pool
        self.rider_key = rider_key
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
        except AlreadyStored:
            return self._write(ws, started, fast=False)

    def _write(self, ws: WriteSet, started: float, fast: bool) -> WriteResult:
        with self.pool.connection(timeout=self.connection_timeout_s) as conn:
            keys = self._resolve(conn, ws.vehicles)
            with conn.transaction():
                written = write_points(
                    conn,
                    stage_points(ws.points, keys[ws.point_vehicle], ws.point_received_ms),
                    direct=fast,
                )
                events_stored = write_events(
                    conn,
                    [int(keys[v]) for v, _, _ in ws.events],
                    Events(
                        ts=[
                            dt.datetime.fromtimestamp(e.ts_ms / 1000, dt.UTC)
                            for _, e, _ in ws.events
                        ],
                        type=[e.type for _, e, _ in ws.events],
                        ride_id=[e.ride_id for _, e, _ in ws.events],
                        rider=[e.rider for _, e, _ in ws.events],
                        attributes=[e.attributes for _, e, _ in ws.events],
                        received_at=[received for _, _, received in ws.events],
                    ),
                    self.rider_key,
                )
                if ws.statuses:
                    with conn.cursor() as cur:
                        cur.executemany(
                            queries.UPSERT_STATUS,
                            [(int(keys[v]), online, at) for v, online, at in ws.statuses],
                        )
                lost = _not_stored(ws, written.not_stored)
                new, repeated = self._dead_letters(conn, ws.dead_letters + lost)
        return WriteResult(
            stored=written.stored,
            duplicates=written.duplicates,
            events_stored=events_stored,
            events_duplicate=len(ws.events) - events_stored,
            commit_seconds=time.perf_counter() - started,
            committed_at=time.time(),
            dead_letters=new,
            repeated_dead_letters=repeated,
            slow_path=not fast,
        )

    @staticmethod
    def _dead_letters(
        conn: psycopg.Connection[Any], letters: list[DeadLetter]
    ) -> tuple[list[DeadLetter], list[DeadLetter]]:
        """Upsert the batch's dead letters; ``(new, repeated)``, one entry per occurrence."""
        if not letters:
            return [], []
        groups: dict[tuple[str, bytes, str, str], list[DeadLetter]] = {}
        for d in letters:
            # No rider value is kept: JSON without it, or nothing of a payload that is not JSON.
            payload = strip_riders(d.payload)
            detail = d.detail if payload is not None else f"{d.detail} (payload not kept)"
            key = (d.topic, b"" if payload is None else payload, str(d.reason), detail)
            groups.setdefault(key, []).append(d)
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
