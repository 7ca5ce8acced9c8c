"""Payload codecs: what a message on each of the three topics carries, decoded at the boundary.

Telemetry is one JSON point, a JSON batch (an array of points), a ThingsBoard-style batch
(``[{"ts": <epoch ms>, "values": {...}}]``, or one such object), or the binary encoding of
:mod:`wire.binary`. Events are one JSON object or an array of them; status is the text
``online`` or ``offline``.
"""

from __future__ import annotations

import datetime as dt
import json
import operator
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, Final

import msgspec
import numpy as np
import orjson

from ingest.errors import DecodeError, Reason
from wire import binary

__all__ = [
    "EVENT_TYPES",
    "MAX_BATCH",
    "ElementError",
    "Event",
    "FastPoint",
    "TelemetryPayload",
    "decode_events",
    "decode_status",
    "decode_telemetry",
    "parse_json",
    "parse_ts_ms",
]

MAX_BATCH: Final = 1000
_DICT: Final = {dict}
EVENT_TYPES: Final = frozenset({"ride_start", "ride_end", "charge_start", "charge_end", "fault"})

_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_ONE_MS: Final = dt.timedelta(milliseconds=1)
_INT64_MIN, _INT64_MAX = int(np.iinfo(np.int64).min), int(np.iinfo(np.int64).max)
# A pseudonymous rider token: no spaces (names), not a bare run of digits (phone numbers).
_RIDER: Final = re.compile(r"[A-Za-z0-9_.:-]{4,128}")
_PHONE_LIKE: Final = re.compile(r"\+?[0-9][0-9 .()-]{5,}")
_RIDE_ID: Final = re.compile(r"[A-Za-z0-9_.:-]{1,128}")


@dataclass(frozen=True, slots=True)
class ElementError:
    """One element of a batch that is not a point at all (a number, a string, a list...)."""

    index: int
    reason: Reason
    detail: str
    element: Any


@dataclass(slots=True)
class TelemetryPayload:
    """A decoded telemetry message: JSON point dicts, or binary points, plus element errors.

    ``points`` are the JSON objects (ThingsBoard entries already flattened), ``indices`` their
    position in the message; ``binary_points`` is set instead for the binary encoding.
    ``lenient`` says the JSON needed the standard library's parser (NaN or Infinity literals).
    """

    points: list[dict[str, Any]] = field(default_factory=list)
    indices: Sequence[int] = field(default_factory=list)
    binary_points: np.ndarray | None = None
    errors: list[ElementError] = field(default_factory=list)
    single: bool = False
    lenient: bool = False
    fast: list[FastPoint] | None = None

    @property
    def json_count(self) -> int:
        """The number of JSON points (from the fast path or the general one)."""
        return len(self.points) if self.fast is None else len(self.fast)

    @property
    def count(self) -> int:
        """The number of points and non-points this message held."""
        n = self.json_count if self.binary_points is None else len(self.binary_points)
        return n + len(self.errors)


class FastPoint(msgspec.Struct, gc=False):
    """A JSON point as the fast path decodes it: the known fields, typed; others skipped.

    ``values`` (the ThingsBoard wrapper) can never decode, so such elements take the general
    path. Field types are the ones a clean point has, so anything unusual (null lat, a string
    for a number, NaN literals, a float seq...) fails here and takes the general path too,
    which gives it its reason.
    """

    ts: int | str
    lat: float
    lon: float
    speed_kmh: float | None = None
    heading_deg: float | None = None
    hdop: float | None = None
    soc_pct: float | None = None
    voltage_v: float | None = None
    current_a: float | None = None
    batt_temp_c: float | None = None
    odometer_km: float | None = None
    seq: int | None = None
    values: msgspec.UnsetType = msgspec.UNSET


_FAST_DECODER: Final = msgspec.json.Decoder(FastPoint | list[FastPoint])


