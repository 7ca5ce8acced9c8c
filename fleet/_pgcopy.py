"""PostgreSQL's binary COPY format for telemetry rows, built with numpy (no per-row Python).

A row of ``telemetry`` (or of the staging table, which has the same columns) is fixed-width
once we know which optional fields it carries: an absent field is a length of -1 and no
bytes. Rows are grouped by that presence pattern (a clean batch has one or two patterns), and
each group is laid out with one structured dtype and written with one ``tobytes``.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from wire.point import OPTIONAL_FIELDS, POINT_DTYPE, SEQ_ABSENT

__all__ = ["COLUMNS", "PG_EPOCH_MS", "copy_payload"]

PG_EPOCH_MS: Final = 946_684_800_000  # 2000-01-01T00:00:00Z, PostgreSQL's timestamp epoch
_HEADER: Final = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
_TRAILER: Final = b"\xff\xff"

# (column, big-endian type, optional): the key, the point's fields with their wire types, the
# time received.
_COLUMNS: Final = (
    ("vehicle_key", ">i4", False),
    ("ts", ">i8", False),
    ("lat", ">f8", False),
    ("lon", ">f8", False),
    *((name, POINT_DTYPE[name].newbyteorder(">").str, True) for name in OPTIONAL_FIELDS),
    ("received_at", ">i8", False),
)
#: The column list of the COPY, in the order of the payload's fields.
COLUMNS: Final = tuple(name for name, _, _ in _COLUMNS)
_OPTIONAL: Final = tuple(name for name, _, optional in _COLUMNS if optional)
_DTYPES: dict[int, np.dtype] = {}


def _row_dtype(pattern: int) -> np.dtype:
    """The row layout for one presence pattern (bit ``i`` set: optional field ``i`` present)."""
    dtype = _DTYPES.get(pattern)
    if dtype is None:
        fields: list[tuple[str, str]] = [("nfields", ">i2")]
        bit = 0
        for name, kind, optional in _COLUMNS:
            fields.append((f"len_{name}", ">i4"))
            if not optional or pattern >> bit & 1:
                fields.append((name, kind))
            bit += optional
        dtype = _DTYPES[pattern] = np.dtype(fields)
    return dtype


def _rows(
    points: np.ndarray, vehicle_key: np.ndarray, received_ms: np.ndarray, pattern: int
) -> bytes:
    rows = np.empty(len(points), dtype=_row_dtype(pattern))
    names = rows.dtype.names or ()
    rows["nfields"] = len(_COLUMNS)
    for name, kind, _ in _COLUMNS:
        rows[f"len_{name}"] = np.dtype(kind).itemsize if name in names else -1  # -1: NULL
    rows["vehicle_key"] = vehicle_key
    rows["ts"] = (points["ts_ms"] - PG_EPOCH_MS) * 1000
    rows["received_at"] = (received_ms - PG_EPOCH_MS) * 1000
    for name in ("lat", "lon", *_OPTIONAL):
        if name in names:
            rows[name] = points[name]
    return rows.tobytes()


def copy_payload(points: np.ndarray, vehicle_key: np.ndarray, received_ms: np.ndarray) -> bytes:
    """The bytes of ``COPY telemetry (COLUMNS) FROM STDIN (FORMAT BINARY)`` for these points.

    Absent optional values (NaN, or :data:`wire.point.SEQ_ABSENT` for ``seq``) become NULL;
    validation has turned every NaN a device sent into a dead letter, so NaN means absent.
    Rows keep their order within a presence pattern; patterns follow each other.

    Parameters
    ----------
    points
        :data:`wire.point.POINT_DTYPE`, validated.
    vehicle_key, received_ms
        int32 and int64 arrays of the same length.
    """
    pattern = np.zeros(len(points), dtype=np.int32)
    for bit, name in enumerate(_OPTIONAL):
        column = points[name]
        present = column != SEQ_ABSENT if name == "seq" else ~np.isnan(column)
        pattern |= present.astype(np.int32) << bit
    patterns = np.unique(pattern)
    if len(patterns) <= 1:
        only = int(patterns[0]) if len(patterns) else 0
        return _HEADER + _rows(points, vehicle_key, received_ms, only) + _TRAILER
    parts = [_HEADER]
    for p in patterns:
        mine = pattern == p
        parts.append(_rows(points[mine], vehicle_key[mine], received_ms[mine], int(p)))
    parts.append(_TRAILER)
    return b"".join(parts)
