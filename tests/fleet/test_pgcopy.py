"""``fleet._pgcopy.array_rows``: PostgreSQL's binary COPY of rows of arrays, decoded, and
every other layout refused with TripBuildError."""

from __future__ import annotations

import pytest

from fleet._pgcopy import array_rows
from fleet.errors import TripBuildError

HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
TRAILER = b"\xff\xff"


def i32(v: int) -> bytes:
    return v.to_bytes(4, "big", signed=True)


def array(values: list[int | None], oid: int = 20) -> bytes:
    """A one-dimensional bigint[] as array_send writes it (None: a NULL element)."""
    nulls = any(v is None for v in values)
    body = i32(1) + i32(int(nulls)) + i32(oid) + i32(len(values)) + i32(1)
    for v in values:
        body += i32(-1) if v is None else i32(8) + v.to_bytes(8, "big", signed=True)
    return i32(len(body)) + body


def row(key: int, *arrays: bytes) -> bytes:
    return (1 + len(arrays)).to_bytes(2, "big") + i32(4) + i32(key) + b"".join(arrays)


def test_rows_of_arrays_decode_to_columns_with_their_keys() -> None:
    """Two rows of two arrays: each element keyed by its row, columns concatenated."""
    data = HEADER + row(5, array([1, 2]), array([3, 4])) + row(2, array([9]), array([8]))
    key, (a, b) = array_rows(data + TRAILER, [">i8", ">i8"])
    assert key.tolist() == [5, 5, 2]
    assert a.tolist() == [1, 2, 9] and b.tolist() == [3, 4, 8]
    assert a.dtype.isnative


@pytest.mark.parametrize(
    ("data", "arrays", "what"),
    [
        (b"COPY" + bytes(30), 1, "signature"),
        (HEADER + row(1, array([1, 2]), array([3])) + TRAILER, 2, "arrays of a row"),
        (HEADER + row(1, array([1, None])) + TRAILER, 1, "arrays of a row"),
        (HEADER + row(1, array([1]), array([2])) + TRAILER, 1, "fields of a row"),
        (HEADER + row(1, array([1])), 1, "trailer"),
        (HEADER + row(1, array([1, 2, 3]))[:-9] + TRAILER, 1, "truncated"),
    ],
)
def test_other_layouts_are_refused(data: bytes, arrays: int, what: str) -> None:
    """A wrong signature, arrays of unequal length, NULL elements, a wrong field count, a
    missing trailer or bytes cut short: TripBuildError naming the part."""
    with pytest.raises(TripBuildError, match=what):
        array_rows(data, [">i8"] * arrays)
