"""A batch: the messages taken from the queue since the last commit, decoded and validated
together into what one transaction writes (:class:`WriteSet`)."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from ingest.columns import FIELDS, REASONS
from ingest.errors import DecodeError, Reason
from ingest.payload import (
    Event,
    TelemetryPayload,
    dead_letter_elements,
    decode_events,
    decode_points,
    decode_status,
    decode_telemetry,
)
from ingest.validation import Rules, describe, validate
from wire import binary
from wire.point import POINT_DTYPE
from wire.topics import DEFAULT_ROOT, Topic, parse_topic

__all__ = ["Batch", "DeadLetter", "Message", "WriteSet"]


@dataclass(frozen=True, slots=True)
class Message:
    """What ``on_message`` hands the worker: nothing decoded yet."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    received_at: float  # epoch seconds, this process's clock
    generation: int = 0  # which connection delivered it (acks go only to the same one)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A row of ``dead_letters``."""

    topic: str
    payload: bytes
    reason: Reason
    detail: str
    received_at: dt.datetime
    points: int = 0  # the telemetry points it stands for (1 for a rejected point, else 0)


@dataclass
class WriteSet:
    """Everything one transaction writes for a batch of messages.

    Vehicles are referred to by their index in ``vehicles``; the writer resolves them to
    ``vehicle_key``.
    """

    vehicles: list[tuple[str, str]] = field(default_factory=list)
    points: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=POINT_DTYPE))
    point_vehicle: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int32))
    point_received_ms: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    events: list[tuple[int, Event, dt.datetime]] = field(default_factory=list)
    statuses: list[tuple[int, bool, dt.datetime]] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    message_results: Counter[str] = field(default_factory=Counter)
    rejected_points: int = 0  # telemetry points (or unreadable telemetry messages) dead-lettered
    root: str = DEFAULT_ROOT  # the topic tree the messages came from


def _utc(epoch_s: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch_s, dt.UTC)


def _element_bytes(element: Any, whole: bytes) -> bytes:
    """The JSON of one element of a batch, for its dead letter; the whole message when the
    element cannot be written again (nested past orjson's depth and Python's recursion)."""
    try:
        return orjson.dumps(element)
    except TypeError:  # NaN from the lenient parser is fine for json; huge ints too
        pass
    try:
        return json.dumps(element, default=str).encode()
    except (RecursionError, ValueError):
        return whole


@dataclass
class _Telemetry:
    message: Message
    vehicle: int
    payload: TelemetryPayload


