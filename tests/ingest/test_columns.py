"""Tests of ingest/columns.py: point dicts to typed columns with reason codes."""

from __future__ import annotations

import math

import numpy as np

from ingest.columns import FIELDS, REASONS, json_columns
from tests.ingest.builders import full_point, point
from wire.point import SEQ_ABSENT


def _reason(code: int) -> str | None:
    return None if code == 0 else str(REASONS[code - 1])


def test_full_and_sparse_points_convert_with_absent_fields_as_nan() -> None:
    """Points with every field and with only the required ones share one array."""
    points, reasons, _ = json_columns([full_point(t=1000, seq=5), point(2000)])
    assert (reasons == 0).all()
    assert points["ts_ms"].tolist() == [1000, 2000]
    assert points["speed_kmh"][0] == np.float32(27.4) and math.isnan(points["speed_kmh"][1])
    assert points["seq"].tolist() == [5, SEQ_ABSENT]


def test_rfc3339_with_offset_and_epoch_ms_mix() -> None:
    """ts may be RFC 3339 with any offset or epoch ms, mixed in one batch."""
    points, reasons, _ = json_columns(
        [point("2026-11-22T09:15:30.250+01:00"), point(1_795_335_330_250)]
    )
    assert (reasons == 0).all()
    assert points["ts_ms"].tolist() == [1_795_335_330_250, 1_795_335_330_250]


def test_type_rules_give_reason_and_field() -> None:
    """Strings, booleans, missing required fields, NaN and overflow each name reason and field."""
    cases = [
        (point(lat="1"), "bad_type", "lat"),
        (point(soc_pct=True), "bad_type", "soc_pct"),
        (point(seq=1.5), "bad_type", "seq"),
        ({"ts": 1, "lat": 1.0}, "missing_field", "lon"),
        (point(lon=float("inf")), "not_finite", "lon"),
        (point(hdop=1e300), "value_range", "hdop"),
        (point("2026-11-22"), "bad_timestamp", "ts"),
        (point(None), None, None),  # the builder's default: now
    ]
    rows = [c[0] for c in cases]
    rows[-1] = point()
    _, reasons, fields = json_columns(rows)
    for (_, reason, field), code, f in zip(cases, reasons, fields, strict=True):
        assert _reason(int(code)) == reason
        assert (FIELDS[f] if f >= 0 else None) == field
