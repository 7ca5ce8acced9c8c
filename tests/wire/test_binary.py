"""Tests of wire/binary.py: the compact binary encoding, version 1."""

from __future__ import annotations

import datetime as dt
import struct

import numpy as np
import pytest

from tests.ingest.builders import full_point, point, track
from wire import binary
from wire.errors import BinaryEncodeError, DecodeError, Reason
from wire.point import OPTIONAL_FIELDS, SEQ_ABSENT


def test_round_trip_keeps_every_field_to_its_resolution() -> None:
    """Encoding then decoding gives back each field within the wire resolution."""
    p = full_point(t=1_790_000_000_123, seq=18234)
    decoded = binary.decode(binary.encode([p]))
    assert decoded["ts_ms"][0] == 1_790_000_000_123
    assert decoded["lat"][0] == pytest.approx(32.2361, abs=1e-7)
    assert decoded["lon"][0] == pytest.approx(-7.9531, abs=1e-7)
    for name, tol in [
        ("speed_kmh", 0.005),
        ("heading_deg", 0.005),
        ("hdop", 0.005),
        ("soc_pct", 0.005),
        ("voltage_v", 0.005),
        ("current_a", 0.05),
        ("batt_temp_c", 0.005),
        ("odometer_km", 0.005),
    ]:
        assert decoded[name][0] == pytest.approx(p[name], abs=tol), name
    assert decoded["seq"][0] == 18234


def test_absent_fields_decode_as_absent() -> None:
    """An optional field that is missing or None comes back NaN (seq: SEQ_ABSENT)."""
    decoded = binary.decode(binary.encode([point(1, soc_pct=None), point(2, speed_kmh=3.0)]))
    assert np.isnan(decoded["soc_pct"]).all()
    assert np.isnan(decoded["speed_kmh"][0]) and decoded["speed_kmh"][1] == pytest.approx(3.0)
    assert (decoded["seq"] == SEQ_ABSENT).all()


def test_layout_is_the_documented_little_endian_one() -> None:
    """Header and record bytes sit at the offsets the module docstring documents."""
    payload = binary.encode([point(0x0102030405, lat=1.0, lon=-2.0, seq=7, soc_pct=50.0)])
    assert len(payload) == 8 + 40
    assert payload[:2] == b"PB"
    assert struct.unpack_from("<BBHH", payload, 2) == (1, 40, 1, 0)
    ts, lat, lon = struct.unpack_from("<qii", payload, 8)
    assert (ts, lat, lon) == (0x0102030405, 10_000_000, -20_000_000)
    assert struct.unpack_from("<H", payload, 8 + 22)[0] == 5000  # soc in 0.01 %
    assert struct.unpack_from("<H", payload, 8 + 30)[0] == (1 << 3) | (1 << 8)  # present
    assert struct.unpack_from("<I", payload, 8 + 36)[0] == 7


def test_aware_datetimes_encode_as_epoch_ms_and_naive_ones_fail() -> None:
    """ts may be an aware datetime; a naive one is refused."""
    when = dt.datetime(2026, 11, 22, 8, 15, 30, 250_000, tzinfo=dt.UTC)
    decoded = binary.decode(binary.encode([point(when)]))
    assert decoded["ts_ms"][0] == int(when.timestamp() * 1000)
    with pytest.raises(BinaryEncodeError, match="naive"):
        binary.encode([point(dt.datetime(2026, 1, 1))])  # noqa: DTZ001 - the point of the test


def test_rule_breaking_but_representable_values_reach_the_validator() -> None:
    """Latitude 95 and SoC 120 encode (the validator dead-letters them), NaN does not."""
    decoded = binary.decode(binary.encode([point(lat=95.0, soc_pct=120.0)]))
    assert decoded["lat"][0] == pytest.approx(95.0)
    assert decoded["soc_pct"][0] == pytest.approx(120.0)
    with pytest.raises(BinaryEncodeError, match="finite"):
        binary.encode([point(lat=float("nan"))])
    with pytest.raises(BinaryEncodeError, match="holds"):
        binary.encode([point(speed_kmh=1000.0)])
    with pytest.raises(BinaryEncodeError, match="1 to 1000"):
        binary.encode([])


def test_a_batch_of_a_thousand_decodes_in_order() -> None:
    """The largest batch decodes completely, in order."""
    points = track(1000)
    decoded = binary.decode(binary.encode(points))
    assert len(decoded) == 1000
    np.testing.assert_array_equal(decoded["ts_ms"], [p["ts"] for p in points])
    np.testing.assert_array_equal(decoded["seq"], np.arange(1000))


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\x00\x01garbage", Reason.UNKNOWN_ENCODING),
        (b"PB\x01", Reason.BINARY_LENGTH),
        (b"PB\x02\x28\x01\x00\x00\x00" + bytes(40), Reason.BINARY_VERSION),
        (b"PB\x01\x20\x01\x00\x00\x00" + bytes(32), Reason.BINARY_VERSION),
        (b"PB\x01\x28\x00\x00\x00\x00", Reason.EMPTY_BATCH),
        (b"PB\x01\x28\xe9\x03\x00\x00" + bytes(40 * 1001), Reason.BATCH_TOO_LARGE),
        (b"PB\x01\x28\x02\x00\x00\x00" + bytes(79), Reason.BINARY_LENGTH),
        (b"PB\x01\x28\x01\x00\x00\x00" + bytes(41), Reason.BINARY_LENGTH),
    ],
)
def test_bad_framing_raises_its_reason(payload: bytes, reason: Reason) -> None:
    """Garbage, truncation, trailing bytes, unknown versions and bad counts each name a reason."""
    with pytest.raises(DecodeError) as info:
        binary.decode(payload)
    assert info.value.reason is reason


def test_record_payloads_split_the_records() -> None:
    """Each record's raw bytes can be recovered for its dead-letter row."""
    payload = binary.encode(track(3))
    parts = binary.record_payloads(payload)
    assert len(parts) == 3 and all(len(p) == 40 for p in parts)
    assert b"".join(parts) == payload[8:]


def test_the_record_carries_the_optional_fields_in_wire_order() -> None:
    """Present bit i is optional field i of the contract: a record with only bit i set
    decodes to a point with only that field present."""
    for bit, name in enumerate(OPTIONAL_FIELDS):
        records = binary.encode_columns(
            np.array([1_790_000_000_000]),
            np.array([32.2]),
            np.array([-7.9]),
            {name: np.array([1.0])},
        )
        assert int(records["present"][0]) == 1 << bit
        decoded = binary.decode(binary.header(1) + records.tobytes())[0]
        present = [
            n for n in OPTIONAL_FIELDS if decoded[n] == decoded[n] and decoded[n] != SEQ_ABSENT
        ]
        assert present == [name]