class Batch:
    """Collects messages; :meth:`build` turns all their points into columns and validates
    them at once.

    :meth:`add` parses the topic and decodes each payload once (cheap, per message);
    :meth:`build` makes one columnar shape of every point (:func:`ingest.payload.decode_points`)
    and runs every rule once over it.
    With ``admit`` (the ingester's registry check: fleet, vehicle, time received), a message
    from a vehicle it refuses is dead-lettered as ``unregistered``.
    """

    def __init__(
        self,
        root: str,
        rules: Rules,
        max_payload_bytes: int,
        fast_json: bool = True,
        admit: Callable[[str, str, float], bool] | None = None,
    ) -> None:
        self.root = root
        self.admit = admit
        self.fast_json = fast_json  # False: every JSON message by the general decoder
        self.rules = rules
        self.max_payload_bytes = max_payload_bytes
        self.messages: list[Message] = []
        self.points = 0
        self._vehicles: dict[tuple[str, str], int] = {}
        self._telemetry: list[_Telemetry] = []
        self._out = WriteSet(root=root)

    def __len__(self) -> int:
        return len(self.messages)

    def _vehicle(self, topic: Topic) -> int:
        key = (topic.fleet, topic.vehicle)
        index = self._vehicles.get(key)
        if index is None:
            index = self._vehicles[key] = len(self._out.vehicles)
            self._out.vehicles.append(key)
        return index

    def _reject(
        self, message: Message, reason: Reason, detail: str, payload: bytes, points: int = 0
    ) -> None:
        self._out.dead_letters.append(
            DeadLetter(message.topic, payload, reason, detail, _utc(message.received_at), points)
        )

    def add(self, message: Message) -> None:
        """Take one message in; never raises for anything the message carries."""
        self.messages.append(message)
        out = self._out
        if len(message.payload) > self.max_payload_bytes:
            self._reject(
                message,
                Reason.OVERSIZE,
                f"payload of {len(message.payload)} bytes; at most {self.max_payload_bytes} "
                f"(the row keeps the first {self.max_payload_bytes})",
                message.payload[: self.max_payload_bytes],
                points=1,
            )
            out.message_results["rejected"] += 1
            out.rejected_points += 1
            return
        try:
            topic = parse_topic(message.topic, self.root)
            if self.admit is not None and not self.admit(
                topic.fleet, topic.vehicle, message.received_at
            ):
                raise DecodeError(
                    Reason.UNREGISTERED,
                    f"vehicle {topic.fleet}/{topic.vehicle} is not registered or is revoked",
                    field="topic",
                    value=message.topic,
                )
            if topic.kind == "telemetry":
                decoded = decode_telemetry(message.payload, self.fast_json)
                self._telemetry.append(_Telemetry(message, self._vehicle(topic), decoded))
                self.points += decoded.count
                return
            if topic.kind == "events":
                self._add_events(message, self._vehicle(topic))
                return
            online = decode_status(message.payload)
            out.statuses.append((self._vehicle(topic), online, _utc(message.received_at)))
            out.message_results["accepted"] += 1
        except DecodeError as exc:
            telemetry = exc.reason is Reason.BAD_TOPIC or message.topic.endswith("/telemetry")
            self._reject(message, exc.reason, exc.detail, message.payload, int(telemetry))
            out.message_results["rejected"] += 1
            out.rejected_points += int(telemetry)

    def _add_events(self, message: Message, vehicle: int) -> None:
        events, bad = decode_events(message.payload)
        received = _utc(message.received_at)
        received_ms = int(message.received_at * 1000)
        future = self.rules.max_future_s * 1000
        age = self.rules.max_age_days * 86_400_000
        good = 0
        for event in events:
            if event.ts_ms - received_ms > future:
                reason, detail = Reason.TS_FUTURE, "event ts is ahead of the time received"
            elif received_ms - event.ts_ms > age:
                reason, detail = Reason.TS_PAST, "event ts is older than the accepted age"
            else:
                self._out.events.append((vehicle, event, received))
                good += 1
                continue
            payload = orjson.dumps({"ts": event.ts_ms, "type": event.type})
            self._reject(message, reason, f"{detail} ({event.ts_ms} ms)", payload)
        for _, element, error in bad:
            self._reject(
                message, error.reason, error.detail, _element_bytes(element, message.payload)
            )
        self._out.message_results[_result(good, len(events) + len(bad))] += 1

    def build(self) -> WriteSet:
        """Validate all telemetry of the batch at once; the :class:`WriteSet` to write."""
        out = self._out
        parts = self._telemetry
        if not parts:
            return out
        decoded = decode_points([t.payload for t in parts], [t.message.payload for t in parts])
        for part, payload in zip(parts, decoded.payloads, strict=True):
            part.payload = payload
        points, reasons, fields, counts = (
            decoded.points,
            decoded.reasons,
            decoded.fields,
            decoded.counts,
        )
        message_of = np.repeat(np.arange(len(parts)), counts)
        received_ms = np.array([int(t.message.received_at * 1000) for t in parts], np.int64)
        vehicle = np.array([t.vehicle for t in parts], dtype=np.int32)
        point_received = received_ms[message_of]
        validate(points, point_received, self.rules, reasons, fields)

        good = reasons == 0
        out.points = points[good]
        out.point_vehicle = vehicle[message_of][good]
        out.point_received_ms = point_received[good]

        bad_per_message = np.bincount(message_of[~good], minlength=len(parts))
        offsets = np.concatenate([[0], np.cumsum(counts)])
        for bad in np.flatnonzero(bad_per_message):
            self._dead_letter_points(parts[bad], reasons, fields, points, int(offsets[bad]))
        for m, part in enumerate(parts):
            errors = len(part.payload.errors)
            for error in part.payload.errors:
                self._reject(
                    part.message,
                    error.reason,
                    error.detail,
                    _element_bytes(error.element, part.message.payload),
                    1,
                )
            total = int(counts[m]) + errors
            out.rejected_points += int(bad_per_message[m]) + errors
            out.message_results[_result(total - int(bad_per_message[m]) - errors, total)] += 1
        return out

    def _dead_letter_points(
        self,
        part: _Telemetry,
        reasons: np.ndarray,
        fields: np.ndarray,
        points: np.ndarray,
        start: int,
    ) -> None:
        """One dead letter per rejected point of ``part`` (whose points begin at ``start``):
        the binary record or the JSON object (the whole payload for a single object)."""
        decoded, payload = part.payload, part.message.payload
        if decoded.encoding == "binary":
            records = binary.record_payloads(payload)
        else:
            elements = dead_letter_elements(payload, decoded)
        for j in np.flatnonzero(reasons[start : start + len(decoded.items)]).tolist():
            k = start + j
            name = FIELDS[fields[k]] if fields[k] >= 0 else None
            if decoded.encoding == "binary":
                body = records[j]
                column = "ts_ms" if name == "ts" else name
                value: object = points[k][column].item() if column else None
            else:
                element = elements[j]
                body = payload if decoded.single else _element_bytes(element, payload)
                value = element.get(name) if name else None
            self._reject(
                part.message,
                REASONS[reasons[k] - 1],
                describe(int(reasons[k]), int(fields[k]), value, decoded.index[j]),
                body,
                points=1,
            )


def _result(good: int, total: int) -> str:
    if good == total:
        return "accepted"
    return "partial" if good else "rejected"
