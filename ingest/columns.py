"""JSON points to columns: a batch of point dicts becomes one :data:`POINT_DTYPE` array.

Types are checked per column for the whole batch at once (``set(map(type, column))`` and
elementwise comparisons of the type array), so a clean batch costs one list per field and one
``np.array`` per field. Points that break a type rule get a reason code instead of a value; the
range rules are :mod:`ingest.validation`'s.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any, Final

import msgspec
import numpy as np

from ingest._rfc3339 import parse_fixed, parse_ts_ms
from ingest.errors import Reason
from wire.point import FLOAT32_FIELDS, OPTIONAL_FIELDS, POINT_DTYPE, SEQ_ABSENT

__all__ = ["FIELDS", "REASONS", "FastPoint", "code", "fast_columns", "json_columns", "mark"]

#: Reason codes: 0 means "no rule broken so far", ``code(reason)`` is the reason's index + 1.
REASONS: Final = tuple(Reason)
_CODE: Final = {reason: i + 1 for i, reason in enumerate(REASONS)}
#: Field codes for the ``field`` array: index into FIELDS, -1 for none.
FIELDS: Final = ("ts", "lat", "lon", *OPTIONAL_FIELDS)

_NONE = type(None)
_NUMBER_TYPES: Final = frozenset({float, int})
_F32_MAX: Final = float(np.finfo(np.float32).max)
_I64 = np.iinfo(np.int64)
_GETTERS: Final = tuple(operator.itemgetter(name) for name in FIELDS)
_ATTRS: Final = tuple(operator.attrgetter(name) for name in FIELDS)
_EXACT: Final = 2.0**53  # floats from here on: the fast path declines them (see fast_columns)


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


def code(reason: Reason) -> int:
    """The uint8 code of ``reason`` in reason arrays."""
    return _CODE[reason]


def mark(reasons: np.ndarray, fields: np.ndarray, mask: np.ndarray, reason: Reason, f: int) -> None:
    """Give ``reason`` (and field index ``f``) to the points of ``mask`` that have none yet."""
    hit = mask & (reasons == 0)
    reasons[hit] = _CODE[reason]
    fields[hit] = f


def _types(column: Sequence[Any]) -> np.ndarray:
    return np.fromiter(map(type, column), dtype=object, count=len(column))


def _of(types: np.ndarray, kind: type) -> np.ndarray:
    """Elementwise ``type is kind`` over an object array of types."""
    return np.asarray(types == kind)  # elementwise: numpy compares each element


def _floats(column: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(values, absent, bad_type)`` for a numeric column; absent values are NaN."""
    n = len(column)
    kinds = set(map(type, column))
    no = np.zeros(n, dtype=bool)
    if kinds <= _NUMBER_TYPES:
        try:
            return np.array(column, dtype=np.float64), no, no
        except OverflowError:
            pass
    if kinds == {_NONE}:
        return np.full(n, np.nan), np.ones(n, dtype=bool), no
    types = _types(column)
    number = _of(types, float) | _of(types, int)
    absent = _of(types, _NONE)
    values = np.full(n, np.nan)
    idx = np.flatnonzero(number)
    try:
        values[idx] = np.array([column[int(i)] for i in idx], dtype=np.float64)
    except OverflowError:
        for i in idx:
            try:
                values[i] = float(column[int(i)])
            except OverflowError:
                values[i] = np.inf  # an integer beyond any float: reported as out of range
    return values, absent, ~(number | absent)


