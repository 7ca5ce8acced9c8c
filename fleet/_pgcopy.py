"""PostgreSQL's binary COPY format for telemetry, both ways, with numpy (no per-row Python).

Writing: a row of ``telemetry`` (or of the staging table, which has the same columns) is
fixed-width once we know which optional fields it carries: an absent field is a length of -1
and no bytes. Rows are grouped by that presence pattern (a clean batch has one or two
patterns), and each group is laid out with one structured dtype and written with one
``tobytes``.

Reading (:func:`array_rows`): the trip builder reads each vehicle's fixes as one row of
arrays, so a COPY of millions of fixes is a few hundred rows (a COPY row is one protocol
message, and psycopg hands each to Python on its own), each column of a row one strided
``np.frombuffer``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from fleet.errors import TripBuildError
from wire.point import OPTIONAL_FIELDS, POINT_DTYPE, SEQ_ABSENT

__all__ = ["COLUMNS", "PG_EPOCH_MS", "array_rows", "copy_payload"]

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


_SIGNATURE: Final = b"PGCOPY\n\xff\r\n\x00"
# An array's header, int32 each: dimensions, has-NULL flag, element type, length, lower bound.
_ARRAY_HEADER: Final = 20


def _int(data: memoryview, at: int, size: int) -> int:
    return int.from_bytes(data[at : at + size], "big", signed=True)


def array_rows(
    data: bytes | bytearray, kinds: Sequence[str]
) -> tuple[NDArray[np.int64], list[NDArray[Any]]]:
    """Decode ``COPY (SELECT key, a1, ..., ak ...) TO STDOUT (FORMAT BINARY)`` of rows of one
    ``integer`` key and ``k`` one-dimensional arrays of one length each, without NULL
    elements, of 8-byte elements.

    Parameters
    ----------
    data : bytes
        The whole COPY output: signature, header, rows, trailer.
    kinds : sequence of str
        The big-endian numpy kind of each array's elements (``">i8"`` for ``bigint`` and
        ``timestamptz``, ``">f8"`` for ``double precision``).

    Returns
    -------
    key : ndarray of int64, shape (n,)
        Each element's row key, rows in the order they came.
    columns : list of ndarray, shape (n,) each
        The arrays of every row, concatenated, in native byte order.

    Raises
    ------
    TripBuildError
        When the bytes are not rows of that layout.

    Examples
    --------
    >>> row = (2).to_bytes(2, "big") + (4).to_bytes(4, "big") + (7).to_bytes(4, "big")
    >>> row += (20 + 12 * 2).to_bytes(4, "big") + b"".join(
    ...     v.to_bytes(4, "big") for v in (1, 0, 20, 2, 1)
    ... ) + b"".join((8).to_bytes(4, "big") + v.to_bytes(8, "big") for v in (5, 6))
    >>> key, (ts,) = array_rows(_SIGNATURE + bytes(8) + row + b"\\xff\\xff", [">i8"])
    >>> key.tolist(), ts.tolist()
    ([7, 7], [5, 6])
    """
    view = memoryview(data)
    if len(data) < 21 or bytes(view[:11]) != _SIGNATURE:
        raise TripBuildError("the telemetry COPY does not start with the binary signature")
    element = [np.dtype([("len", ">i4"), ("value", kind)]) for kind in kinds]
    at, end = 19 + _int(view, 15, 4), len(data) - 2
    keys: list[int] = []
    counts: list[int] = []
    parts: list[list[NDArray[Any]]] = [[] for _ in kinds]
    while at < end:
        if _int(view, at, 2) != 1 + len(kinds) or _int(view, at + 2, 4) != 4:
            raise TripBuildError("unexpected telemetry COPY layout: fields of a row")
        keys.append(_int(view, at + 6, 4))
        at += 10
        n = -1
        for j in range(len(kinds)):
            size = _int(view, at, 4)
            count = (size - _ARRAY_HEADER) // element[j].itemsize
            if _int(view, at + 4, 4) != 1 or _int(view, at + 8, 4) != 0 or n not in (-1, count):
                raise TripBuildError("unexpected telemetry COPY layout: arrays of a row")
            n = count
            try:
                parts[j].append(
                    np.frombuffer(data, element[j], count=n, offset=at + 4 + _ARRAY_HEADER)
                )
            except ValueError as exc:  # the buffer ends inside the array
                raise TripBuildError("unexpected telemetry COPY layout: truncated") from exc
            at += 4 + size
        counts.append(n)
    if at != end or _int(view, end, 2) != -1:
        raise TripBuildError("unexpected telemetry COPY layout: the trailer")
    total = sum(counts)
    columns = []
    for kind, pieces in zip(kinds, parts, strict=True):
        # One pass per piece: its length words checked, its values swapped into place.
        out = np.empty(total, dtype=np.dtype(kind).newbyteorder("="))
        at = 0
        for piece in pieces:
            if not (piece["len"] == out.itemsize).all():
                raise TripBuildError("unexpected telemetry COPY layout: NULL or wide elements")
            out[at : at + piece.size] = piece["value"]
            at += piece.size
        columns.append(out)
    key = np.repeat(np.array(keys, dtype=np.int64), counts)
    return key, columns
