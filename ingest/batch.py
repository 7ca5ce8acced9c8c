"""A batch: the messages taken from the queue since the last commit, decoded and validated
together into what one transaction writes (:class:`WriteSet`)."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from ingest.columns import FIELDS, REASONS, fast_columns, json_columns
from ingest.errors import DecodeError, Reason
from ingest.payload import (
    Event,
    TelemetryPayload,
    decode_events,
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


def _element_bytes(element: Any) -> bytes:
    try:
        return orjson.dumps(element)
    except TypeError:  # NaN from the lenient parser is fine for json; huge ints too
        return json.dumps(element, default=str).encode()


@dataclass
class _Telemetry:
    message: Message
    vehicle: int
    payload: TelemetryPayload


class Batch:
    """Collects messages; :meth:`build` decodes what is left and validates all points at once.

    Topic parsing and the payload's framing happen in :meth:`add` (cheap, per message); the
    column conversion and every rule run once per batch over all its points.
    """

    def __init__(
        self, root: str, rules: Rules, max_payload_bytes: int, fast_json: bool = True
    ) -> None:
        self.root = root
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
            self._reject(message, error.reason, error.detail, _element_bytes(element))
        self._out.message_results[_result(good, len(events) + len(bad))] += 1

    def build(self) -> WriteSet:
        """Decode and validate all telemetry of the batch; the :class:`WriteSet` to write."""
        out = self._out
        if not self._telemetry:
            return out
        json_parts = [t for t in self._telemetry if t.payload.binary_points is None]
        bin_parts = [t for t in self._telemetry if t.payload.binary_points is not None]
        parts = json_parts + bin_parts
        json_arr, reasons, fields = self._json_columns(json_parts)
        counts = np.array(
            [t.payload.json_count for t in json_parts] + [t.payload.count for t in bin_parts],
            dtype=np.int64,
        )
        if bin_parts:
            bin_arr = np.concatenate(
                [t.payload.binary_points for t in bin_parts if t.payload.binary_points is not None]
            )
            points = np.concatenate([json_arr, bin_arr])
            reasons = np.concatenate([reasons, np.zeros(len(bin_arr), dtype=np.uint8)])
            fields = np.concatenate([fields, np.full(len(bin_arr), -1, dtype=np.int8)])
        else:
            points = json_arr
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
                    part.message, error.reason, error.detail, _element_bytes(error.element), 1
                )
            total = int(counts[m]) + errors
            out.rejected_points += int(bad_per_message[m]) + errors
            out.message_results[_result(total - int(bad_per_message[m]) - errors, total)] += 1
        return out

    @staticmethod
    def _json_columns(parts: list[_Telemetry]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The JSON points of ``parts``, in order: fast-path messages converted together; if
        any of them needs the general path's judgement, all are decoded again by it."""
        fast = [t for t in parts if t.payload.fast is not None]
        converted = fast_columns([p for t in fast for p in t.payload.fast or ()]) if fast else None
        if converted is None:
            for t in fast:
                t.payload = decode_telemetry(t.message.payload, fast=False)
            return json_columns([p for t in parts for p in t.payload.points])
        if len(fast) == len(parts):
            return converted
        general = json_columns(
            [p for t in parts if t.payload.fast is None for p in t.payload.points]
        )
        # Back into message order (of two points with one key the first is kept).
        is_fast = np.array([t.payload.fast is not None for t in parts])
        lengths = np.array([t.payload.json_count for t in parts], dtype=np.int64)
        point_fast = np.repeat(is_fast, lengths)
        merged = []
        for fast_arr, general_arr in zip(converted, general, strict=True):
            arr = np.empty(len(point_fast), dtype=fast_arr.dtype)
            arr[point_fast] = fast_arr
            arr[~point_fast] = general_arr
            merged.append(arr)
        return merged[0], merged[1], merged[2]

    def _dead_letter_points(
        self,
        part: _Telemetry,
        reasons: np.ndarray,
        fields: np.ndarray,
        points: np.ndarray,
        start: int,
    ) -> None:
        payload = part.payload
        if payload.fast is not None:  # the general path's view, for the rows' bodies
            payload = decode_telemetry(part.message.payload, fast=False)
        if payload.binary_points is not None:
            raw = binary.record_payloads(part.message.payload)
            n = len(payload.binary_points)
        else:
            n = len(payload.points)
        for j in np.flatnonzero(reasons[start : start + n]):
            k = start + int(j)
            name = FIELDS[fields[k]] if fields[k] >= 0 else None
            if payload.binary_points is not None:
                index: int = int(j)
                body = raw[index]
                column = "ts_ms" if name == "ts" else name
                value: object = points[k][column].item() if column else None
            else:
                index = payload.indices[int(j)]
                element = payload.points[int(j)]
                body = part.message.payload if payload.single else _element_bytes(element)
                value = element.get(name) if name else None
            self._reject(
                part.message,
                REASONS[reasons[k] - 1],
                describe(int(reasons[k]), int(fields[k]), value, index),
                body,
                points=1,
            )


def _result(good: int, total: int) -> str:
    if good == total:
        return "accepted"
    return "partial" if good else "rejected"
