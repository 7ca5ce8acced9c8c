"""The telemetry write path: how points and ride/charge events enter the store.

The ingester (one batch of messages per transaction) and the simulator's backfill (one chunk
of history per transaction) both write through here, so there is one encoder, one
de-duplication rule, one set of statements and one proof of what was stored.

Points are first *staged* (:func:`stage_points`, pure numpy, safe to run in another thread):
of several points with the same (vehicle, device timestamp) only the first in the order given
is kept, and the rest are laid out as one binary ``COPY`` in (ts, vehicle) order. Then
:func:`write_points` writes them inside the caller's transaction:

direct (the fast path)
    ``COPY`` straight into ``telemetry``. A COPY stores every row or fails: when one point is
    already stored it fails with a unique violation, raised as :class:`AlreadyStored` (the
    transaction is then aborted: roll it back, or the savepoint around the call, and write
    again with ``direct=False``).
staged (the slow path)
    ``COPY`` into the connection's staging table, then one statement that inserts with
    ``ON CONFLICT DO NOTHING`` and compares the keys it ``RETURNING`` s with the staged keys
    and with the keys stored before it: a staged key is *stored* (returned), a *duplicate*
    (stored before the statement), or *unproven*. A duplicate is never inferred from a row
    count: TimescaleDB before 2.18.1 silently drops rows of a multi-row ``INSERT ... ON
    CONFLICT DO NOTHING`` into compressed chunks (timescale/timescaledb#7672), and such a row
    is neither returned nor stored. Each unproven point is then written on its own (a
    single-row insert) and looked up: stored, duplicate, or reported in
    :attr:`PointsWritten.not_stored` for the caller to dead-letter or refuse.

Events go in with one ``INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING``
(``vehicle_events`` is a plain table everywhere, never a hypertable, so its row count is
exact).
"""

from __future__ import annotations

import datetime as dt
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg
from psycopg.types.json import Jsonb

from fleet import queries
from fleet._pgcopy import copy_payload
from fleet.errors import TelemetryWriteError
from fleet.riders import RiderKey, pseudonym
from fleet.store import refresh_daily

__all__ = [
    "AlreadyStored",
    "Events",
    "HistoryChunk",
    "HistoryReport",
    "PointsWritten",
    "StagedPoints",
    "Vehicles",
    "create_staging",
    "register_vehicles",
    "stage_points",
    "unique_points",
    "write_events",
    "write_history",
    "write_points",
]

Conn = psycopg.Connection[Any]
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_ONE_MS = dt.timedelta(milliseconds=1)
_COPY_STEP = 8 << 20  # bytes handed to one copy.write


class AlreadyStored(Exception):
    """The direct COPY met a point already in ``telemetry`` (the transaction is aborted)."""


def create_staging(conn: Conn) -> None:
    """Create the connection's staging table (temporary, emptied at every commit); call once
    per connection (a pool's ``configure`` callback), before any slow-path write."""
    conn.execute(queries.CREATE_TELEMETRY_STAGING)


