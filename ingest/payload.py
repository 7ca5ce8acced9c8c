"""Payload codecs: what a message on each of the three topics carries, decoded at the boundary.

Telemetry is one JSON point, a JSON batch (an array of points), a ThingsBoard-style batch
(``[{"ts": <epoch ms>, "values": {...}}]``, or one such object), or the binary encoding of
:mod:`wire.binary`. Events are one JSON object or an array of them; status is the text
``online`` or ``offline``.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, Final, Literal

import msgspec
import numpy as np
import numpy.typing as npt
import orjson

from fleet.riders import is_opaque
from ingest._rfc3339 import parse_ts_ms
from ingest._shown import shown
from ingest.columns import FastPoint, fast_columns, json_columns
from ingest.errors import DecodeError, Reason
from wire import binary

__all__ = [
    "EVENT_ATTRIBUTES",
    "EVENT_TYPES",
    "MAX_BATCH",
    "DecodedPoints",
    "ElementError",
    "Event",
    "TelemetryPayload",
    "dead_letter_elements",
    "decode_events",
    "decode_status",
    "decode_telemetry",
    "parse_json",
]

MAX_BATCH: Final = 1000
_DICT: Final = {dict}
# Integer literals past this many digits (Python's int() refuses beyond 4,300) are read as a
# number of the same sign beyond any float: out of range in a known field, ignored in another.
_MAX_DIGITS: Final = 4000
_HUGE: Final = 10**400
EVENT_TYPES: Final = frozenset({"ride_start", "ride_end", "charge_start", "charge_end", "fault"})

_CODE: Final = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def _code(value: object) -> bool:
    return type(value) is str and _CODE.fullmatch(value) is not None


def _finite(value: object, low: float, high: float) -> bool:
    return type(value) in (int, float) and low <= value <= high  # type: ignore[operator]


#: The event fields kept besides ts, type, ride_id and rider, with the check each value must
#: pass (any other field, or a value failing its check, is dropped: it may hold anything).
EVENT_ATTRIBUTES: Final[dict[str, Callable[[object], bool]]] = {
    "code": _code,  # a fault's code
    "soc_pct": lambda v: _finite(v, 0.0, 100.0),
    "odometer_km": lambda v: _finite(v, 0.0, 1e7),
    "energy_kwh": lambda v: _finite(v, 0.0, 1e4),  # a charge's energy
}
_RIDE_ID: Final = re.compile(r"[A-Za-z0-9_.:-]{1,128}")


@dataclass(frozen=True, slots=True)
class ElementError:
    """One element of a batch that is not a point at all (a number, a string, a list...)."""

    index: int
    reason: Reason
    detail: str
    element: Any


@dataclass(frozen=True, slots=True)
class TelemetryPayload:
    """A telemetry message as decoded by :func:`decode_telemetry`: its points, not yet columns.

    ``items`` hold the points in the form the message's ``encoding`` gives them: msgspec
    structs (``fast``), the JSON objects with ThingsBoard entries flattened (``json``), or a
    :data:`wire.point.POINT_DTYPE` array (``binary``); ``index`` each point's position in the
    message, ``errors`` the elements that are not points at all, ``single`` that the message
    was one JSON object (its dead letter keeps the whole payload). :func:`decode_points` turns
    the payloads of a whole batch into columns at once (numpy's cost per call would dominate
    per message).
    """

    encoding: Literal["fast", "json", "binary"]
    items: Sequence[Any] | np.ndarray
    index: Sequence[int]
    errors: list[ElementError] = field(default_factory=list)
    single: bool = False

    @property
    def count(self) -> int:
        """The number of points and non-points this message held."""
        return len(self.items) + len(self.errors)


@dataclass(frozen=True, slots=True)
class DecodedPoints:
    """The points of a batch of telemetry messages in one columnar shape, in message order.

    ``points`` (:data:`wire.point.POINT_DTYPE`) with ``reasons`` (uint8) and ``fields``
    (int8), the type rules each point broke (codes of :mod:`ingest.columns`; 0 and -1 where
    none; the range rules are :mod:`ingest.validation`'s); ``counts`` the points of each
    message; ``payloads`` each message's payload as finally decoded (a message the fast path
    declined is the general path's).
    """

    points: np.ndarray
    reasons: npt.NDArray[np.uint8]
    fields: npt.NDArray[np.int8]
    counts: npt.NDArray[np.int64]
    payloads: list[TelemetryPayload]


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
        return TelemetryPayload("fast", [value], range(1), single=True)
    if not 0 < len(value) <= MAX_BATCH:
        return None
    return TelemetryPayload("fast", value, range(len(value)))


def parse_json(payload: bytes) -> tuple[Any, bool]:
    """Parse JSON with orjson; on failure retry with the standard library, which accepts the
    NaN and Infinity literals some units send (so their points get a precise reason and the
    good points of the same batch survive). Returns ``(value, lenient)``."""
    try:
        return orjson.loads(payload), False
    except orjson.JSONDecodeError as exc:
        first = exc
    try:
        return json.loads(payload, parse_int=_parse_int), True
    except (ValueError, RecursionError):
        pass
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeError(
            Reason.UNKNOWN_ENCODING, "payload is neither JSON, UTF-8 text nor binary (b'PB')"
        ) from None
    raise DecodeError(Reason.MALFORMED_JSON, f"malformed JSON: {first}") from None


def _parse_int(literal: str) -> int:
    if len(literal) <= _MAX_DIGITS:
        return int(literal)
    return -_HUGE if literal.startswith("-") else _HUGE


def _flatten(element: dict[str, Any]) -> dict[str, Any]:
    values = element["values"]
    if not isinstance(values, dict):
        raise TypeError
    flat = dict(values)
    if "ts" in element:
        flat["ts"] = element["ts"]
    return flat


def decode_telemetry(payload: bytes, fast: bool = True) -> TelemetryPayload:
    """Decode a telemetry payload once (framing, shape; the values are typed and checked for
    the whole batch by :func:`decode_points` and the validation).

    With ``fast``, a well-formed message of plain points is decoded by msgspec into
    :class:`ingest.columns.FastPoint` structs (encoding ``fast``); anything that path refuses
    is decoded by the general path (``fast=False``), which gives every reason.

    Raises
    ------
    DecodeError
        For a message that holds no point at all: malformed JSON, binary garbage or truncation,
        a JSON value that is neither an object nor an array, an empty or oversize batch.
    """
    if binary.is_binary(payload):
        points = binary.decode(payload)
        return TelemetryPayload("binary", points, range(len(points)))
    if fast:
        decoded = _decode_fast(payload)
        if decoded is not None:
            return decoded
    return _decode_general(payload)


def decode_points(payloads: Sequence[TelemetryPayload], raw: Sequence[bytes]) -> DecodedPoints:
    """The columns of every point of ``payloads`` (``raw[i]`` the bytes of ``payloads[i]``).

    The fast path's messages are converted together; if any of them needs the general
    path's judgement (:func:`ingest.columns.fast_columns` declines), all of them are decoded
    again by it, so both paths give the same columns (tests/ingest/test_fast_path.py).
    """
    final = list(payloads)
    fast = [i for i, p in enumerate(final) if p.encoding == "fast"]
    converted = fast_columns([s for i in fast for s in final[i].items]) if fast else None
    if fast and converted is None:
        for i in fast:
            final[i] = _decode_general(raw[i])
        fast = []
    general = [i for i, p in enumerate(final) if p.encoding == "json"]
    parts: list[tuple[list[int], tuple[np.ndarray, np.ndarray, np.ndarray]]] = []
    if converted is not None:
        parts.append((fast, converted))
    if general:
        parts.append((general, json_columns([e for i in general for e in final[i].items])))
    binary_parts = [i for i, p in enumerate(final) if p.encoding == "binary"]
    if binary_parts:
        arr = np.concatenate([np.asarray(final[i].items) for i in binary_parts])
        n = len(arr)
        parts.append((binary_parts, (arr, np.zeros(n, np.uint8), np.full(n, -1, np.int8))))
    counts = np.array([len(p.items) for p in final], dtype=np.int64)
    if len(parts) == 1:
        points, reasons, fields = parts[0][1]
        return DecodedPoints(points, reasons, fields, counts, final)
    # Back into message order (of two points with one key the first is kept): where each
    # part's points go, message by message.
    which = np.array([i for messages, _ in parts for i in messages], dtype=np.intp)
    starts = np.concatenate([[0], np.cumsum(counts)])[which]
    lengths = counts[which]
    first = np.concatenate([[0], np.cumsum(lengths)])[:-1]
    at = np.repeat(starts - first, lengths) + np.arange(int(lengths.sum()))
    out = []
    for k in range(3):
        values = np.concatenate([columns[k] for _, columns in parts])
        merged = np.empty(len(values), dtype=values.dtype)
        merged[at] = values
        out.append(merged)
    return DecodedPoints(out[0], out[1], out[2], counts, final)


def dead_letter_elements(payload: bytes, decoded: TelemetryPayload) -> list[dict[str, Any]]:
    """The JSON objects behind a JSON message's points (one per point), for dead-letter rows:
    the general path's, decoding the bytes again only when the fast path decoded them."""
    if decoded.encoding == "json":
        return list(decoded.items)
    return list(_decode_general(payload).items)


def _decode_general(payload: bytes) -> TelemetryPayload:
    """The general path: the message's point objects (ThingsBoard entries flattened), their
    positions, and the elements that are not points. Raises :class:`DecodeError` as
    :func:`decode_telemetry` does."""
    value, _ = parse_json(payload)
    single = False
    if isinstance(value, dict):
        elements: list[Any] = [value]
        single = True
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
        # plain points, the common case: nothing to unpack
        return TelemetryPayload("json", elements, range(len(elements)), single=single)
    points: list[dict[str, Any]] = []
    indices: list[int] = []
    errors: list[ElementError] = []
    for i, element in enumerate(elements):
        if type(element) is dict:
            if "values" in element:
                try:
                    element = _flatten(element)
                except TypeError:
                    errors.append(
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
            errors.append(
                ElementError(
                    i,
                    Reason.NOT_A_POINT,
                    f"element {i} is a JSON {type(element).__name__}; expected an object",
                    element,
                )
            )
    return TelemetryPayload("json", points, indices, errors, single)


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
            f"event {i}: ts is {shown(element['ts'])}; expected RFC 3339 with an offset or "
            "epoch ms",
            field="ts",
            value=element["ts"],
        )
    kind = element["type"]
    if type(kind) is not str or kind not in EVENT_TYPES:  # the type first: a list is unhashable
        raise DecodeError(
            Reason.BAD_EVENT,
            f"event {i}: type is {shown(kind)}; expected one of {', '.join(sorted(EVENT_TYPES))}",
            field="type",
            value=kind,
        )
    ride_id = element.get("ride_id")
    if ride_id is not None and not (type(ride_id) is str and _RIDE_ID.fullmatch(ride_id)):
        raise DecodeError(
            Reason.BAD_EVENT,
            f"event {i}: ride_id is {shown(ride_id)}; expected [A-Za-z0-9_.:-]{{1,128}}",
            field="ride_id",
        )
    rider = element.get("rider")
    if rider is not None and not is_opaque(rider):
        # The value itself stays out of the detail: it may be a name or a phone number.
        raise DecodeError(
            Reason.BAD_EVENT,
            f"event {i}: rider is not an opaque token (16 to 128 of A-Z a-z 0-9 _ -, with a "
            "letter and a digit)",
            field="rider",
        )
    attributes = {
        k: v for k, v in element.items() if k in EVENT_ATTRIBUTES and EVENT_ATTRIBUTES[k](v)
    }
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
