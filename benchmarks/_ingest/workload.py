"""The benchmark's rows: deterministic telemetry for ``vehicles`` units, as JSON payloads and
as numpy rows (for the COPY reference), both from the same generator."""

from __future__ import annotations

import datetime as dt

import numpy as np
import orjson

from wire.point import POINT_DTYPE

VEHICLES = 200


def points(n: int, start_ms: int, seed: int = 7) -> np.ndarray:
    """``n`` points; point ``i`` belongs to vehicle ``i % VEHICLES`` at ``start_ms + i`` ms."""
    rng = np.random.default_rng(seed)
    out = np.empty(n, dtype=POINT_DTYPE)
    out["ts_ms"] = start_ms + np.arange(n)
    out["lat"] = np.round(32.20 + rng.random(n) * 0.08, 6)
    out["lon"] = np.round(-7.99 + rng.random(n) * 0.08, 6)
    out["speed_kmh"] = np.round(rng.random(n) * 45, 1)
    out["heading_deg"] = rng.integers(0, 360, n)
    out["hdop"] = np.round(0.6 + rng.random(n), 1)
    out["soc_pct"] = np.round(20 + rng.random(n) * 80, 1)
    out["voltage_v"] = np.round(66 + rng.random(n) * 8, 1)
    out["current_a"] = np.round(rng.random(n) * 30, 1)
    out["batt_temp_c"] = np.round(20 + rng.random(n) * 15, 1)
    out["odometer_km"] = np.round(1000 + rng.random(n) * 9000, 2)
    out["seq"] = np.arange(n)
    return out


def vehicle_of(n: int) -> np.ndarray:
    return np.arange(n) % VEHICLES


def _iso(ms: int) -> str:
    when = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def as_dicts(rows: np.ndarray) -> list[dict[str, object]]:
    """The rows as DESIGN.md's JSON points (RFC 3339 ts, every field)."""
    names = [n for n in rows.dtype.names or () if n != "ts_ms"]
    columns = {n: rows[n].tolist() for n in names}
    ts = rows["ts_ms"].tolist()
    out = []
    for i in range(len(rows)):
        point: dict[str, object] = {"ts": _iso(ts[i])}
        for n in names:
            v = columns[n][i]
            point[n] = round(v, 2) if isinstance(v, float) else v
        out.append(point)
    return out


def messages(
    root: str, kind: str, n_points: int, start_ms: int, part: int = 0, parts: int = 1
) -> list[tuple[str, bytes]]:
    """This publisher's share of the messages: ``single`` (one point each) or ``batch50``.

    A batch holds 50 consecutive points of one vehicle (points ``i`` with the same
    ``i % VEHICLES``), so batches look like a unit's buffered minute.
    """
    rows = points(n_points, start_ms)
    vehicles = vehicle_of(n_points)
    size = 1 if kind == "single" else 50
    order = np.lexsort((np.arange(n_points), vehicles))  # by vehicle, then time
    groups = [order[i : i + size] for i in range(0, n_points, size)]
    mine = groups[part::parts]
    dicts = as_dicts(rows)
    out = []
    for g in mine:
        v = int(vehicles[g[0]])
        topic = f"{root}/bench/v{v:04d}/telemetry"
        body = dicts[g[0]] if size == 1 else [dicts[i] for i in g]
        out.append((topic, orjson.dumps(body)))
    return out
