"""The devices' messages: the simulated points as payloads of the wire contract (:mod:`wire`).

Telemetry goes out as one JSON object per point (``json``), as JSON arrays of a vehicle's
points (``batch``), or in the ingester's binary encoding (``binary``, :mod:`wire.binary`,
encoded straight from the arrays with :func:`wire.binary.encode_columns`). Batches hold
the points a vehicle sends within ``batch_s`` seconds of each other (a buffered episode's
upload is one batch), at most 1,000 each. Optional values that are absent (NaN) are left out of
JSON and marked absent in binary.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import orjson

from wire import binary
from wire.point import FIELDS, OPTIONAL_FLOAT_FIELDS, POINT_DTYPE

__all__ = [
    "MESSAGE_EVENTS",
    "MESSAGE_MALFORMED",
    "MESSAGE_STATUS",
    "MESSAGE_TELEMETRY",
    "Messages",
    "Mode",
    "binary_payload",
    "event_messages",
    "json_points",
    "telemetry_messages",
    "wire_points",
]

Mode = Literal["json", "batch", "binary"]
MESSAGE_TELEMETRY, MESSAGE_EVENTS, MESSAGE_MALFORMED, MESSAGE_STATUS = 0, 1, 2, 3
_MAX_BATCH = 1000


@dataclass(frozen=True)
class Messages:
    """Messages to publish, sorted by send time.

    ``send_ms`` epoch milliseconds; ``vehicle`` index; ``kind`` MESSAGE_*; ``payload`` bytes;
    ``points`` telemetry points carried (0 for other kinds); ``retain`` for status.
    """

    send_ms: npt.NDArray[np.int64]
    vehicle: npt.NDArray[np.int64]
    kind: npt.NDArray[np.int64]
    payload: list[bytes]
    points: npt.NDArray[np.int64]

    @staticmethod
    def merge(parts: Sequence[Messages]) -> Messages:
        """All of ``parts`` in one, by send time (stable)."""
        send = np.concatenate([p.send_ms for p in parts]) if parts else np.zeros(0, np.int64)
        order = np.argsort(send, kind="stable")
        payload = [b for p in parts for b in p.payload]
        return Messages(
            send_ms=send[order],
            vehicle=np.concatenate([p.vehicle for p in parts])[order] if parts else send,
            kind=np.concatenate([p.kind for p in parts])[order] if parts else send,
            payload=[payload[i] for i in order],
            points=np.concatenate([p.points for p in parts])[order] if parts else send,
        )

    def split(self, before_ms: int) -> tuple[Messages, Messages]:
        """(messages sent before ``before_ms``, the rest)."""
        cut = int(np.searchsorted(self.send_ms, before_ms, side="left"))
        return self._slice(0, cut), self._slice(cut, self.send_ms.size)

    def _slice(self, lo: int, hi: int) -> Messages:
        return Messages(
            self.send_ms[lo:hi],
            self.vehicle[lo:hi],
            self.kind[lo:hi],
            self.payload[lo:hi],
            self.points[lo:hi],
        )

    def __len__(self) -> int:
        return int(self.send_ms.size)


def wire_points(points: np.ndarray) -> np.ndarray:
    """The simulator's points (``render.POINT_DTYPE``) as :data:`wire.point.POINT_DTYPE`."""
    out = np.empty(points.size, dtype=POINT_DTYPE)
    out["ts_ms"] = points["ts"].astype(np.int64)
    for name in FIELDS[1:]:
        out[name] = points[name]
    return out


def json_points(points: np.ndarray) -> list[dict[str, object]]:
    """One dict per point with the wire's field names (absent values left out)."""
    ts = np.char.add(np.datetime_as_string(points["ts"], unit="ms"), "Z").tolist()
    lat = points["lat"].tolist()
    lon = points["lon"].tolist()
    columns = []
    for name in OPTIONAL_FLOAT_FIELDS:
        values = points[name].astype(np.float64)
        present = np.isfinite(values)
        columns.append((name, values.tolist(), present.tolist()))
    seq = points["seq"].tolist()
    out: list[dict[str, object]] = []
    for i in range(points.size):  # building the payload objects a device would send
        item: dict[str, object] = {"ts": ts[i], "lat": lat[i], "lon": lon[i]}
        for name, values, present in columns:
            if present[i]:
                item[name] = values[i]
        item["seq"] = seq[i]
        out.append(item)
    return out