def _decode_fast(payload: bytes) -> TelemetryPayload | None:
    """The fast path: a point or a batch of 1..MAX_BATCH clean points, else None."""
    if not payload.isascii():
        try:
            payload.decode("utf-8")  # msgspec skips unknown fields without checking them
        except UnicodeDecodeError:
            return None
    try:
        value = _FAST_DECODER.decode(payload)
    except (msgspec.DecodeError, RecursionError):
        return None
    if isinstance(value, FastPoint):
        return TelemetryPayload(fast=[value], single=True)
    if not 0 < len(value) <= MAX_BATCH:
        return None
    return TelemetryPayload(fast=value)


def parse_json(payload: bytes) -> tuple[Any, bool]:
    """Parse JSON with orjson; on failure retry with the standard library, which accepts the
    NaN and Infinity literals some units send (so their points get a precise reason and the
    good points of the same batch survive). Returns ``(value, lenient)``."""
    try:
        return orjson.loads(payload), False
    except orjson.JSONDecodeError as exc:
        first = exc
    try:
        return json.loads(payload), True
    except (ValueError, RecursionError):
        pass
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeError(
            Reason.UNKNOWN_ENCODING, "payload is neither JSON, UTF-8 text nor binary (b'PB')"
        ) from None
    raise DecodeError(Reason.MALFORMED_JSON, f"malformed JSON: {first}") from None


def parse_ts_ms(value: object) -> int | None:
    """A wire timestamp (RFC 3339 with an offset, or integer epoch ms) as epoch ms, or None."""
    if type(value) is int:
        return value if _INT64_MIN <= value <= _INT64_MAX else None
    if type(value) is str:
        try:
            when = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
        if when.tzinfo is None:
            return None
        return (when - _EPOCH) // _ONE_MS
    return None


def _flatten(element: dict[str, Any]) -> dict[str, Any]:
    values = element["values"]
    if not isinstance(values, dict):
        raise TypeError
    flat = dict(values)
    if "ts" in element:
        flat["ts"] = element["ts"]
    return flat


def decode_telemetry(payload: bytes, fast: bool = True) -> TelemetryPayload:
    """Decode a telemetry payload (framing and shape only; values are checked in bulk later).

    With ``fast``, a well-formed message of plain points is decoded by msgspec into
    :class:`FastPoint` structs (``fast`` set, ``points`` empty); anything that path refuses is
    decoded by the general path below (``fast=False``), which gives every reason.

    Raises
    ------
    DecodeError
        For a message that holds no point at all: malformed JSON, binary garbage or truncation,
        a JSON value that is neither an object nor an array, an empty or oversize batch.
    """
    if binary.is_binary(payload):
        return TelemetryPayload(binary_points=binary.decode(payload))
    if fast:
        decoded = _decode_fast(payload)
        if decoded is not None:
            return decoded
    value, lenient = parse_json(payload)
    result = TelemetryPayload(lenient=lenient)
    if isinstance(value, dict):
        elements: list[Any] = [value]
        result.single = True
    elif isinstance(value, list):
        elements = value
        if not elements:
            raise DecodeError(Reason.EMPTY_BATCH, "a batch with no points")
        if len(elements) > MAX_BATCH:
            raise DecodeError(
                Reason.BATCH_TOO_LARGE,
                f"a batch of {len(elements)} points; at most {MAX_BATCH}",
                field="batch",
                value=len(elements),
            )
    else:
        raise DecodeError(
            Reason.NOT_A_POINT,
            f"a JSON {type(value).__name__}; expected a point object or an array of them",
        )
    if set(map(type, elements)) == _DICT and not any(
        map(operator.contains, elements, repeat("values"))
    ):
        result.points = elements  # plain points, the common case: nothing to unpack
        result.indices = range(len(elements))
        return result
    points: list[dict[str, Any]] = []
    indices: list[int] = []
    result.points, result.indices = points, indices
    for i, element in enumerate(elements):
        if type(element) is dict:
            if "values" in element:
                try:
                    element = _flatten(element)
                except TypeError:
                    result.errors.append(
                        ElementError(
                            i,
                            Reason.NOT_A_POINT,
                            f"element {i}: 'values' is not an object",
                            element,
                        )
                    )
                    continue
            points.append(element)
            indices.append(i)
        else:
            result.errors.append(
                ElementError(
                    i,
                    Reason.NOT_A_POINT,
                    f"element {i} is a JSON {type(element).__name__}; expected an object",
                    element,
                )
            )
    return result


