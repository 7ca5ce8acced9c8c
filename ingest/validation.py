"""The rules of DESIGN.md's "what bad input gets", checked for a whole batch with numpy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingest._shown import shown
from ingest.columns import FIELDS, REASONS, mark
from ingest.errors import Reason

__all__ = ["Rules", "describe", "validate"]


@dataclass(frozen=True)
class Rules:
    """How far a device clock may lead the time received, and how old a point may be."""

    max_future_s: float = 300.0
    max_age_days: float = 3.0


def validate(
    points: np.ndarray,
    received_ms: np.ndarray,
    rules: Rules,
    reasons: np.ndarray,
    fields: np.ndarray,
) -> None:
    """Mark the points that break a range or time rule (in place, first reason wins).

    Parameters
    ----------
    points
        A :data:`wire.point.POINT_DTYPE` array.
    received_ms
        int64, the epoch ms each point's message arrived, same length.
    reasons, fields
        The arrays from :func:`ingest.columns.json_columns` (zeros / -1 for binary points).
    """
    lat, lon, soc, ts = points["lat"], points["lon"], points["soc_pct"], points["ts_ms"]
    f = FIELDS.index
    mark(reasons, fields, ~((lat >= -90.0) & (lat <= 90.0)), Reason.LAT_RANGE, f("lat"))
    mark(reasons, fields, ~((lon >= -180.0) & (lon <= 180.0)), Reason.LON_RANGE, f("lon"))
    mark(reasons, fields, (lat == 0.0) & (lon == 0.0), Reason.NULL_ISLAND, f("lat"))
    mark(reasons, fields, (soc < 0.0) | (soc > 100.0), Reason.SOC_RANGE, f("soc_pct"))
    future = int(rules.max_future_s * 1000)
    age = int(rules.max_age_days * 86_400_000)
    # Compare as differences in float64 so extreme int64 timestamps cannot overflow.
    lead = ts.astype(np.float64) - received_ms.astype(np.float64)
    mark(reasons, fields, lead > future, Reason.TS_FUTURE, f("ts"))
    mark(reasons, fields, lead < -age, Reason.TS_PAST, f("ts"))


_EXPECTED = {
    Reason.MISSING_FIELD: "a value (ts, lat and lon are required)",
    Reason.BAD_TYPE: "a number",
    Reason.BAD_TIMESTAMP: "RFC 3339 with an offset, or integer epoch milliseconds",
    Reason.NOT_FINITE: "a finite number",
    Reason.VALUE_RANGE: "a value the column can hold",
    Reason.LAT_RANGE: "-90 to 90",
    Reason.LON_RANGE: "-180 to 180",
    Reason.NULL_ISLAND: "a real fix, not 0,0",
    Reason.SOC_RANGE: "0 to 100",
    Reason.TS_FUTURE: "at most the allowed lead over the time received",
    Reason.TS_PAST: "at most the allowed age",
}


def describe(reason_code: int, field_code: int, value: object, index: int) -> str:
    """A dead letter's detail: which point, which field, its value and what was expected."""
    reason = REASONS[reason_code - 1]
    name = FIELDS[field_code] if field_code >= 0 else "point"
    return f"point {index}: {name} is {shown(value)}; expected {_EXPECTED.get(reason, 'valid')}"
