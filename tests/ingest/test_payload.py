"""Tests of ingest/payload.py: each telemetry message decoded once, the points of a batch of
messages made into one columnar shape, in message order, whatever their encodings."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest

from ingest.columns import FIELDS, REASONS, code
from ingest.errors import DecodeError, Reason
from ingest.payload import (
    DecodedPoints,
    TelemetryPayload,
    dead_letter_elements,
    decode_points,
    decode_telemetry,
)
from tests.ingest.builders import full_point, point, track
from wire import binary
from wire.point import POINT_DTYPE

T0 = 1_790_000_000_000


def _decoded(*payloads: bytes) -> tuple[list[TelemetryPayload], DecodedPoints]:
    framed = [decode_telemetry(p) for p in payloads]
    return framed, decode_points(framed, list(payloads))


def _columns_alone(payload: bytes, fast: bool = True) -> np.ndarray:
    """The points of one message decoded on its own."""
    framed = decode_telemetry(payload, fast)
    return decode_points([framed], [payload]).points


def test_each_encoding_is_decoded_into_its_points_and_positions() -> None:
    """Binary gives its records, clean JSON the fast path's structs, a ThingsBoard batch the
    general path's flattened objects with each point's position and the non-points apart."""
    b = decode_telemetry(binary.encode(track(3, start_ms=T0)))
    assert (b.encoding, len(b.items), b.count) == ("binary", 3, 3)
    f = decode_telemetry(orjson.dumps(point(T0)))
    assert (f.encoding, f.single, f.count) == ("fast", True, 1)
    tb = [{"ts": T0, "values": {"lat": 32.2, "lon": -7.9}}, 7, {"ts": T0 + 1, "values": {}}]
    j = decode_telemetry(orjson.dumps(tb))
    assert (j.encoding, j.single, list(j.index), j.count) == ("json", False, [0, 2], 3)
    assert j.items[0] == {"ts": T0, "lat": 32.2, "lon": -7.9}
    ((error),) = j.errors
    assert (error.index, error.reason) == (1, Reason.NOT_A_POINT)


def test_a_batch_of_mixed_encodings_is_one_columnar_shape_in_message_order() -> None:
    """Fast, general and binary messages together: one POINT_DTYPE array whose slices, in
    message order, are each message's points decoded alone; counts per message."""
    payloads = [
        binary.encode(track(2, start_ms=T0)),
        orjson.dumps([full_point(T0 + 10, seq=5), point(T0 + 11)]),
        orjson.dumps({"ts": T0 + 20, "values": {"lat": 32.3, "lon": -7.8, "soc_pct": 40.0}}),
        orjson.dumps(point(T0 + 30, lat="north")),
    ]
    framed, decoded = _decoded(*payloads)
    assert [p.encoding for p in framed] == ["binary", "fast", "json", "json"]
    assert decoded.points.dtype == POINT_DTYPE
    assert decoded.counts.tolist() == [2, 2, 1, 1]
    expected = np.concatenate([_columns_alone(p) for p in payloads])
    assert decoded.points.tobytes() == expected.tobytes()
    assert decoded.points["ts_ms"].tolist() == [T0, T0 + 1000, T0 + 10, T0 + 11, T0 + 20, T0 + 30]
    bad = int(np.flatnonzero(decoded.reasons)[0])
    assert bad == 5 and REASONS[decoded.reasons[bad] - 1] is Reason.BAD_TYPE
    assert FIELDS[decoded.fields[bad]] == "lat"
    assert decoded.reasons[:5].tolist() == [0] * 5


def test_clean_messages_are_decoded_once() -> None:
    """In the common case decode_points keeps every message's payload as decoded (nothing is
    parsed again) and gives the general path's columns."""
    payloads = [orjson.dumps(track(4, start_ms=T0 + 10_000 * i)) for i in range(3)]
    framed, decoded = _decoded(*payloads)
    assert all(a is b for a, b in zip(framed, decoded.payloads, strict=True))
    general = np.concatenate([_columns_alone(p, fast=False) for p in payloads])
    assert decoded.points.tobytes() == general.tobytes()


def test_when_the_fast_path_declines_its_messages_take_the_general_path() -> None:
    """A float the fast path will not judge (2**53 or more; here beyond float32) sends every
    fast message of the batch to the general path; the columns are the general path's."""
    payloads = [
        orjson.dumps(track(2, start_ms=T0)),
        orjson.dumps(point(T0 + 50, speed_kmh=1e39)),
        binary.encode([point(T0 + 60)]),
    ]
    framed, decoded = _decoded(*payloads)
    assert [p.encoding for p in framed] == ["fast", "fast", "binary"]
    assert [p.encoding for p in decoded.payloads] == ["json", "json", "binary"]
    general = np.concatenate([_columns_alone(p, fast=False) for p in payloads])
    assert decoded.points.tobytes() == general.tobytes()
    assert decoded.reasons.tolist() == [0, 0, code(Reason.VALUE_RANGE), 0]


def test_dead_letter_elements_are_the_objects_as_sent() -> None:
    """For a dead-letter row the JSON objects behind the points, unknown fields kept: the
    general path's own, or (for a fast-path message) decoded again from the bytes."""
    sent: list[dict[str, Any]] = [point(T0, lat=95.0, firmware="2.1"), point(T0 + 1)]
    payload = orjson.dumps(sent)
    fast = decode_telemetry(payload)
    assert fast.encoding == "fast"
    assert dead_letter_elements(payload, fast) == sent
    general = decode_telemetry(payload, fast=False)
    assert dead_letter_elements(payload, general) == sent


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"[]", Reason.EMPTY_BATCH),
        (b"42", Reason.NOT_A_POINT),
        (b"{", Reason.MALFORMED_JSON),
        (b"PB\x01", Reason.BINARY_LENGTH),
    ],
)
def test_a_message_with_no_point_is_refused_whole(payload: bytes, reason: Reason) -> None:
    """Framing errors raise DecodeError with the reason (the batch dead-letters the message)."""
    with pytest.raises(DecodeError) as info:
        decode_telemetry(payload)
    assert info.value.reason is reason
