"""Backfill: a long simulated history written straight into the database with COPY.

What the ingester would have stored, without the broker: vehicles are upserted, telemetry is
deduplicated on (vehicle, device timestamp) keeping the first transmitted copy, as the
ingester does, and written with binary COPY (the rows are built as one numpy buffer in
PostgreSQL's binary COPY format) into a staging table, then ``INSERT ... ON CONFLICT DO
NOTHING``, one transaction per chunk; so a backfill can be re-run, or overlap a live stream,
without storing a point twice. ``received_at`` is the point's transmission time plus 50 ms.
Malformed payloads are not written (they are the ingester's dead letters to make).
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC as _UTC
from datetime import datetime

import numpy as np
import numpy.typing as npt
import psycopg
import structlog

from simulators import _queries as q
from simulators.errors import BackfillError
from simulators.render import Rendered
from simulators.simulation import Simulation

__all__ = ["BackfillCounts", "backfill", "copy_binary_telemetry"]

log = structlog.get_logger(__name__)

_PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in Unix microseconds
_RECEIVE_DELAY_MS = 50
_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
_TRAILER = (-1).to_bytes(2, "big", signed=True)

# (column, on-wire type, source field or None for computed)
_COLUMNS: tuple[tuple[str, str], ...] = (
    ("vehicle_key", ">i4"),
    ("ts", ">i8"),
    ("lat", ">f8"),
    ("lon", ">f8"),
    ("speed_kmh", ">f4"),
    ("heading_deg", ">f4"),
    ("hdop", ">f4"),
    ("soc_pct", ">f4"),
    ("voltage_v", ">f4"),
    ("current_a", ">f4"),
    ("batt_temp_c", ">f4"),
    ("odometer_km", ">f8"),
    ("seq", ">i8"),
    ("received_at", ">i8"),
)
_OPTIONAL = frozenset(
    ("speed_kmh", "heading_deg", "hdop", "soc_pct", "voltage_v", "current_a", "batt_temp_c")
)


def _row_dtype(absent: frozenset[str]) -> np.dtype[np.void]:
    """The binary COPY row with ``absent`` columns sent as NULL (length -1, no data)."""
    fields: list[tuple[str, str]] = [("nfields", ">i2")]
    for name, kind in _COLUMNS:
        fields.append((f"{name}_len", ">i4"))
        if name not in absent:
            fields.append((name, kind))
    return np.dtype(fields)


@dataclass
class BackfillCounts:
    """What a backfill wrote."""

    vehicles: int = 0
    points_sent: int = 0  # rows the devices transmitted (duplicates included)
    points_inserted: int = 0  # rows new to the telemetry table
    duplicates: int = 0  # rows already there, or sent twice
    events_inserted: int = 0
    malformed_skipped: int = 0
    seconds: float = 0.0

    @property
    def points_per_second(self) -> float:
        """Inserted points per second of wall time."""
        return self.points_inserted / self.seconds if self.seconds > 0 else 0.0


def copy_binary_telemetry(points: np.ndarray, vehicle_keys: npt.NDArray[np.int64]) -> bytes:
    """Telemetry rows in PostgreSQL's binary COPY format (header and trailer included).

    ``vehicle_keys[i]`` is the database key of ``points['vehicle_index'] == i``. NaN (an
    absent optional value) is sent as NULL: rows are grouped by which values they lack, and
    each group is one fixed-layout numpy buffer (rows may come in any order in a COPY).
    """
    optional = sorted(_OPTIONAL)
    pattern = np.zeros(points.size, dtype=np.int64)
    for bit, name in enumerate(optional):
        pattern |= np.isnan(points[name]).astype(np.int64) << bit
    blocks = [_HEADER]
    for code in np.unique(pattern).tolist():  # a loop over the few NULL patterns
        absent = frozenset(name for bit, name in enumerate(optional) if code >> bit & 1)
        part = points[pattern == code]
        rows = np.empty(part.size, dtype=_row_dtype(absent))
        rows["nfields"] = len(_COLUMNS)
        for name, kind in _COLUMNS:
            rows[f"{name}_len"] = -1 if name in absent else np.dtype(kind).itemsize
        rows["vehicle_key"] = vehicle_keys[part["vehicle_index"]]
        rows["ts"] = part["ts"].astype(np.int64) * 1000 - _PG_EPOCH_US
        received_us = (part["sent_ts"].astype(np.int64) + _RECEIVE_DELAY_MS) * 1000
        rows["received_at"] = received_us - _PG_EPOCH_US
        for name, _ in _COLUMNS[2:-1]:
            if name not in absent:
                rows[name] = part[name]
        blocks.append(rows.tobytes())
    blocks.append(_TRAILER)
    return b"".join(blocks)


def _first_copies(points: np.ndarray) -> np.ndarray:
    """The first transmitted copy of each (vehicle, device ts): what the ingester keeps."""
    if points.size == 0:
        return points
    order = np.lexsort((points["sent_ts"], points["ts"], points["vehicle_index"]))
    ranked = points[order]
    first = np.ones(ranked.size, dtype=bool)
    first[1:] = (ranked["vehicle_index"][1:] != ranked["vehicle_index"][:-1]) | (
        ranked["ts"][1:] != ranked["ts"][:-1]
    )
    return ranked[first]


def _event_rows(
    events: np.ndarray, vehicle_keys: npt.NDArray[np.int64]
) -> Iterable[tuple[object, ...]]:
    ts = events["ts"].astype("datetime64[ms]").astype(object)
    received = (events["ts"] + np.timedelta64(_RECEIVE_DELAY_MS + 300, "ms")).astype(object)
    keys = vehicle_keys[events["vehicle_index"]]
    for i in range(events.size):  # a loop per event (rides and charges), not per point
        code = str(events["code"][i])
        yield (
            int(keys[i]),
            ts[i].replace(tzinfo=_UTC),
            str(events["type"][i]),
            str(events["ride_id"][i]) or None,
            str(events["rider"][i]) or None,
            json.dumps({"code": code}) if code else "{}",
            received[i].replace(tzinfo=_UTC),
        )


def _copy(cur: psycopg.Cursor[tuple[object, ...]], statement: object, data: bytes) -> None:
    payload = memoryview(data)
    step = 8 << 20
    with cur.copy(statement) as copy:  # type: ignore[arg-type]
        for lo in range(0, len(payload), step):
            copy.write(payload[lo : lo + step])


def _aware(value: np.datetime64) -> datetime:
    moment: datetime = value.astype("datetime64[ms]").astype(datetime)
    return moment.replace(tzinfo=_UTC)


@dataclass(frozen=True)
class _Prepared:
    piece: Rendered
    kept: np.ndarray
    data: bytes


def _prepare(
    sim: Simulation, chunk_days: float, keys: npt.NDArray[np.int64]
) -> Iterator[_Prepared]:
    for piece in sim.chunks(chunk_days):
        kept = _first_copies(piece.points)
        yield _Prepared(piece, kept, copy_binary_telemetry(kept, keys))


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

    worker = threading.Thread(target=produce, name="backfill-render", daemon=True)
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


def _write_piece(
    conn: psycopg.Connection[tuple[object, ...]],
    prepared: _Prepared,
    keys: npt.NDArray[np.int64],
    counts: BackfillCounts,
) -> None:
    piece, kept, data = prepared.piece, prepared.kept, prepared.data
    counts.points_sent += int(piece.points.size)
    counts.malformed_skipped += int(piece.malformed.size)
    inserted = 0
    with conn.transaction():
        conn.execute(q.TRUNCATE_STAGES)
        with conn.cursor() as cur:
            direct = False
            if kept.size:
                lo, hi = kept["ts"].min(), kept["ts"].max()
                bounds = [_aware(lo), _aware(hi)]
                clash = cur.execute(q.ANY_TELEMETRY_IN_RANGE, (keys.tolist(), *bounds)).fetchone()
                if clash is None:  # a fresh history: straight into the table
                    try:
                        with conn.transaction():
                            _copy(cur, q.COPY_TELEMETRY, data)
                        direct = True
                        inserted = int(kept.size)
                    except psycopg.errors.UniqueViolation:
                        direct = False  # a skewed clock met a stored fix: take the safe way
            if not direct:
                _copy(cur, q.COPY_TELEMETRY_STAGE, data)
                cur.execute(q.INSERT_TELEMETRY)
                inserted = max(cur.rowcount, 0)
            if piece.events.size:
                with cur.copy(q.COPY_EVENTS_STAGE) as copy:
                    for row in _event_rows(piece.events, keys):
                        copy.write_row(row)
                cur.execute(q.INSERT_EVENTS)
                counts.events_inserted += max(cur.rowcount, 0)
    counts.points_inserted += inserted
    counts.duplicates += int(piece.points.size) - inserted


def backfill(
    dsn: str,
    sim: Simulation,
    chunk_days: float = 14.0,
    progress: Callable[[BackfillCounts], None] | None = None,
) -> BackfillCounts:
    """Write the simulation's vehicles, telemetry and events into the database at ``dsn``.

    Renders ``chunk_days`` at a time (memory stays bounded for years of history) and commits
    each chunk. Returns the counts; ``progress`` is called after each chunk.

    Raises
    ------
    BackfillError
        When the schema is missing (run ``pogo db upgrade``) or the database refuses rows.
    """
    counts = BackfillCounts()
    began = time.perf_counter()
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            vehicles = sim.vehicles
            rows = conn.execute(
                q.UPSERT_VEHICLES,
                (
                    list(vehicles["fleet"]),
                    list(vehicles["vehicle"]),
                    list(vehicles["battery_kwh"].astype(float)),
                ),
            ).fetchall()
            by_id = {(str(f), str(v)): int(k) for f, v, k in rows}
            keys = np.array(
                [
                    by_id[(str(f), str(v))]
                    for f, v in zip(vehicles["fleet"], vehicles["vehicle"], strict=True)
                ],
                dtype=np.int64,
            )
            counts.vehicles = len(rows)
            conn.execute(q.CREATE_TELEMETRY_STAGE)
            conn.execute(q.CREATE_EVENTS_STAGE)
            # Each chunk commits on its own and a re-run skips what is stored, so a crash
            # costs at most the last chunks: no need to wait for each commit's flush.
            conn.execute(q.ASYNC_COMMIT)
            for prepared in _ahead(_prepare(sim, chunk_days, keys)):
                _write_piece(conn, prepared, keys, counts)
                counts.seconds = time.perf_counter() - began
                log.info(
                    "backfill chunk committed",
                    points_inserted=counts.points_inserted,
                    events_inserted=counts.events_inserted,
                )
                if progress is not None:
                    progress(counts)
    except psycopg.errors.UndefinedTable as exc:
        raise BackfillError(f"the schema is missing ({exc}); run `pogo db upgrade` first") from exc
    except psycopg.errors.DataError as exc:
        raise BackfillError(f"the database refused a simulated row: {exc}") from exc
    counts.seconds = time.perf_counter() - began
    return counts