def _ints(column: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(values, absent, bad_type, out_of_range)`` for an integer column."""
    n = len(column)
    kinds = set(map(type, column))
    no = np.zeros(n, dtype=bool)
    if kinds == {int}:
        try:
            return np.array(column, dtype=np.int64), no, no, no
        except OverflowError:
            pass
    types = _types(column)
    integer = _of(types, int)
    absent = _of(types, _NONE)
    values = np.full(n, SEQ_ABSENT, dtype=np.int64)
    big = np.zeros(n, dtype=bool)
    for i in np.flatnonzero(integer):
        v = column[int(i)]
        if _I64.min < v <= _I64.max:
            values[i] = v
        else:
            big[i] = True
    # orjson reads integer literals beyond 64 bits as floats: still an integer out of range.
    for i in np.flatnonzero(_of(types, float)):
        v = column[int(i)]
        if abs(v) >= 2.0**63 and v == v // 1:
            big[i] = integer[i] = True
    return values, absent, ~(integer | absent), big


def _timestamps(column: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(ts_ms, absent, bad)`` for the ts column."""
    n = len(column)
    kinds = set(map(type, column))
    no = np.zeros(n, dtype=bool)
    if kinds == {int}:
        try:
            return np.array(column, dtype=np.int64), no, no
        except OverflowError:
            pass
    if kinds == {str}:
        fixed = parse_fixed(column)
        if fixed is not None:
            return fixed, no, no
    parsed = [parse_ts_ms(v) for v in column]
    absent = _of(_types(column), _NONE)
    bad = np.fromiter((v is None for v in parsed), dtype=bool, count=n) & ~absent
    values = np.array([0 if v is None else v for v in parsed], dtype=np.int64)
    return values, absent, bad


def json_columns(points: Sequence[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Turn point dicts into ``(points, reasons, fields)``.

    ``points`` is a :data:`POINT_DTYPE` array (absent optional values NaN or SEQ_ABSENT);
    ``reasons`` a uint8 array of reason codes (0 where no type rule was broken); ``fields`` an
    int8 array naming the offending field (index into :data:`FIELDS`, -1 for none). Unknown
    fields are ignored.
    """
    # One C-level pass per field: itemgetter when every point has it (the common case),
    # dict.get (None when absent) otherwise.
    columns: list[Sequence[Any]] = []
    for name, getter in zip(FIELDS, _GETTERS, strict=True):
        try:
            columns.append(list(map(getter, points)))
        except KeyError:
            columns.append([p.get(name) for p in points])
    return _convert(columns)


def fast_columns(points: Sequence[FastPoint]) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """:func:`json_columns` for the fast path's structs, or None when the general path must
    decide: any type rule broken, or a float of magnitude 2**53 or more (where the two
    decoders might round an integer literal differently). When it returns arrays they are
    exactly the general path's for the same messages (tests/ingest/test_fast_path.py).

    msgspec has already checked the types (floats or None, ``ts`` an int or a string, ``seq``
    an int or None) and refuses NaN, Infinity and numbers beyond a double, so a NaN here can
    only be an absent value and no per-point mark is needed.
    """
    n = len(points)
    out = np.empty(n, dtype=POINT_DTYPE)
    ts, _, bad = _timestamps(list(map(_ATTRS[0], points)))
    if bad.any():
        return None
    out["ts_ms"] = ts
    for name, getter in zip(FIELDS[1:-1], _ATTRS[1:-1], strict=True):
        values = np.array(list(map(getter, points)), dtype=np.float64)  # None -> NaN
        # (a magnitude below 2**53 is also within float32's range)
        if (np.abs(values) >= _EXACT).any():
            return None
        out[name] = values
    seq = list(map(_ATTRS[-1], points))
    try:
        out["seq"] = np.array(seq, dtype=np.int64)
    except (TypeError, OverflowError):  # absent values, or beyond int64
        ivalues, _, bad, big = _ints(seq)
        if bad.any() or big.any():
            return None
        out["seq"] = ivalues
    return out, np.zeros(n, dtype=np.uint8), np.full(n, -1, dtype=np.int8)


def _convert(columns: list[Sequence[Any]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The column lists (in :data:`FIELDS` order) as arrays, reasons and fields."""
    n = len(columns[0])
    out = np.empty(n, dtype=POINT_DTYPE)  # every field is assigned below
    reasons = np.zeros(n, dtype=np.uint8)
    fields = np.full(n, -1, dtype=np.int8)

    ts, absent, bad = _timestamps(columns[0])
    mark(reasons, fields, absent, Reason.MISSING_FIELD, 0)
    mark(reasons, fields, bad, Reason.BAD_TIMESTAMP, 0)
    out["ts_ms"] = ts

    for f, name in enumerate(FIELDS[1:], start=1):
        column = columns[f]
        if name == "seq":
            ivalues, absent, bad, big = _ints(column)
            mark(reasons, fields, bad, Reason.BAD_TYPE, f)
            mark(reasons, fields, big, Reason.VALUE_RANGE, f)
            out[name] = ivalues
            continue
        values, absent, bad = _floats(column)
        if name in ("lat", "lon"):
            mark(reasons, fields, absent, Reason.MISSING_FIELD, f)
        mark(reasons, fields, bad, Reason.BAD_TYPE, f)
        finite = np.isfinite(values)
        mark(reasons, fields, ~finite & ~absent & ~bad, Reason.NOT_FINITE, f)
        if name in FLOAT32_FIELDS:
            mark(reasons, fields, finite & (np.abs(values) > _F32_MAX), Reason.VALUE_RANGE, f)
            values = np.where(finite & (np.abs(values) <= _F32_MAX), values, np.nan)
        out[name] = values
    return out, reasons, fields
