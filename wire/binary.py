"""The compact binary telemetry encoding for constrained units (version 1).

A message is an 8-byte header followed by ``count`` fixed-size 40-byte records, all
little-endian, with no padding. It is published on the same ``.../telemetry`` topic as JSON:
a payload that starts with the magic bytes ``PB`` is binary, one that starts with ``{`` or ``[``
is JSON.

Header (8 bytes)::

    offset  size  type    field
    0       2     bytes   magic, b"PB" (0x50 0x42)
    2       1     uint8   version, 1
    3       1     uint8   record size in bytes, 40 for version 1
    4       2     uint16  count, number of records (1 to 1000)
    6       2     uint16  reserved, 0

Record, version 1 (40 bytes)::

    offset  size  type    field         unit on the wire     decoded as
    0       8     int64   ts            epoch milliseconds   ts (UTC)
    8       4     int32   lat           1e-7 degree          lat, degrees
    12      4     int32   lon           1e-7 degree          lon, degrees
    16      2     uint16  speed         0.01 km/h            speed_kmh
    18      2     uint16  heading       0.01 degree          heading_deg
    20      2     uint16  hdop          0.01                 hdop
    22      2     uint16  soc           0.01 %               soc_pct
    24      2     uint16  voltage       0.01 V               voltage_v
    26      2     int16   current       0.1 A                current_a
    28      2     int16   batt_temp     0.01 degree C        batt_temp_c
    30      2     uint16  present       bit mask, see below
    32      4     uint32  odometer      0.01 km (10 m)       odometer_km
    36      4     uint32  seq           counter              seq

``present`` says which optional fields the record carries (a field whose bit is clear is
stored as NULL, whatever its bytes hold): bit 0 speed, 1 heading, 2 hdop, 3 soc, 4 voltage,
5 current, 6 batt_temp, 7 odometer, 8 seq; bits 9 to 15 are reserved and sent as 0. ``ts``,
``lat`` and ``lon`` are always present. Values the encoding cannot represent (NaN, a field
outside its integer range) make :func:`encode` raise; values it can represent but that break
the rules (latitude 95, SoC 120 %) are the validator's business, so a unit's faults still reach
the dead-letter table with their reason.

Decoding is one ``np.frombuffer`` on :data:`RECORD_DTYPE` and a few vectorised scalings: no
per-point Python.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np

from wire.errors import BinaryEncodeError, DecodeError, Reason
from wire.point import POINT_DTYPE, SEQ_ABSENT

__all__ = [
    "HEADER_DTYPE",
    "HEADER_SIZE",
    "MAGIC",
    "MAX_RECORDS",
    "RECORD_DTYPE",
    "RECORD_SIZE",
    "VERSION",
    "decode",
    "decode_records",
    "encode",
    "encode_columns",
    "header",
    "is_binary",
    "record_payloads",
]

MAGIC: Final = b"PB"
VERSION: Final = 1
MAX_RECORDS: Final = 1000

HEADER_DTYPE: Final = np.dtype(
    [("magic", "S2"), ("version", "u1"), ("record_size", "u1"), ("count", "<u2"), ("_r", "<u2")]
)
RECORD_DTYPE: Final = np.dtype(
    [
        ("ts", "<i8"),
        ("lat", "<i4"),
        ("lon", "<i4"),
        ("speed", "<u2"),
        ("heading", "<u2"),
        ("hdop", "<u2"),
        ("soc", "<u2"),
        ("voltage", "<u2"),
        ("current", "<i2"),
        ("batt_temp", "<i2"),
        ("present", "<u2"),
        ("odometer", "<u4"),
        ("seq", "<u4"),
    ]
)
HEADER_SIZE: Final = HEADER_DTYPE.itemsize  # 8
RECORD_SIZE: Final = RECORD_DTYPE.itemsize  # 40

# (point field, record field, scale: wire integer = round(value * scale), present bit), in
# the order of wire.point.OPTIONAL_FIELDS
_OPTIONAL: Final = (
    ("speed_kmh", "speed", 100.0, 0),
    ("heading_deg", "heading", 100.0, 1),
    ("hdop", "hdop", 100.0, 2),
    ("soc_pct", "soc", 100.0, 3),
    ("voltage_v", "voltage", 100.0, 4),
    ("current_a", "current", 10.0, 5),
    ("batt_temp_c", "batt_temp", 100.0, 6),
    ("odometer_km", "odometer", 100.0, 7),
    ("seq", "seq", 1.0, 8),
)
_COORD_SCALE: Final = 1e7


def is_binary(payload: bytes) -> bool:
    """Whether ``payload`` claims to be in this encoding (starts with :data:`MAGIC`)."""
    return payload[:2] == MAGIC


def decode_records(payload: bytes) -> np.ndarray:
    """The records of a binary message as a read-only view of :data:`RECORD_DTYPE`.

    Raises
    ------
    DecodeError
        ``unknown_encoding`` without the magic, ``binary_version`` for a version or record
        size this decoder does not know, ``empty_batch`` or ``batch_too_large`` for the count,
        ``binary_length`` when the length is not header + count records (truncated).
    """
    if len(payload) < HEADER_SIZE or not is_binary(payload):
        if is_binary(payload):
            raise DecodeError(
                Reason.BINARY_LENGTH,
                f"binary message of {len(payload)} bytes is shorter than its {HEADER_SIZE}-byte "
                "header",
            )
        raise DecodeError(Reason.UNKNOWN_ENCODING, "payload does not start with b'PB'")
    header = np.frombuffer(payload, dtype=HEADER_DTYPE, count=1)[0]
    version, record_size, count = (
        int(header["version"]),
        int(header["record_size"]),
        int(header["count"]),
    )
    if version != VERSION or record_size != RECORD_SIZE:
        raise DecodeError(
            Reason.BINARY_VERSION,
            f"binary version {version} with {record_size}-byte records; expected version "
            f"{VERSION} with {RECORD_SIZE}-byte records",
            field="version",
            value=version,
        )
    if count == 0:
        raise DecodeError(Reason.EMPTY_BATCH, "binary message with a count of 0 records")
    if count > MAX_RECORDS:
        raise DecodeError(
            Reason.BATCH_TOO_LARGE,
            f"binary message of {count} records; at most {MAX_RECORDS}",
            field="count",
            value=count,
        )
    expected = HEADER_SIZE + count * RECORD_SIZE
    if len(payload) != expected:
        raise DecodeError(
            Reason.BINARY_LENGTH,
            f"binary message of {len(payload)} bytes; its header announces {count} records, "
            f"{expected} bytes",
            field="count",
            value=count,
        )
    return np.frombuffer(payload, dtype=RECORD_DTYPE, count=count, offset=HEADER_SIZE)


def decode(payload: bytes) -> np.ndarray:
    """Decode a binary message into an array of :data:`wire.point.POINT_DTYPE`.

    Absent optional fields become NaN (or ``SEQ_ABSENT``); no validation beyond the framing
    is done here (the ingester's validation does it). Raises :class:`DecodeError` as
    :func:`decode_records` does.
    """
    records = decode_records(payload)
    points = np.empty(len(records), dtype=POINT_DTYPE)
    points["ts_ms"] = records["ts"]
    points["lat"] = records["lat"] / _COORD_SCALE
    points["lon"] = records["lon"] / _COORD_SCALE
    present = records["present"]
    for name, wire, scale, bit in _OPTIONAL:
        has = (present & (1 << bit)) != 0
        if name == "seq":
            points[name] = np.where(has, records[wire].astype(np.int64), SEQ_ABSENT)
        else:
            points[name] = np.where(has, records[wire] / scale, np.nan)
    return points


def record_payloads(payload: bytes) -> list[bytes]:
    """The raw bytes of each record of a well-framed message (for dead-letter rows)."""
    count = (len(payload) - HEADER_SIZE) // RECORD_SIZE
    return [
        payload[HEADER_SIZE + i * RECORD_SIZE : HEADER_SIZE + (i + 1) * RECORD_SIZE]
        for i in range(count)
    ]


def _ts_ms(value: object, index: int) -> int:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise BinaryEncodeError(f"point {index}: ts {value!r} is naive; expected aware")
        return round(value.timestamp() * 1000)
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return int(value)
    raise BinaryEncodeError(
        f"point {index}: ts is {value!r}; expected epoch milliseconds (int) or an aware datetime"
    )


def _scaled(values: np.ndarray, scale: float, dtype: np.dtype[Any], what: str) -> np.ndarray:
    if not np.all(np.isfinite(values)):
        bad = int(np.flatnonzero(~np.isfinite(values))[0])
        raise BinaryEncodeError(f"point {bad}: {what} is {values[bad]}; expected a finite number")
    wire = np.rint(values * scale)
    info = np.iinfo(dtype)
    out = (wire < info.min) | (wire > info.max)
    if out.any():
        bad = int(np.flatnonzero(out)[0])
        raise BinaryEncodeError(
            f"point {bad}: {what} is {values[bad]}; the binary encoding holds "
            f"{info.min / scale:g} to {info.max / scale:g}"
        )
    return wire.astype(dtype)


def header(count: int) -> bytes:
    """The 8-byte header of a message of ``count`` records."""
    if not 1 <= count <= MAX_RECORDS:
        raise BinaryEncodeError(f"{count} points; a binary message holds 1 to {MAX_RECORDS}")
    head = np.zeros(1, dtype=HEADER_DTYPE)
    head["magic"] = MAGIC
    head["version"] = VERSION
    head["record_size"] = RECORD_SIZE
    head["count"] = count
    return head.tobytes()


def encode_columns(
    ts_ms: np.ndarray, lat: np.ndarray, lon: np.ndarray, optional: Mapping[str, np.ndarray]
) -> np.ndarray:
    """Records (:data:`RECORD_DTYPE`) for points given as columns, vectorised.

    ``ts_ms`` epoch milliseconds, ``lat``/``lon`` degrees, ``optional`` maps JSON field names
    (``speed_kmh``, ..., ``seq``) to float columns where NaN means absent. Slice the result and
    prefix :func:`header` to make messages of up to :data:`MAX_RECORDS` records.
    """
    n = np.asarray(ts_ms).size
    records = np.zeros(n, dtype=RECORD_DTYPE)
    records["ts"] = np.asarray(ts_ms, dtype=np.int64)
    records["lat"] = _scaled(np.asarray(lat, np.float64), _COORD_SCALE, RECORD_DTYPE["lat"], "lat")
    records["lon"] = _scaled(np.asarray(lon, np.float64), _COORD_SCALE, RECORD_DTYPE["lon"], "lon")
    present = np.zeros(n, dtype=np.uint16)
    for name, wire, scale, bit in _OPTIONAL:
        if name not in optional:
            continue
        values = np.asarray(optional[name], dtype=np.float64)
        has = ~np.isnan(values)  # NaN is absent; an infinity is an error in _scaled
        records[wire] = _scaled(np.where(has, values, 0.0), scale, RECORD_DTYPE[wire], name)
        present |= has.astype(np.uint16) << np.uint16(bit)
    records["present"] = present
    return records


def encode(points: Sequence[Mapping[str, Any]]) -> bytes:
    """Encode points (dicts with the JSON field names; ``ts`` as epoch ms or aware datetime).

    Optional fields that are missing or None are marked absent. Raises
    :class:`wire.errors.BinaryEncodeError` for more than :data:`MAX_RECORDS` points, none, a
    missing ``ts``/``lat``/``lon``, or a value the encoding cannot represent (NaN included).
    """
    n = len(points)
    head = header(n)
    try:
        ts_ms = np.array([_ts_ms(p["ts"], i) for i, p in enumerate(points)], dtype=np.int64)
        lat = np.array([p["lat"] for p in points], dtype=np.float64)
        lon = np.array([p["lon"] for p in points], dtype=np.float64)
    except KeyError as exc:
        raise BinaryEncodeError(
            f"a point has no {exc.args[0]!r}; ts, lat, lon are required"
        ) from exc
    except (TypeError, ValueError) as exc:
        raise BinaryEncodeError(f"lat and lon must be numbers ({exc})") from exc
    optional: dict[str, np.ndarray] = {}
    for name, _wire, _scale, _bit in _OPTIONAL:
        raw = [p.get(name) for p in points]
        if all(v is None for v in raw):
            continue
        try:
            values = np.array([np.nan if v is None else v for v in raw], dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise BinaryEncodeError(f"{name} must be a number ({exc})") from exc
        given_nan = np.isnan(values) & np.array([v is not None for v in raw])
        if given_nan.any():
            bad = int(np.flatnonzero(given_nan)[0])
            raise BinaryEncodeError(f"point {bad}: {name} is nan; expected a finite number")
        optional[name] = values
    return head + encode_columns(ts_ms, lat, lon, optional).tobytes()