@dataclass(frozen=True, slots=True)
class Event:
    """A ride or charge event, ready for ``vehicle_events``."""

    ts_ms: int
    type: str
    ride_id: str | None
    rider: str | None
    attributes: dict[str, Any]


def _event(element: object, i: int) -> Event:
    if type(element) is not dict:
        raise DecodeError(Reason.NOT_A_POINT, f"event {i} is not a JSON object")
    if "ts" not in element or "type" not in element:
        missing = "ts" if "ts" not in element else "type"
        raise DecodeError(Reason.MISSING_FIELD, f"event {i} has no {missing!r}", field=missing)
    ts_ms = parse_ts_ms(element["ts"])
    if ts_ms is None:
        raise DecodeError(
            Reason.BAD_TIMESTAMP,
            f"event {i}: ts is {element['ts']!r}; expected RFC 3339 with an offset or epoch ms",
            field="ts",
            value=element["ts"],
        )
    kind = element["type"]
    if kind not in EVENT_TYPES:
        raise DecodeError(
            Reason.BAD_EVENT,
            f"event {i}: type is {kind!r}; expected one of {', '.join(sorted(EVENT_TYPES))}",
            field="type",
            value=kind,
        )
    ride_id = element.get("ride_id")
    if ride_id is not None and not (type(ride_id) is str and _RIDE_ID.fullmatch(ride_id)):
        raise DecodeError(
            Reason.BAD_EVENT,
            f"event {i}: ride_id is {ride_id!r}; expected [A-Za-z0-9_.:-]{{1,128}}",
            field="ride_id",
        )
    rider = element.get("rider")
    if rider is not None and (
        type(rider) is not str or not _RIDER.fullmatch(rider) or _PHONE_LIKE.fullmatch(rider)
    ):
        # The value itself stays out of the detail: it may be a name or a phone number.
        raise DecodeError(
            Reason.BAD_EVENT,
            f"event {i}: rider is not a pseudonymous token ([A-Za-z0-9_.:-]{{4,128}}, not a "
            "phone number)",
            field="rider",
        )
    attributes = {k: v for k, v in element.items() if k not in ("ts", "type", "ride_id", "rider")}
    return Event(ts_ms, kind, ride_id, rider, attributes)


def decode_events(payload: bytes) -> tuple[list[Event], list[tuple[int, Any, DecodeError]]]:
    """Decode an events payload: the good events, and ``(index, element, error)`` for the bad.

    Raises :class:`DecodeError` for a payload that holds no event at all.
    """
    value, _ = parse_json(payload)
    if isinstance(value, dict):
        elements: list[Any] = [value]
    elif isinstance(value, list):
        if not value:
            raise DecodeError(Reason.EMPTY_BATCH, "an events batch with no events")
        if len(value) > MAX_BATCH:
            raise DecodeError(Reason.BATCH_TOO_LARGE, f"{len(value)} events; at most {MAX_BATCH}")
        elements = value
    else:
        raise DecodeError(Reason.BAD_EVENT, f"a JSON {type(value).__name__}; expected an event")
    events: list[Event] = []
    bad: list[tuple[int, Any, DecodeError]] = []
    for i, element in enumerate(elements):
        try:
            events.append(_event(element, i))
        except DecodeError as exc:
            bad.append((i, element, exc))
    return events, bad


def decode_status(payload: bytes) -> bool:
    """``online`` -> True, ``offline`` -> False (also JSON-quoted, any case, spaces trimmed)."""
    text = payload.strip().strip(b'"').strip().lower()
    if text == b"online":
        return True
    if text == b"offline":
        return False
    shown = payload[:40].decode("utf-8", "replace")
    raise DecodeError(
        Reason.BAD_STATUS, f"status is {shown!r}; expected online or offline", value=shown
    )