def unique_points(vehicle_key: np.ndarray, ts_ms: np.ndarray) -> np.ndarray:
    """Indices of the points to write, in (ts, vehicle_key) order: of several points with
    the same key only the first (in the order given) is kept.

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


@dataclass(frozen=True)
class StagedPoints:
    """Points ready to write: which of the given ones are kept, their keys, the COPY bytes.

    ``keep`` indexes the points given to :func:`stage_points` (the first arrival of each
    key, in write order); ``vehicle_key`` and ``ts_ms`` are the kept points' keys.
    """

    given: int
    keep: npt.NDArray[np.intp]
    vehicle_key: npt.NDArray[np.int32]
    ts_ms: npt.NDArray[np.int64]
    payload: bytes

    @property
    def lo_hi_ms(self) -> tuple[int, int]:
        """The earliest and latest device time staged (epoch ms); needs a point."""
        return int(self.ts_ms.min()), int(self.ts_ms.max())


def stage_points(
    points: np.ndarray, vehicle_key: npt.ArrayLike, received_ms: npt.ArrayLike
) -> StagedPoints:
    """De-duplicate and encode points for :func:`write_points` (pure numpy).

    Parameters
    ----------
    points
        :data:`wire.point.POINT_DTYPE`, validated; NaN (``SEQ_ABSENT`` for ``seq``) is
        absent and stored as NULL.
    vehicle_key
        int32, the ``vehicles.vehicle_key`` of each point.
    received_ms
        int64, when each point was received (epoch ms), stored as ``received_at``.
    """
    keys = np.asarray(vehicle_key, dtype=np.int32)
    received = np.asarray(received_ms, dtype=np.int64)
    if keys.shape != (len(points),) or received.shape != (len(points),):
        raise ValueError(
            f"vehicle_key has shape {keys.shape} and received_ms {received.shape}; expected "
            f"({len(points)},) each, one per point"
        )
    keep = unique_points(keys, points["ts_ms"])
    kept = points[keep]
    payload = copy_payload(kept, keys[keep], received[keep]) if len(keep) else b""
    return StagedPoints(len(points), keep, keys[keep], kept["ts_ms"], payload)


@dataclass(frozen=True)
class PointsWritten:
    """What :func:`write_points` did with the points given to :func:`stage_points`.

    ``stored`` new rows; ``duplicates`` points whose key was stored already or repeated
    among the points given; ``not_stored`` indices (into the points given) of points the
    database neither stored nor holds (a row silently dropped; empty on a sound database).
    """

    stored: int
    duplicates: int
    not_stored: npt.NDArray[np.intp] = field(default_factory=lambda: np.empty(0, np.intp))
    slow_path: bool = False


def _copy(cur: psycopg.Cursor[Any], statement: Any, data: bytes) -> None:
    view = memoryview(data)
    with cur.copy(statement) as copy:
        for lo in range(0, len(view), _COPY_STEP):
            copy.write(view[lo : lo + _COPY_STEP])


def write_points(conn: Conn, staged: StagedPoints, *, direct: bool) -> PointsWritten:
    """Write staged points inside the caller's transaction (see the module's notes).

    Raises
    ------
    AlreadyStored
        With ``direct``, when a point is already stored (nothing of it is written and the
        transaction is aborted).
    """
    n = len(staged.keep)
    if not n:
        return PointsWritten(0, staged.given)
    with conn.cursor() as cur:
        if direct:
            try:
                _copy(cur, queries.COPY_TELEMETRY, staged.payload)
            except psycopg.errors.UniqueViolation as exc:
                raise AlreadyStored from exc
            return PointsWritten(n, staged.given - n)
        _copy(cur, queries.COPY_TELEMETRY_STAGING, staged.payload)
        row = cur.execute(queries.INSERT_STAGED_TELEMETRY).fetchone()
        stored, unproven_keys, unproven_ts = row if row else (0, [], [])
        stored = int(stored)
        lost: list[int] = []
        for key, ts in zip(unproven_keys, unproven_ts, strict=True):
            if cur.execute(queries.INSERT_STAGED_POINT, (key, ts)).fetchone():
                stored += 1
            elif cur.execute(queries.POINT_STORED, (key, ts)).fetchone() is None:
                lost.append(_position(staged, int(key), (ts - _EPOCH) // _ONE_MS))
    not_stored = staged.keep[np.array(lost, dtype=np.intp)]
    return PointsWritten(stored, staged.given - stored - len(lost), not_stored, slow_path=True)


def _position(staged: StagedPoints, key: int, ts_ms: int) -> int:
    """Where the staged point of ``(key, ts_ms)`` is in ``staged.keep``."""
    (hit,) = np.flatnonzero((staged.vehicle_key == key) & (staged.ts_ms == ts_ms))[:1]
    return int(hit)


@dataclass(frozen=True)
class Events:
    """Ride and charge events, one entry per event in each sequence."""

    ts: Sequence[dt.datetime]
    type: Sequence[str]
    ride_id: Sequence[str | None]
    rider: Sequence[str | None]
    attributes: Sequence[Mapping[str, Any]]
    received_at: Sequence[dt.datetime]

    def __len__(self) -> int:
        return len(self.ts)


def write_events(
    conn: Conn, vehicle_key: Sequence[int], events: Events, rider_key: RiderKey
) -> int:
    """Insert events (one statement; an event already stored, or repeated, is skipped); the
    number stored. ``vehicle_key[i]`` is event ``i``'s vehicle. Each rider token is stored as
    its pseudonym under ``rider_key`` (:func:`fleet.riders.pseudonym`), never as given."""
    if not len(events):
        return 0
    params = (
        [int(k) for k in vehicle_key],
        list(events.ts),
        list(events.type),
        list(events.ride_id),
        [None if r is None else pseudonym(rider_key, r) for r in events.rider],
        [Jsonb(a) for a in events.attributes],
        list(events.received_at),
    )
    with conn.cursor() as cur:
        cur.execute(queries.INSERT_EVENTS, params)
        return max(cur.rowcount, 0)


@dataclass(frozen=True)
class Vehicles:
    """Vehicles to register: ``fleet[i]``, ``vehicle[i]`` and ``battery_kwh[i]`` each."""

    fleet: Sequence[str]
    vehicle: Sequence[str]
    battery_kwh: Sequence[float]


def register_vehicles(conn: Conn, vehicles: Vehicles) -> npt.NDArray[np.int32]:
    """Create or update the vehicles (battery capacity); their ``vehicle_key`` s, in order."""
    fleets, ids = [str(f) for f in vehicles.fleet], [str(v) for v in vehicles.vehicle]
    rows = conn.execute(
        queries.UPSERT_VEHICLES, (fleets, ids, [float(b) for b in vehicles.battery_kwh])
    ).fetchall()
    by_id = {(str(f), str(v)): int(k) for f, v, k in rows}
    return np.array([by_id[key] for key in zip(fleets, ids, strict=True)], dtype=np.int32)


@dataclass(frozen=True)
class HistoryChunk:
    """A piece of history: points and events, vehicles by index into the :class:`Vehicles`.

    ``points`` are :data:`wire.point.POINT_DTYPE` in the order they were sent (of two with one
    key the first is kept), ``point_received_ms`` when each was received (epoch ms).
    """

    points: np.ndarray
    point_vehicle: npt.NDArray[np.integer[Any]]
    point_received_ms: npt.NDArray[np.int64]
    events: Events
    event_vehicle: npt.NDArray[np.integer[Any]]


@dataclass
class HistoryReport:
    """What :func:`write_history` wrote so far."""

    vehicles: int = 0
    points_given: int = 0
    points_stored: int = 0
    duplicates: int = 0  # points already stored, or repeated in the history
    events_stored: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class _Prepared:
    chunk: HistoryChunk
    staged: StagedPoints


def _ahead(items: Iterator[_Prepared]) -> Iterator[_Prepared]:
    """Prepare the next chunk in a thread while the current one is written (numpy and the
    database both release the GIL, so the two overlap)."""
    slot: queue.Queue[_Prepared | BaseException | None] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        slot.put(item, timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slot.put(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
            slot.put(exc)

    worker = threading.Thread(target=produce, name="history-stage", daemon=True)
    worker.start()
    try:
        while True:
            item = slot.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)


def _ms(value: int) -> dt.datetime:
    return _EPOCH + value * _ONE_MS


def _write_chunk(
    conn: Conn, keys: npt.NDArray[np.int32], prepared: _Prepared, rider_key: RiderKey
) -> tuple[PointsWritten, int]:
    """One chunk, one transaction: straight in when no stored point can clash, else staged.
    The points written and the number of events stored."""
    chunk, staged = prepared.chunk, prepared.staged
    with conn.transaction():
        written: PointsWritten | None = None
        if len(staged.keep):
            lo, hi = staged.lo_hi_ms
            clash = conn.execute(
                queries.ANY_TELEMETRY_IN_RANGE, (keys.tolist(), _ms(lo), _ms(hi))
            ).fetchone()
            if clash is None:  # a fresh history: straight into the table
                try:
                    with conn.transaction():
                        written = write_points(conn, staged, direct=True)
                except AlreadyStored:
                    written = None  # a skewed clock met a stored fix: take the safe way
        if written is None:
            written = write_points(conn, staged, direct=False)
        if len(written.not_stored):
            raise TelemetryWriteError(
                f"the database neither stored nor holds {len(written.not_stored)} points of "
                "this history (a TimescaleDB older than 2.18.1 drops rows so: upgrade it)"
            )
        events = write_events(conn, keys[chunk.event_vehicle].tolist(), chunk.events, rider_key)
        vehicle, first, last = _ranges(
            np.concatenate([staged.vehicle_key, keys[chunk.event_vehicle]]),
            np.concatenate([staged.ts_ms, [(t - _EPOCH) // _ONE_MS for t in chunk.events.ts]]),
        )
        if len(vehicle):  # so the next trip build rebuilds what this history covers
            queries.record_imports(conn, vehicle.tolist(), first.tolist(), last.tolist())
        events = write_events(conn, keys[chunk.event_vehicle].tolist(), chunk.events, rider_key)
    return written, events


def _ranges(
    vehicle: npt.NDArray[Any], ts_ms: npt.NDArray[Any]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Per vehicle, its earliest and latest time: ``(vehicle, first, last)``, vehicles sorted."""
    vehicle, ts_ms = vehicle.astype(np.int64), ts_ms.astype(np.int64)
    order = np.lexsort((ts_ms, vehicle))
    v, t = vehicle[order], ts_ms[order]
    if not len(v):
        return v, t, t
    starts = np.flatnonzero(np.r_[True, v[1:] != v[:-1]])
    ends = np.r_[starts[1:], len(v)] - 1
    return v[starts], t[starts], t[ends]