def binary_payload(points: np.ndarray) -> bytes:
    """The points (at most 1,000) as one message in the ingester's binary encoding v1."""
    return binary.header(points.size) + _binary_records(points).tobytes()


def _binary_records(points: np.ndarray) -> np.ndarray:
    optional = {name: points[name] for name in OPTIONAL_FLOAT_FIELDS}
    optional["seq"] = points["seq"].astype(np.float64)
    return binary.encode_columns(
        points["ts"].astype(np.int64), points["lat"], points["lon"], optional
    )


def telemetry_messages(points: np.ndarray, mode: Mode, batch_s: float = 30.0) -> Messages:
    """The telemetry messages of ``points`` (transmission order) in ``mode``."""
    sent = points["sent_ts"].astype(np.int64)
    vehicle = points["vehicle_index"].astype(np.int64)
    if mode == "json":
        dicts = json_points(points)
        return Messages(
            send_ms=sent,
            vehicle=vehicle,
            kind=np.full(points.size, MESSAGE_TELEMETRY, dtype=np.int64),
            payload=[orjson.dumps(d) for d in dicts],
            points=np.ones(points.size, dtype=np.int64),
        )
    # Batches: a vehicle's points sent within the same batch_s window, 1,000 at most.
    window = sent // int(batch_s * 1000)
    order = np.lexsort((sent, window, vehicle))
    v, w = vehicle[order], window[order]
    new = np.ones(order.size, dtype=bool)
    new[1:] = (v[1:] != v[:-1]) | (w[1:] != w[:-1])
    group = np.cumsum(new) - 1
    starts = np.flatnonzero(new)
    rank = np.arange(order.size) - starts[group]
    new |= (rank % _MAX_BATCH == 0) & (rank > 0)
    bounds = np.append(np.flatnonzero(new), order.size)
    ordered = points[order]
    pairs = zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)
    if mode == "batch":
        dicts = json_points(ordered)
        payloads = [orjson.dumps(dicts[lo:hi]) for lo, hi in pairs]  # per message
    else:
        raw = _binary_records(ordered).tobytes()
        size = binary.RECORD_SIZE
        payloads = [binary.header(hi - lo) + raw[lo * size : hi * size] for lo, hi in pairs]
    send = np.maximum.reduceat(sent[order], bounds[:-1]) if order.size else sent[:0]
    result = Messages(
        send_ms=send.astype(np.int64),
        vehicle=v[bounds[:-1]],
        kind=np.full(bounds.size - 1, MESSAGE_TELEMETRY, dtype=np.int64),
        payload=payloads,
        points=np.diff(bounds).astype(np.int64),
    )
    return Messages.merge([result])


def event_messages(events: np.ndarray, latency_ms: int = 400) -> Messages:
    """One JSON event message per event, sent ``latency_ms`` after it happened."""
    ts = np.char.add(np.datetime_as_string(events["ts"], unit="ms"), "Z").tolist()
    payloads = []
    for i in range(events.size):  # per event (rides and charges)
        item: dict[str, object] = {"ts": ts[i], "type": str(events["type"][i])}
        if events["ride_id"][i]:
            item["ride_id"] = str(events["ride_id"][i])
        if events["rider"][i]:
            item["rider"] = str(events["rider"][i])
        if events["code"][i]:
            item["code"] = str(events["code"][i])
        payloads.append(orjson.dumps(item))
    return Messages.merge(
        [
            Messages(
                send_ms=events["ts"].astype(np.int64) + latency_ms,
                vehicle=events["vehicle_index"].astype(np.int64),
                kind=np.full(events.size, MESSAGE_EVENTS, dtype=np.int64),
                payload=payloads,
                points=np.zeros(events.size, dtype=np.int64),
            )
        ]
    )


def malformed_messages(malformed: np.ndarray, vehicle_index: dict[str, int]) -> Messages:
    """The bad payloads, each its own telemetry message."""
    return Messages.merge(
        [
            Messages(
                send_ms=malformed["sent_ts"].astype(np.int64),
                vehicle=np.array(
                    [vehicle_index[str(v)] for v in malformed["vehicle"]], dtype=np.int64
                ),
                kind=np.full(malformed.size, MESSAGE_MALFORMED, dtype=np.int64),
                payload=[bytes(p) for p in malformed["payload"]],
                points=np.zeros(malformed.size, dtype=np.int64),
            )
        ]
    )
