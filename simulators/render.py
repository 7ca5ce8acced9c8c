"""From the schedule to the points a device sends: motion, battery, GPS noise and faults.

Rendering is a pure function of the plan and a time window: every point's noise comes from a
counter-based hash of (vehicle, time) (:mod:`simulators._random`), so a window rendered in one
piece or in daily chunks gives the same points. Work is vectorised over all points of the
window: no Python loop runs per point, per ride or per vehicle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from simulators._random import hash_normal, hash_uniform
from simulators.network import to_lonlat
from simulators.plan import (
    AUX_W,
    DRIVE_EFFICIENCY,
    Plan,
    charge_curve_soc,
    consumption_wh_per_km,
    edge_energy_j,
)

__all__ = [
    "EVENT_DTYPE",
    "FLAG_BUFFERED",
    "FLAG_DUPLICATE",
    "FLAG_MULTIPATH",
    "FLAG_OUT_OF_ORDER",
    "FLAG_SKEWED",
    "MALFORMED_DTYPE",
    "POINT_DTYPE",
    "STATE_CHARGING",
    "STATE_PARKED",
    "STATE_RIDING",
    "TRUTH_DTYPE",
    "Rendered",
    "render",
]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

POINT_DTYPE = np.dtype(
    [
        ("fleet", "U16"),
        ("vehicle", "U16"),
        ("ts", "datetime64[ms]"),  # the device's timestamp (after clock skew), UTC
        ("lat", "f8"),
        ("lon", "f8"),
        ("speed_kmh", "f4"),
        ("heading_deg", "f4"),  # NaN (absent) while parked
        ("hdop", "f4"),
        ("soc_pct", "f4"),
        ("voltage_v", "f4"),
        ("current_a", "f4"),
        ("batt_temp_c", "f4"),
        ("odometer_km", "f8"),
        ("seq", "i8"),
        # Beyond the wire: for publishers and tests.
        ("vehicle_index", "i4"),
        ("sent_ts", "datetime64[ms]"),  # when the device transmits it
        ("true_ts", "datetime64[ms]"),  # the true fix time (ts without clock skew)
        ("state", "u1"),  # STATE_*
        ("flags", "u1"),  # FLAG_* bits: what faults touched this row
    ]
)
EVENT_DTYPE = np.dtype(
    [
        ("fleet", "U16"),
        ("vehicle", "U16"),
        ("ts", "datetime64[ms]"),
        ("type", "U12"),
        ("ride_id", "U24"),
        ("rider", "U24"),
        ("code", "U16"),  # for fault events: what went wrong
        ("vehicle_index", "i4"),
    ]
)
TRUTH_DTYPE = np.dtype(
    [
        ("vehicle", "U16"),
        ("ride_id", "U24"),
        ("rider", "U24"),
        ("start_ts", "datetime64[ms]"),
        ("end_ts", "datetime64[ms]"),
        ("distance_km", "f8"),
        ("energy_kwh", "f8"),
        ("start_zone", "U32"),
        ("end_zone", "U32"),
        ("start_lat", "f8"),
        ("start_lon", "f8"),
        ("end_lat", "f8"),
        ("end_lon", "f8"),
        ("fleet", "U16"),
        ("harsh_braking", "i4"),  # harsh stops injected into the ride
        ("harsh_acceleration", "i4"),  # harsh starts injected into the ride
        ("battery_kwh", "f8"),  # the pack's true usable capacity during the ride
    ]
)
MALFORMED_DTYPE = np.dtype(
    [
        ("fleet", "U16"),
        ("vehicle", "U16"),
        ("sent_ts", "datetime64[ms]"),
        ("kind", "U16"),  # what is wrong with it (see _malformed_payload)
        ("payload", "O"),  # bytes, as the device sends them on .../telemetry
    ]
)

STATE_RIDING, STATE_PARKED, STATE_CHARGING = 0, 1, 2
FLAG_DUPLICATE, FLAG_OUT_OF_ORDER, FLAG_SKEWED, FLAG_BUFFERED, FLAG_MULTIPATH = 1, 2, 4, 8, 16

# 20 Li-ion cells in series: open-circuit voltage per cell against SoC.
_OCV_SOC = np.array([0, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100], dtype=np.float64)
_OCV_CELL = np.array([3.00, 3.35, 3.45, 3.55, 3.62, 3.68, 3.74, 3.82, 3.90, 3.98, 4.08, 4.18])
_STANDBY_PCT_PER_S = 0.2 / 86_400.0  # the telematics unit's drain while parked
_PARKED_CURRENT_A = 0.08
_HEAT_RISE_C = 9.0  # battery above ambient after a long ride
_HEAT_TAU_S = 1200.0


@dataclass(frozen=True)
class Rendered:
    """What a window of the plan renders to (arrays of the module's dtypes)."""

    points: np.ndarray
    events: np.ndarray
    truth: np.ndarray
    malformed: np.ndarray
    seq_next: I64  # per vehicle: the seq the next window starts from


def _ambient_c(plan: Plan, t: F64) -> F64:
    """Benguerir's air temperature: hot summers, mild winters, a 12 degree day-night swing."""
    epoch = plan.config.start.timestamp() + t
    year_phase = 2 * np.pi * ((epoch / 86_400.0 - 205.0) / 365.25)  # warmest late July
    day_phase = 2 * np.pi * (((epoch + plan.config.utc_offset_h * 3600) / 86_400.0) % 1.0 - 15 / 24)
    return 20.0 + 9.0 * np.cos(year_phase) + 6.0 * np.cos(day_phase)


def _voltage(plan: Plan, soc: F64, current_a: F64) -> F64:
    ocv = np.interp(soc, _OCV_SOC, _OCV_CELL) * plan.config.pack_cells_series
    return np.asarray(ocv - current_a * plan.config.internal_resistance_ohm, dtype=np.float64)


def _ragged_arange(counts: I64) -> tuple[I64, I64]:
    """For counts ``[2, 3]``: owners ``[0, 0, 1, 1, 1]`` and positions ``[0, 1, 0, 1, 2]``."""
    owner = np.repeat(np.arange(counts.size), counts)
    starts = np.cumsum(counts) - counts
    return owner, np.arange(owner.size) - starts[owner]


def _edge_energy(plan: Plan) -> F64:
    """Energy (J) of every edge of the plan, dwell included."""
    v0, vp, v1 = plan.edge_v0, plan.edge_vp, plan.edge_v1
    acc, dec, length = plan.edge_accel, plan.edge_decel, plan.edge_len
    t1 = (vp - v0) / acc
    t3 = (vp - v1) / dec
    d13 = (vp * vp - v0 * v0) / (2 * acc) + (vp * vp - v1 * v1) / (2 * dec)
    total = t1 + t3 + np.maximum(length - d13, 0.0) / vp + plan.edge_dwell
    return edge_energy_j(plan.config.mass_kg, v0, vp, v1, acc, dec, length, total)


def _riding(plan: Plan, rides: I64) -> dict[str, np.ndarray]:
    """True points of the given rides, every ``report_interval_s`` and at the end."""
    cfg = plan.config
    dt = cfg.report_interval_s
    duration = plan.end_s[rides] - plan.start_s[rides]
    steps = np.ceil(duration / dt - 1e-9).astype(np.int64)
    owner, j = _ragged_arange(steps + 1)
    ride = rides[owner]
    rel = np.minimum(j * dt, duration[owner])
    # Which edge each point is on: one searchsorted over (ride, time) keys.
    span = 1e6
    e_ride = np.repeat(np.arange(plan.rides), np.diff(plan.edge_offsets))
    e_rel = plan.edge_start - plan.start_s[e_ride]
    edge_keys = e_ride * span + e_rel
    edge = np.searchsorted(edge_keys, ride * span + rel, side="right") - 1
    edge = np.clip(edge, plan.edge_offsets[ride], plan.edge_offsets[ride + 1] - 1)
    tau = rel - e_rel[edge]
    v0, vp, v1, length = (
        plan.edge_v0[edge],
        plan.edge_vp[edge],
        plan.edge_v1[edge],
        plan.edge_len[edge],
    )
    acc, dec = plan.edge_accel[edge], plan.edge_decel[edge]
    t1 = (vp - v0) / acc
    d1 = (vp * vp - v0 * v0) / (2 * acc)
    t3 = (vp - v1) / dec
    d3 = (vp * vp - v1 * v1) / (2 * dec)
    d2 = np.maximum(length - d1 - d3, 0.0)
    t2 = d2 / vp
    u3 = np.clip(tau - t1 - t2, 0.0, t3)
    accelerating = tau < t1
    s = np.where(
        accelerating,
        v0 * tau + 0.5 * acc * tau * tau,
        np.where(tau < t1 + t2, d1 + vp * (tau - t1), d1 + d2 + vp * u3 - 0.5 * dec * u3 * u3),
    )
    s = np.clip(s, 0.0, length)
    v = np.where(accelerating, v0 + acc * tau, np.where(tau < t1 + t2, vp, vp - dec * u3))
    v = np.where(tau >= t1 + t2 + t3, v1 * 0 + np.where(plan.edge_dwell[edge] > 0, 0.0, v1), v)
    v = np.maximum(v, 0.0)
    a, b = plan.edge_a[edge], plan.edge_b[edge]
    net = plan.network
    frac = np.where(length > 0, s / np.where(length > 0, length, 1.0), 0.0)
    x = net.x[a] + frac * (net.x[b] - net.x[a])
    y = net.y[a] + frac * (net.y[b] - net.y[a])
    heading = np.degrees(np.arctan2(net.x[b] - net.x[a], net.y[b] - net.y[a])) % 360.0
    edge_before = np.cumsum(plan.edge_len) - plan.edge_len
    along = edge_before[edge] - edge_before[plan.edge_offsets[ride]] + s
    # SoC falls with the energy drawn so far (the exact integral of the power below).
    edge_j = _edge_energy(plan)
    j_before = np.cumsum(edge_j) - edge_j
    drawn_j = (
        j_before[edge]
        - j_before[plan.edge_offsets[ride]]
        + edge_energy_j(cfg.mass_kg, v0, vp, v1, acc, dec, length, tau)
    )
    soc = plan.soc_start[ride] - drawn_j / (36_000.0 * plan.capacity_kwh[ride])
    power_w = (
        v * 3.6 * consumption_wh_per_km(v * 3.6)
        + np.where(accelerating, cfg.mass_kg * acc * v / DRIVE_EFFICIENCY, 0.0)
        + AUX_W
    )
    t = plan.start_s[ride] + rel
    heat = _HEAT_RISE_C * (power_w / 1500.0) ** 0.5 * (1 - np.exp(-rel / _HEAT_TAU_S))
    return {
        "t": t,
        "vehicle": plan.vehicle[ride],
        "x": x,
        "y": y,
        "speed": v * 3.6,
        "heading": heading,
        "soc": soc,
        "power_w": power_w,
        "heat": heat,
        "odometer": plan.odometer_start_km[ride] + along / 1000.0,
        "state": np.full(t.size, STATE_RIDING, dtype=np.uint8),
    }


def _stationary(plan: Plan, w0: float, w1: float) -> dict[str, np.ndarray]:
    """True points while parked or charging, for spells that start in [w0, w1)."""
    cfg = plan.config
    horizon = cfg.days * 86_400.0
    n = plan.rides
    nv = cfg.vehicles
    first = np.ones(n, dtype=bool)
    first[1:] = plan.vehicle[1:] != plan.vehicle[:-1]
    next_start = np.full(n, horizon)
    same = ~first[1:]
    next_start[:-1] = np.where(same, plan.start_s[1:], horizon)
    # Spells: before each vehicle's first ride, then after every ride.
    has_rides = np.zeros(nv, dtype=bool)
    has_rides[plan.vehicle] = True
    first_start = np.full(nv, horizon)
    first_start[plan.vehicle[first]] = plan.start_s[first]
    charge = plan.charge_after
    sp_vehicle = np.concatenate(
        [np.arange(nv), plan.vehicle, plan.vehicle[charge], plan.vehicle[charge]]
    )
    sp_start = np.concatenate(
        [np.zeros(nv), plan.end_s, plan.charge_start_s[charge], plan.charge_end_s[charge]]
    )
    sp_end = np.concatenate(
        [
            first_start,
            np.where(charge, plan.charge_start_s, next_start),
            plan.charge_end_s[charge],
            next_start[charge],
        ]
    )
    kind = np.concatenate(
        [
            np.full(nv, STATE_PARKED),
            np.full(n, STATE_PARKED),
            np.full(int(charge.sum()), STATE_CHARGING),
            np.full(int(charge.sum()), STATE_PARKED),
        ]
    ).astype(np.uint8)
    net = plan.network
    node = np.concatenate([plan.initial_node, plan.dest, plan.dest[charge], plan.dest[charge]])
    soc0 = np.concatenate(
        [np.full(nv, 100.0), plan.soc_end, plan.soc_end[charge], np.full(int(charge.sum()), 100.0)]
    )
    odo = plan.odometer_start_km + plan.distance_m / 1000.0
    odometer = np.concatenate([plan.initial_odometer_km, odo, odo[charge], odo[charge]])
    ride_end = np.concatenate(
        [np.full(nv, -1e9), plan.end_s, plan.end_s[charge], plan.end_s[charge]]
    )
    select = (sp_start >= w0) & (sp_start < w1) & (sp_end > sp_start)
    idx = np.flatnonzero(select)
    interval = np.where(kind[idx] == STATE_CHARGING, cfg.charging_interval_s, cfg.parked_interval_s)
    phase = (sp_vehicle[idx] * 7.919) % interval
    j0 = np.floor((sp_start[idx] - phase) / interval).astype(np.int64) + 1
    j1 = np.ceil((sp_end[idx] - phase) / interval).astype(np.int64) - 1
    counts = np.maximum(j1 - j0 + 1, 0)
    owner, k = _ragged_arange(counts)
    spell = idx[owner]
    t = phase[owner] + (j0[owner] + k) * interval[owner]
    elapsed = t - sp_start[spell]
    charging = kind[spell] == STATE_CHARGING
    capacity = np.concatenate(
        [
            np.full(nv, cfg.battery_kwh),
            plan.capacity_kwh,
            plan.capacity_kwh[charge],
            plan.capacity_kwh[charge],
        ]
    )
    soc_c, power_kw = charge_curve_soc(cfg, soc0[spell], elapsed, capacity[spell])
    soc = np.where(charging, soc_c, soc0[spell] - _STANDBY_PCT_PER_S * elapsed)
    power_w = np.where(charging, -power_kw * 1000.0, 0.0)  # into the pack: what moves its SoC
    since_ride = t - ride_end[spell]
    heat = np.where(charging, 4.0 * power_kw / cfg.charger_kw, 0.0) + 6.0 * np.exp(
        -since_ride / 1800.0
    )
    # Offline spells: the device is off, nothing is sent.
    off = np.zeros(t.size, dtype=bool)
    if plan.offline_vehicle.size:
        okey = plan.offline_vehicle * 1e10 + plan.offline_start
        order = np.argsort(okey)
        okey, oend = okey[order], (plan.offline_vehicle * 1e10 + plan.offline_end)[order]
        pkey = sp_vehicle[spell] * 1e10 + t
        pos = np.searchsorted(okey, pkey, side="right") - 1
        off = (pos >= 0) & (pkey <= oend[np.maximum(pos, 0)])
    keep = ~off
    spell = spell[keep]
    return {
        "t": t[keep],
        "vehicle": sp_vehicle[spell],
        "x": net.x[node[spell]],
        "y": net.y[node[spell]],
        "speed": np.zeros(int(keep.sum())),
        "heading": np.full(int(keep.sum()), np.nan),
        "soc": soc[keep],
        "power_w": power_w[keep],
        "heat": heat[keep],
        "odometer": odometer[spell],
        "state": kind[spell],
    }


def _episode_lookup(plan: Plan, kind: int, vehicle: I64, t: F64) -> tuple[np.ndarray, I64]:
    """Whether each (vehicle, t) falls in an episode of ``kind``, and which one."""
    sel = np.flatnonzero(plan.episode_kind == kind)
    if sel.size == 0:
        return np.zeros(t.size, dtype=bool), np.zeros(t.size, dtype=np.int64)
    key = plan.episode_vehicle[sel] * 1e10 + plan.episode_start[sel]
    order = np.argsort(key)
    sel, key = sel[order], key[order]
    end = plan.episode_vehicle[sel] * 1e10 + plan.episode_end[sel]
    pkey = vehicle * 1e10 + t
    pos = np.searchsorted(key, pkey, side="right") - 1
    inside = (pos >= 0) & (pkey < end[np.maximum(pos, 0)])
    return inside, sel[np.maximum(pos, 0)]


def _at(values: F64, index: I64) -> F64:
    """``values[index]``, or zeros when there are no values (no episodes of a kind)."""
    if values.size == 0:
        return np.zeros(index.shape)
    return np.asarray(values[index], dtype=np.float64)


def _malformed_payload(kind: str, ts_ms: int, lat: float, lon: float) -> bytes:
    iso = np.datetime_as_string(np.datetime64(ts_ms, "ms"), unit="ms") + "Z"
    if kind == "not_json":
        return f'{{"ts": "{iso}", "lat": {lat:.6f}, "lon": '.encode()
    if kind == "lat_range":
        return f'{{"ts": "{iso}", "lat": {lat + 90.0:.6f}, "lon": {lon:.6f}}}'.encode()
    if kind == "zero_fix":
        return f'{{"ts": "{iso}", "lat": 0, "lon": 0}}'.encode()
    if kind == "soc_range":
        return f'{{"ts": "{iso}", "lat": {lat:.6f}, "lon": {lon:.6f}, "soc_pct": 140.5}}'.encode()
    if kind == "missing_ts":
        return f'{{"lat": {lat:.6f}, "lon": {lon:.6f}}}'.encode()
    return f'{{"ts": "{iso}", "lat": "north", "lon": {lon:.6f}}}'.encode()  # not_a_number


MALFORMED_KINDS = ("not_json", "lat_range", "zero_fix", "soc_range", "missing_ts", "not_a_number")


def render(plan: Plan, w0: float, w1: float, seq_start: I64 | None = None) -> Rendered:
    """Render the rides and spells that start in ``[w0, w1)`` (seconds since the start).

    Points come out in transmission order (by ``sent_ts``); ``seq`` continues from
    ``seq_start`` (per vehicle; zeros when None).
    """
    cfg = plan.config
    faults = cfg.faults
    nv = cfg.vehicles
    rides = np.flatnonzero((plan.start_s >= w0) & (plan.start_s < w1))
    parts = [_riding(plan, rides), _stationary(plan, w0, w1)]
    true = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    start_ms = round(cfg.start.timestamp() * 1000)
    true_ms = start_ms + np.round(true["t"] * 1000.0).astype(np.int64)
    vehicle = true["vehicle"].astype(np.int64)
    order = np.lexsort((true_ms, vehicle))
    true = {key: value[order] for key, value in true.items()}
    true_ms, vehicle = true_ms[order], vehicle[order]
    n = true_ms.size
    key = (vehicle.astype(np.uint64) << np.uint64(42)) + true_ms.astype(np.uint64)
    key ^= np.uint64((cfg.seed * 0x9E37) & 0xFFFFFFFF) << np.uint64(20)

    # Coverage gaps: no fix, nothing sent.
    gap, _ = _episode_lookup(plan, 2, vehicle, true["t"])
    # Per-vehicle sequence numbers count every fix the device made (gaps make none).
    seq0 = np.zeros(nv, dtype=np.int64) if seq_start is None else np.asarray(seq_start, np.int64)
    keep = ~gap
    vehicle_k = vehicle[keep]
    firsts = np.ones(vehicle_k.size, dtype=bool)
    firsts[1:] = vehicle_k[1:] != vehicle_k[:-1]
    _, rank = _ragged_arange(
        np.bincount(vehicle_k, minlength=nv)[np.unique(vehicle_k)]
        if vehicle_k.size
        else np.zeros(0, np.int64)
    )
    seq = seq0[vehicle_k] + rank
    seq_next = seq0 + np.bincount(vehicle_k, minlength=nv)
    true = {k: v[keep] for k, v in true.items()}
    true_ms, vehicle, key = true_ms[keep], vehicle_k, key[keep]
    n = true_ms.size

    # GPS: HDOP, noise of a few metres (and jitter while parked), multipath jumps.
    hdop = 0.7 - 0.15 * (np.log1p(-hash_uniform(key, 11)) + np.log1p(-hash_uniform(key, 12)))
    sigma = cfg.gps_sigma_m * hdop
    x = true["x"] + sigma * hash_normal(key, 13)
    y = true["y"] + sigma * hash_normal(key, 14)
    multipath = hash_uniform(key, 15) < faults.multipath
    jump = 50.0 + 250.0 * hash_uniform(key, 16)
    angle = 2 * np.pi * hash_uniform(key, 17)
    x = np.where(multipath, x + jump * np.sin(angle), x)
    y = np.where(multipath, y + jump * np.cos(angle), y)
    hdop = np.where(multipath, hdop * 1.6, hdop)
    lon, lat = to_lonlat(x, y)
    riding = true["state"] == STATE_RIDING
    speed = np.where(riding, np.maximum(true["speed"] + 0.4 * hash_normal(key, 18), 0.0), 0.0)
    heading = np.where(riding, (true["heading"] + 2.0 * hash_normal(key, 19)) % 360.0, np.nan)
    current = np.where(true["state"] == STATE_PARKED, _PARKED_CURRENT_A, true["power_w"] / 72.0)
    soc = np.clip(true["soc"], 0.0, 100.0)
    # What the BMS reports: the true SoC with its reading error (none unless configured).
    soc_read = np.clip(soc + cfg.soc_sigma_pct * hash_normal(key, 25), 0.0, 100.0)
    voltage = _voltage(plan, soc, current)
    current = np.where(
        riding | (true["state"] == STATE_CHARGING), true["power_w"] / voltage, current
    )
    voltage = _voltage(plan, soc, current)
    temp = _ambient_c(plan, true["t"]) + true["heat"] + 0.3 * hash_normal(key, 20)

    # Device clock skew, transmission time, offline buffering.
    skewed, which = _episode_lookup(plan, 0, vehicle, true["t"])
    ts_ms = true_ms + np.where(
        skewed, np.round(_at(plan.episode_param, which) * 1000).astype(np.int64), 0
    )
    latency_ms = (150 + 1200 * hash_uniform(key, 21)).astype(np.int64)
    sent_ms = true_ms + latency_ms
    buffered, which_b = _episode_lookup(plan, 1, vehicle, true["t"])
    upload_ms = start_ms + np.round(_at(plan.episode_end, which_b) * 1000).astype(np.int64)
    # The upload keeps the buffer's order: one millisecond apart per second of fix time.
    episode_start_ms = start_ms + np.round(_at(plan.episode_start, which_b) * 1000).astype(np.int64)
    sent_ms = np.where(buffered, upload_ms + 200 + (true_ms - episode_start_ms) // 1000, sent_ms)
    # Out of order: sent just after the vehicle's next point.
    ooo = hash_uniform(key, 22) < faults.out_of_order
    has_next = np.zeros(n, dtype=bool)
    has_next[:-1] = vehicle[1:] == vehicle[:-1]
    ooo &= has_next & ~buffered
    nxt = np.minimum(np.arange(n) + 1, n - 1)
    sent_ms = np.where(ooo, np.maximum(sent_ms, sent_ms[nxt] + 1 + (latency_ms % 500)), sent_ms)
    flags = (
        np.where(multipath, FLAG_MULTIPATH, 0)
        | np.where(skewed, FLAG_SKEWED, 0)
        | np.where(buffered, FLAG_BUFFERED, 0)
        | np.where(ooo, FLAG_OUT_OF_ORDER, 0)
    ).astype(np.uint8)

    # Duplicates: the same point sent again a little later (a resend after a lost ack).
    dup = np.flatnonzero(hash_uniform(key, 23) < faults.duplicate)
    source = np.concatenate([np.arange(n), dup])
    resend_ms = (2000 + hash_uniform(key[dup], 24) * 28_000).astype(np.int64)
    sent_all = np.concatenate([sent_ms, sent_ms[dup] + resend_ms])
    flags_all = np.concatenate([flags, flags[dup] | FLAG_DUPLICATE])
    # Transmission order, decided on the columns before the wide rows are built.
    order = np.lexsort((seq[source], vehicle[source], sent_all))
    src = source[order]
    columns = {
        "ts": ts_ms,
        "lat": np.round(lat, 7),
        "lon": np.round(lon, 7),
        "speed_kmh": np.round(speed, 1),
        "heading_deg": np.round(heading, 0),
        "hdop": np.round(hdop, 1),
        "soc_pct": np.round(soc_read, 1),
        "voltage_v": np.round(voltage, 2),
        "current_a": np.round(current, 2),
        "batt_temp_c": np.round(temp, 1),
        "odometer_km": np.round(true["odometer"], 3),
        "seq": seq,
        "vehicle_index": vehicle,
        "true_ts": true_ms,
        "state": true["state"],
    }
    points = np.empty(src.size, dtype=POINT_DTYPE)
    ids = np.array(cfg.vehicle_ids, dtype="U16")
    points["fleet"] = cfg.fleet
    points["vehicle"] = ids[vehicle[src]]
    for name, values in columns.items():
        points[name] = values[src]
    points["sent_ts"] = sent_all[order]
    points["flags"] = flags_all[order]

    malformed = _malformed(plan, points, faults.malformed)
    return Rendered(
        points=points,
        events=_events(plan, rides, w0, w1),
        truth=_truth(plan, rides),
        malformed=malformed,
        seq_next=seq_next,
    )


def _malformed(plan: Plan, points: np.ndarray, rate: float) -> np.ndarray:
    """Bad payloads, about ``rate`` per true point, each sent just after a real point."""
    n = points.size
    if n == 0 or rate <= 0:
        return np.empty(0, dtype=MALFORMED_DTYPE)
    key = (points["vehicle_index"].astype(np.uint64) << np.uint64(42)) + points["true_ts"].astype(
        np.int64
    ).astype(np.uint64)
    original = (points["flags"] & FLAG_DUPLICATE) == 0
    chosen = np.flatnonzero((hash_uniform(key, 31 + plan.config.seed) < rate) & original)
    out = np.empty(chosen.size, dtype=MALFORMED_DTYPE)
    out["fleet"] = points["fleet"][chosen]
    out["vehicle"] = points["vehicle"][chosen]
    out["sent_ts"] = points["sent_ts"][chosen] + np.timedelta64(1, "ms")
    kinds = np.array(MALFORMED_KINDS)[
        (hash_uniform(key[chosen], 32) * len(MALFORMED_KINDS)).astype(np.int64)
    ]
    out["kind"] = kinds
    ts = points["ts"][chosen].astype(np.int64)
    lat, lon = points["lat"][chosen], points["lon"][chosen]
    # A loop over the few bad payloads (about one in 2,000 points), building bytes.
    out["payload"] = [
        _malformed_payload(str(k), int(t), float(a), float(o))
        for k, t, a, o in zip(kinds, ts, lat, lon, strict=True)
    ]
    return out


def _events(plan: Plan, rides: I64, w0: float, w1: float) -> np.ndarray:
    cfg = plan.config
    start_ms = round(cfg.start.timestamp() * 1000)
    ids = np.array(cfg.vehicle_ids, dtype="U16")
    parts = []

    def block(
        vehicle: I64,
        t: F64,
        kind: str,
        ride_id: np.ndarray | str = "",
        rider: np.ndarray | str = "",
        code: str = "",
    ) -> None:
        e = np.empty(vehicle.size, dtype=EVENT_DTYPE)
        e["fleet"] = cfg.fleet
        e["vehicle"] = ids[vehicle]
        e["vehicle_index"] = vehicle
        e["ts"] = (start_ms + np.round(t * 1000).astype(np.int64)).astype("datetime64[ms]")
        e["type"] = kind
        e["ride_id"] = ride_id
        e["rider"] = rider
        e["code"] = code
        parts.append(e)

    if cfg.ride_events:
        block(
            plan.vehicle[rides],
            plan.start_s[rides],
            "ride_start",
            plan.ride_id[rides],
            plan.rider_token[rides],
        )
        block(
            plan.vehicle[rides],
            plan.end_s[rides],
            "ride_end",
            plan.ride_id[rides],
            plan.rider_token[rides],
        )
    ch = rides[plan.charge_after[rides]]
    block(plan.vehicle[ch], plan.charge_start_s[ch], "charge_start")
    block(plan.vehicle[ch], plan.charge_end_s[ch], "charge_end")
    gaps = np.flatnonzero(
        (plan.episode_kind == 2) & (plan.episode_start >= w0) & (plan.episode_start < w1)
    )
    block(plan.episode_vehicle[gaps], plan.episode_start[gaps], "fault", code="gps_no_fix")
    events = np.concatenate(parts)
    return events[np.lexsort((events["type"], events["ts"], events["vehicle_index"]))]


def _truth(plan: Plan, rides: I64) -> np.ndarray:
    cfg = plan.config
    net = plan.network
    start_ms = round(cfg.start.timestamp() * 1000)
    ids = np.array(cfg.vehicle_ids, dtype="U16")
    out = np.empty(rides.size, dtype=TRUTH_DTYPE)
    o, d = plan.origin[rides], plan.dest[rides]
    out["fleet"] = cfg.fleet
    out["vehicle"] = ids[plan.vehicle[rides]]
    out["ride_id"] = plan.ride_id[rides]
    out["rider"] = plan.rider_token[rides]
    out["start_ts"] = (start_ms + np.round(plan.start_s[rides] * 1000).astype(np.int64)).astype(
        "datetime64[ms]"
    )
    out["end_ts"] = (start_ms + np.round(plan.end_s[rides] * 1000).astype(np.int64)).astype(
        "datetime64[ms]"
    )
    out["distance_km"] = plan.distance_m[rides] / 1000.0
    out["harsh_braking"] = plan.harsh_braking[rides]
    out["harsh_acceleration"] = plan.harsh_acceleration[rides]
    out["energy_kwh"] = plan.energy_kwh[rides]
    out["battery_kwh"] = plan.capacity_kwh[rides]
    out["start_lat"], out["start_lon"] = net.lat[o], net.lon[o]
    out["end_lat"], out["end_lon"] = net.lat[d], net.lon[d]
    zones = net.zones
    out["start_zone"] = zones.names(zones.locate(net.lon[o], net.lat[o]))
    out["end_zone"] = zones.names(zones.locate(net.lon[d], net.lat[d]))
    return out
