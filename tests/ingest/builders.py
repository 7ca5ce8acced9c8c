"""Small builders of test data for the ingester's tests."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any


def now_ms(offset_s: float = 0.0) -> int:
    """The current time as epoch milliseconds, shifted by ``offset_s`` seconds."""
    return int((time.time() + offset_s) * 1000)


def point(
    t: int | str | dt.datetime | None = None,
    lat: object = 32.2361,
    lon: object = -7.9531,
    **fields: Any,
) -> dict[str, Any]:
    """A telemetry point as a device sends it; ``t`` defaults to now (epoch ms)."""
    return {"ts": now_ms() if t is None else t, "lat": lat, "lon": lon, **fields}


def full_point(t: int | None = None, seq: int = 1) -> dict[str, Any]:
    """A point with every field of DESIGN.md's example."""
    return point(
        t,
        speed_kmh=27.4,
        heading_deg=182,
        hdop=0.9,
        soc_pct=76.5,
        voltage_v=71.8,
        current_a=12.3,
        batt_temp_c=31.0,
        odometer_km=10234.52,
        seq=seq,
    )


def track(n: int, start_ms: int | None = None, step_ms: int = 1000, **fields: Any) -> list[dict]:
    """``n`` points one ``step_ms`` apart, moving north, ending around now."""
    start = now_ms(-n * step_ms / 1000) if start_ms is None else start_ms
    return [point(start + i * step_ms, lat=32.2361 + i * 1e-5, seq=i, **fields) for i in range(n)]