def write_history(
    dsn: str,
    vehicles: Vehicles,
    chunks: Iterable[HistoryChunk],
    rider_key: RiderKey,
    progress: Callable[[HistoryReport], None] | None = None,
) -> HistoryReport:
    """Register ``vehicles`` and write ``chunks`` into the database at ``dsn``, one
    transaction per chunk (the next chunk is produced and staged in a thread meanwhile).

    Each chunk also records, per vehicle, the device-time range it covered
    (``telemetry_imports``), so the next ``pogo trips`` rebuilds those ranges although the
    history's ``received_at`` lies behind its watermark; after the last chunk the daily
    aggregate is refreshed (:func:`fleet.store.refresh_daily`).

    A re-run, or a history overlapping what is stored, stores nothing twice. ``progress``
    is called after each chunk's commit.

    Raises
    ------
    TelemetryWriteError
        When the database neither stores a point nor holds it (the chunk is rolled back).
    psycopg.Error
        As the database raises it (``UndefinedTable`` when the schema is missing).
    """
    report = HistoryReport()
    began = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        keys = register_vehicles(conn, vehicles)
        report.vehicles = len(keys)
        create_staging(conn)
        # Each chunk commits on its own and a re-run skips what is stored, so a crash costs
        # at most the last chunks: no need to wait for each commit's flush.
        conn.execute(queries.ASYNC_COMMIT)
        prepared = (
            _Prepared(c, stage_points(c.points, keys[c.point_vehicle], c.point_received_ms))
            for c in chunks
        )
        for item in _ahead(prepared):
            written, events = _write_chunk(conn, keys, item, rider_key)
            report.points_given += item.staged.given
            report.points_stored += written.stored
            report.duplicates += written.duplicates
            report.events_stored += events
            report.seconds = time.perf_counter() - began
            if progress is not None:
                progress(report)
    # Days older than the daily aggregate's policy window are materialised here, after the
    # commits (TimescaleDB; plain PostgreSQL's view is always current).
    refresh_daily(dsn)
    report.seconds = time.perf_counter() - began
    return report
