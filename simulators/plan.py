"""The fleet's schedule: every ride (route, speed profile, energy), charge and offline spell.

Everything here is decided per ride or per episode (about 130,000 rides in two years),
vectorised with numpy; the per-point work happens in :mod:`simulators.render`.

How a day goes: ride requests arrive by the demand profile of :mod:`simulators.demand` and go
to the vehicles in turn (each block of as many requests as vehicles is shared out in a random
order, as riders take the nearest free vehicle). A vehicle starts each ride where its last one
ended; a request that arrives while the vehicle is busy waits for it. A rider's ride has a
target length drawn around the scenario's mean; the route is the quickest path through a
waypoint chosen so the length matches. The day's last ride of each vehicle ends at the nearest
charging station, where the vehicle charges to full on a CC-CV curve.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from simulators._random import splitmix64
from simulators.config import ScenarioConfig
from simulators.demand import hourly_intensity, rider_weights
from simulators.network import Network, street_network

__all__ = [
    "Plan",
    "charge_curve_duration",
    "charge_curve_soc",
    "consumption_wh_per_km",
    "edge_energy_j",
    "plan",
]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]

ACCEL_MS2 = 1.5
DECEL_MS2 = 2.2
AUX_W = 35.0  # controller, lights, telematics while riding
DRIVE_EFFICIENCY = 0.85
MIN_TURNAROUND_S = 45.0
PLUG_DELAY_S = 60.0
CV_START_PCT = 80.0
CV_END_FRACTION = 0.1  # charging power at 100 % as a fraction of the charger's
HARSH_MIN_MS = 8.0  # a harsh stop or start is injected only on edges peaking above ~29 km/h
HARSH_BRAKING_MS2 = (4.5, 6.5)  # uniform range: 0.46-0.66 g, a hard stop on a motorcycle
HARSH_ACCELERATION_MS2 = (3.5, 4.5)  # 0.36-0.46 g, a full-throttle start


def consumption_wh_per_km(speed_kmh: npt.ArrayLike) -> F64:
    """Cruising consumption (Wh/km), rising with speed (rolling plus aerodynamic drag)."""
    v = np.asarray(speed_kmh, dtype=np.float64)
    return 22.0 + 0.0065 * v * v


_ALPHA = 3.6 * 22.0  # W per m/s: the constant part of consumption_wh_per_km at v m/s
_BETA = 0.0065 * 3.6**3  # W per (m/s)^3: its drag part


def edge_energy_j(
    mass_kg: float, v0: F64, vp: F64, v1: F64, accel: F64, decel: F64, length: F64, tau: F64
) -> F64:
    """Energy (J) drawn on an edge from its start to ``tau`` seconds into it.

    The exact integral of the power the renderer reports (cruising consumption at the
    current speed, accelerating the mass, the auxiliaries) over the edge's trapezoidal
    profile: from ``v0`` up to ``vp`` at ``accel``, cruising, down to ``v1`` at ``decel``
    (m/s, m/s2), then dwelling on the auxiliaries alone. The plan's ride energies and the
    rendered state of charge both come from it, so the energy counted from the reported
    current and voltage matches the SoC the devices report.
    """
    t1 = (vp - v0) / accel
    d1 = (vp * vp - v0 * v0) / (2 * accel)
    t3 = (vp - v1) / decel
    d3 = (vp * vp - v1 * v1) / (2 * decel)
    t2 = np.maximum(length - d1 - d3, 0.0) / vp
    t = np.asarray(tau, dtype=np.float64)
    va = v0 + accel * np.clip(t, 0.0, t1)
    vd = vp - decel * np.clip(t - t1 - t2, 0.0, t3)
    speeding_up = (
        _ALPHA * (va * va - v0 * v0) / (2 * accel)
        + _BETA * (va**4 - v0**4) / (4 * accel)
        + mass_kg * (va * va - v0 * v0) / (2 * DRIVE_EFFICIENCY)
    )
    cruising = (_ALPHA * vp + _BETA * vp**3) * np.clip(t - t1, 0.0, t2)
    slowing = _ALPHA * (vp * vp - vd * vd) / (2 * decel) + _BETA * (vp**4 - vd**4) / (4 * decel)
    return np.asarray(speeding_up + cruising + slowing + AUX_W * t, dtype=np.float64)


def _cv_rate(config: ScenarioConfig, capacity_kwh: npt.ArrayLike | None = None) -> F64:
    """SoC percentage points per second at the charger's full power, for packs of
    ``capacity_kwh`` (default the rated capacity)."""
    cap = config.battery_kwh if capacity_kwh is None else capacity_kwh
    return np.asarray(100.0 * config.charger_kw / (3600.0 * np.asarray(cap, np.float64)))


_CV_SLOPE = (1.0 - CV_END_FRACTION) / (100.0 - CV_START_PCT)


def charge_curve_duration(
    config: ScenarioConfig, soc_from: F64, capacity_kwh: npt.ArrayLike | None = None
) -> F64:
    """Seconds to charge from ``soc_from`` (%) to 100 %: constant power to 80 %, then tapering
    (packs of ``capacity_kwh``, default the rated capacity: a faded pack fills sooner)."""
    k = _cv_rate(config, capacity_kwh)
    s0 = np.asarray(soc_from, dtype=np.float64)
    t_cc = np.maximum(CV_START_PCT - s0, 0.0) / k
    u0 = 1.0 - _CV_SLOPE * (np.maximum(s0, CV_START_PCT) - CV_START_PCT)
    t_cv = np.log(u0 / CV_END_FRACTION) / (_CV_SLOPE * k)
    return t_cc + t_cv


def charge_curve_soc(
    config: ScenarioConfig,
    soc_from: F64,
    elapsed_s: F64,
    capacity_kwh: npt.ArrayLike | None = None,
) -> tuple[F64, F64]:
    """SoC (%) and charging power into the pack (kW) ``elapsed_s`` after plugging in at
    ``soc_from`` (packs of ``capacity_kwh``, default the rated capacity)."""
    k = _cv_rate(config, capacity_kwh)
    s0 = np.asarray(soc_from, dtype=np.float64)
    t = np.asarray(elapsed_s, dtype=np.float64)
    t_cc = np.maximum(CV_START_PCT - s0, 0.0) / k
    in_cc = t < t_cc
    u0 = 1.0 - _CV_SLOPE * (np.maximum(s0, CV_START_PCT) - CV_START_PCT)
    u = u0 * np.exp(-_CV_SLOPE * k * np.maximum(t - t_cc, 0.0))
    u = np.maximum(u, CV_END_FRACTION)
    soc = np.where(in_cc, s0 + k * t, CV_START_PCT + (1.0 - u) / _CV_SLOPE)
    power = config.charger_kw * np.where(in_cc, 1.0, u)
    return np.minimum(soc, 100.0), power


@dataclass(frozen=True)
class Plan:
    """The schedule of a scenario. Rides are in vehicle-major, time order.

    Times are seconds since ``config.start``; distances metres; energies kWh; SoC percent.
    Edge arrays describe each ride's route as straight street segments with a trapezoidal
    speed profile (entry ``v0``, peak ``vp``, exit ``v1``, m/s) and a dwell at the junction
    that ends it; ``edge_start`` is each edge's start time (s since start).
    """

    config: ScenarioConfig
    network: Network
    # Rides.
    vehicle: I64
    start_s: F64
    end_s: F64
    origin: I64
    dest: I64
    distance_m: F64
    energy_kwh: F64
    soc_start: F64
    soc_end: F64
    capacity_kwh: F64  # the pack's true usable capacity during the ride (and its charge)
    odometer_start_km: F64
    charge_after: B
    charge_start_s: F64
    charge_end_s: F64
    rider: I64
    ride_id: npt.NDArray[np.str_]
    rider_token: npt.NDArray[np.str_]
    # Edges of every ride (``edge_offsets[k]:edge_offsets[k + 1]`` for ride k).
    edge_offsets: I64
    edge_a: I64
    edge_b: I64
    edge_len: F64
    edge_v0: F64
    edge_vp: F64
    edge_v1: F64
    edge_dwell: F64
    edge_start: F64
    edge_accel: F64  # m/s2 while speeding up at the edge's start (ACCEL_MS2 unless harsh)
    edge_decel: F64  # m/s2 while slowing down at its end (DECEL_MS2 unless harsh)
    # Injected harsh events per ride (ground truth of riding behaviour).
    harsh_braking: I64
    harsh_acceleration: I64
    # Vehicles.
    initial_node: I64
    initial_odometer_km: F64
    # Offline spells (device off while parked): vehicle, start, end.
    offline_vehicle: I64
    offline_start: F64
    offline_end: F64
    # Fault episodes: kind 0 clock skew (param = offset s), 1 offline buffering, 2 gap.
    episode_vehicle: I64
    episode_kind: I64
    episode_start: F64
    episode_end: F64
    episode_param: F64

    @property
    def rides(self) -> int:
        """Number of rides."""
        return int(self.vehicle.size)


def _tokens(prefix: str, seed: int, salt: int, index: I64) -> npt.NDArray[np.str_]:
    """Stable pseudonymous hex tokens: one per index (a hash, never a name). The last of the
    16 characters is a decimal digit, so each token has the opaque shape riders must have (a
    letter and a digit)."""
    keys = splitmix64(
        index.astype(np.uint64) ^ splitmix64(np.array([seed * 1000 + salt], np.uint64))
    )
    return np.array([f"{prefix}{int(k) >> 4:015x}{int(k) % 10}" for k in keys], dtype="U24")


def _segment_cumsum_before(values: F64, new_segment: B) -> F64:
    """Sum of ``values`` earlier in the same segment (segments start where ``new_segment``)."""
    total = np.cumsum(values)
    before = total - values
    seg = np.cumsum(new_segment) - 1
    first = np.flatnonzero(new_segment)
    return np.asarray(before - before[first][seg], dtype=np.float64)


def _choose_destinations(
    config: ScenarioConfig, net: Network, rng: np.random.Generator, local_hour: I64
) -> I64:
    """Destination node of each request, by zone attractiveness at that hour of the day."""
    zone_ids = net.zones.ids
    kinds = net.zones.kinds
    # Morning: to campus and centre; evening: home to the residential quarters.
    base = {"campus": 0.28, "centre": 0.24, "station": 0.08, "residential": 0.11}
    morning = {"campus": 0.42, "centre": 0.22, "station": 0.07, "residential": 0.06}
    evening = {"campus": 0.15, "centre": 0.25, "station": 0.08, "residential": 0.15}
    pools = []
    for zi, kind in enumerate(kinds):
        if kind == "charging":
            continue
        pools.append((zi, kind))
    pools.append((-1, "other"))
    weights = np.zeros((3, len(pools)))
    for p, (_, kind) in enumerate(pools):
        for row, table in enumerate((base, morning, evening)):
            weights[row, p] = table.get(kind, 0.08)
    weights /= weights.sum(axis=1, keepdims=True)
    period = np.where((local_hour >= 6) & (local_hour < 11), 1, 0)
    period = np.where((local_hour >= 16) & (local_hour < 22), 2, period)
    cum = np.cumsum(weights, axis=1)
    u = rng.random(local_hour.size)
    pool_index = (u[:, None] > cum[period]).sum(axis=1)
    pool_index = np.minimum(pool_index, len(pools) - 1)
    charging = set(net.charging.tolist())
    members = []
    for zi, _ in pools:  # a loop over the few zones
        nodes = np.flatnonzero(net.zone == zi)
        nodes = np.array([n for n in nodes if n not in charging], dtype=np.int64)
        members.append(nodes)
    del zone_ids
    counts = np.array([m.size for m in members])
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    flat = np.concatenate(members)
    pick = offsets[pool_index] + (rng.random(local_hour.size) * counts[pool_index]).astype(np.int64)
    return np.asarray(flat[pick], dtype=np.int64)


def _routes(net: Network, origin: I64, dest: I64, target_m: F64) -> tuple[I64, I64, I64]:
    """A waypoint per ride so that origin->via->dest is close to ``target_m``; the node path."""
    n = origin.size
    via = dest.copy()
    chunk = 20_000
    for lo in range(0, n, chunk):  # chunks bound memory; each chunk is vectorised
        o = origin[lo : lo + chunk]
        d = dest[lo : lo + chunk]
        total = net.length[o, :] + net.length[:, d].T
        error = np.abs(total - target_m[lo : lo + chunk, None])
        best = np.argmin(error, axis=1)
        direct = net.length[o, d] >= target_m[lo : lo + chunk]
        via[lo : lo + chunk] = np.where(direct, d, best)
    nodes, offsets = net.paths(np.concatenate([origin, via]), np.concatenate([via, dest]))
    counts = np.diff(offsets)
    leg = np.repeat(np.arange(2 * n), counts)
    trip = leg % n
    second = leg >= n
    position = np.arange(nodes.size) - np.repeat(offsets[:-1], counts)
    keep = ~(second & (position == 0))
    order = np.lexsort((position[keep], second[keep], trip[keep]))
    path_nodes = nodes[keep][order]
    path_counts = np.bincount(trip[keep], minlength=n)
    path_offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(path_counts, out=path_offsets[1:])
    return via, path_nodes, path_offsets


def _harsh_rates(
    config: ScenarioConfig, cruise: F64, length: F64, v0: F64, v1: F64
) -> tuple[F64, F64]:
    """Per edge, the acceleration and deceleration (m/s2): the normal ones, or a harsh start
    from a standstill / a harsh stop, each on ``harsh_*_share`` of the edges that reach at
    least ``HARSH_MIN_MS`` (from their own random stream: a scenario without harsh events
    renders exactly as before they existed)."""
    n = cruise.size
    rng = np.random.default_rng([config.seed, 0x48415253])
    draw_brake, draw_accel = rng.random(n), rng.random(n)
    brake_ms2 = rng.uniform(*HARSH_BRAKING_MS2, n)
    accel_ms2 = rng.uniform(*HARSH_ACCELERATION_MS2, n)
    # Fast enough: the edge's peak at the normal rates would reach HARSH_MIN_MS.
    peak = np.sqrt(
        (2 * ACCEL_MS2 * DECEL_MS2 * length + DECEL_MS2 * v0 * v0 + ACCEL_MS2 * v1 * v1)
        / (ACCEL_MS2 + DECEL_MS2)
    )
    fast = np.minimum(cruise, peak) >= HARSH_MIN_MS
    brake = fast & (v1 == 0) & (draw_brake < config.harsh_braking_share)
    accel = fast & (v0 == 0) & (draw_accel < config.harsh_acceleration_share)
    a = np.where(accel, accel_ms2, ACCEL_MS2)
    b = np.where(brake, brake_ms2, DECEL_MS2)
    return a, b


def _solve_scale(z: F64, direct: F64, target: float) -> float:
    """The scale M with mean(max(M z, direct)) == target (bisection; the mean rises with M)."""
    low, high = 0.0, 3.0 * target
    for _ in range(60):
        mid = 0.5 * (low + high)
        if np.maximum(mid * z, direct).mean() < target:
            low = mid
        else:
            high = mid
    return 0.5 * (low + high)


def plan(config: ScenarioConfig) -> Plan:
    """Schedule every ride, charge and episode of the scenario (deterministic for a seed)."""
    net = street_network()
    rng = np.random.default_rng([config.seed, 0x504C414E])
    horizon = config.days * 86_400.0
    nv = config.vehicles

    # 1. Requests: a Poisson process shaped by the demand profile.
    expected, hour_starts = hourly_intensity(config)
    count = int(rng.poisson(expected.sum()))
    hours = rng.choice(expected.size, size=count, p=expected / expected.sum())
    req = np.sort(
        hour_starts[hours] + rng.random(count) * np.minimum(3600.0, horizon - hour_starts[hours])
    )

    # 2. Vehicles in turn: each block of nv requests shared out in a random order.
    block = np.arange(count) // nv
    order = np.lexsort((rng.random(count), block))
    vehicle = np.empty(count, dtype=np.int64)
    vehicle[order] = np.arange(count) % nv
    by_vehicle = np.lexsort((req, vehicle))
    vehicle, req = vehicle[by_vehicle], req[by_vehicle]
    first = np.ones(count, dtype=bool)
    first[1:] = vehicle[1:] != vehicle[:-1]
    last = np.ones(count, dtype=bool)
    last[:-1] = vehicle[1:] != vehicle[:-1]
    start_epoch_s = config.start.timestamp()
    local = start_epoch_s + req + config.utc_offset_h * 3600.0
    local_day = np.floor(local / 86_400.0).astype(np.int64)
    local_hour = (np.floor(local / 3600.0).astype(np.int64)) % 24
    last_of_day = last.copy()
    last_of_day[:-1] |= local_day[1:] != local_day[:-1]

    # 3. Where each ride goes; the day's last ride ends at the nearest charging station.
    wanted = _choose_destinations(config, net, rng, local_hour)
    nearest_charger = net.charging[np.argmin(net.length[:, net.charging], axis=1)]
    dest = np.where(last_of_day, nearest_charger[wanted], wanted)
    initial_node = net.charging[np.arange(nv) % net.charging.size]
    origin = np.empty(count, dtype=np.int64)
    origin[1:] = dest[:-1]
    origin[first] = initial_node[vehicle[first]]

    # 4. Length: a target drawn around the mean, met through a waypoint.
    sigma = 0.55
    z = rng.lognormal(-0.5 * sigma * sigma, sigma, size=count)
    direct = net.length[origin, dest]
    target_mean = config.mean_trip_km * 1000.0
    scale = _solve_scale(z, direct, target_mean)
    target = np.maximum(scale * z, 400.0)
    via, path_nodes, path_offsets = _routes(net, origin, dest, target)
    # Waypoints snap to junctions; one correction pass brings the mean onto the target.
    got = net.length[origin, via] + net.length[via, dest]
    scale *= target_mean / float(got.mean())
    target = np.maximum(scale * z, 400.0)
    via, path_nodes, path_offsets = _routes(net, origin, dest, target)

    # 5. Edges and the speed profile.
    counts = np.diff(path_offsets)
    edges_per_trip = np.maximum(counts - 1, 0)
    if (edges_per_trip == 0).any():  # a ride that goes nowhere is not a ride
        raise RuntimeError("a ride without an edge")  # pragma: no cover - guarded by target
    node_trip = np.repeat(np.arange(count), counts)
    is_edge_start = np.ones(path_nodes.size, dtype=bool)
    is_edge_start[path_offsets[1:] - 1] = False
    ea = path_nodes[is_edge_start]
    eb = path_nodes[np.flatnonzero(is_edge_start) + 1]
    etrip = node_trip[is_edge_start]
    edge_offsets = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(edges_per_trip, out=edge_offsets[1:])
    dx = net.x[eb] - net.x[ea]
    dy = net.y[eb] - net.y[ea]
    elen = np.hypot(dx, dy)
    heading = np.arctan2(dx, dy)
    rider_pace = rng.uniform(0.82, 1.0, size=count)
    vmax = config.max_speed_kmh / 3.6
    cruise = np.minimum(net.speed_ms[ea, eb] * rider_pace[etrip], vmax)
    first_edge = np.zeros(ea.size, dtype=bool)
    first_edge[edge_offsets[:-1]] = True
    last_edge = np.zeros(ea.size, dtype=bool)
    last_edge[edge_offsets[1:] - 1] = True
    # Junction at the end of each edge (except a ride's last): turn, lights, stop or not.
    nxt = np.minimum(np.arange(ea.size) + 1, ea.size - 1)
    turn = np.abs((heading[nxt] - heading + np.pi) % (2 * np.pi) - np.pi)
    turning = turn > np.radians(35)
    lights = net.signal[eb]
    p_stop = np.where(lights, 0.45, np.where(turning, 0.25, 0.06))
    u = rng.random(ea.size)
    stop = (u < p_stop) | last_edge
    dwell = np.where(lights, rng.uniform(5.0, 45.0, ea.size), rng.uniform(1.0, 8.0, ea.size)) * (
        stop & ~last_edge
    )
    through = np.minimum(cruise, cruise[nxt]) * np.where(turning, 0.0, 0.85)
    through = np.where(turning, np.minimum(np.minimum(cruise, cruise[nxt]), 4.5), through)
    v1 = np.where(stop, 0.0, through)
    v0 = np.zeros(ea.size)
    v0[1:] = v1[:-1]
    v0[first_edge] = 0.0
    a, b = _harsh_rates(config, cruise, elen, v0, v1)
    peak = np.sqrt((2 * a * b * elen + b * v0 * v0 + a * v1 * v1) / (a + b))
    vp = np.maximum(np.minimum(cruise, peak), np.maximum(v0, v1))
    vp = np.maximum(vp, 0.5)
    t1 = (vp - v0) / a
    d1 = (vp * vp - v0 * v0) / (2 * a)
    t3 = (vp - v1) / b
    d3 = (vp * vp - v1 * v1) / (2 * b)
    d2 = np.maximum(elen - d1 - d3, 0.0)
    t2 = d2 / vp
    edge_time = t1 + t2 + t3 + dwell
    # Energy: cruising consumption, accelerating the mass, and the auxiliaries.
    edge_wh = edge_energy_j(config.mass_kg, v0, vp, v1, a, b, elen, edge_time) / 3600.0
    distance_m = np.bincount(etrip, weights=elen, minlength=count)
    harsh_braking = np.bincount(etrip, weights=b > DECEL_MS2, minlength=count).astype(np.int64)
    harsh_accel = np.bincount(etrip, weights=a > ACCEL_MS2, minlength=count).astype(np.int64)
    energy_kwh = np.bincount(etrip, weights=edge_wh, minlength=count) / 1000.0
    duration = np.bincount(etrip, weights=edge_time, minlength=count)

    # 6. Battery: SoC falls ride by ride, reset to 100 % by each night's charge. Each pack's
    # usable capacity (its health, fading with time) sets how far a kWh moves its SoC.
    health = np.random.default_rng([config.seed, 0x534F48]).uniform(
        config.health_low_pct, config.health_high_pct, nv
    )
    capacity = config.capacity_kwh(health[vehicle], req)
    cycle_start = first.copy()
    cycle_start[1:] |= last_of_day[:-1]
    used_pct = 100.0 * energy_kwh / capacity
    soc_start = 100.0 - _segment_cumsum_before(used_pct, cycle_start)
    soc_end = soc_start - used_pct
    charge_after = last_of_day & (soc_end < config.charge_below_pct)
    charge_s = np.where(
        charge_after, PLUG_DELAY_S + charge_curve_duration(config, soc_end, capacity), 0.0
    )

    # 7. A request waits while its vehicle is busy: s'_k = max(s_k, s'_{k-1} + busy_{k-1}),
    # solved for all rides at once as a running maximum per vehicle.
    busy = np.asarray(duration + MIN_TURNAROUND_S + charge_s, dtype=np.float64)
    before = _segment_cumsum_before(busy, first)
    lift = vehicle.astype(np.float64) * 8.0 * (horizon + before.max() + 1.0)
    start_s = np.maximum.accumulate(req - before + lift) - lift + before
    end_s = start_s + duration
    inside = end_s + np.where(charge_after, charge_s, 0.0) < horizon
    # Keep only rides (and their charges) that end inside the window.
    keep = inside
    edge_keep = keep[etrip]
    np.cumsum(keep) - 1
    edge_offsets_kept = np.zeros(int(keep.sum()) + 1, dtype=np.int64)
    np.cumsum(edges_per_trip[keep], out=edge_offsets_kept[1:])
    edge_start_rel = np.cumsum(edge_time) - edge_time
    edge_start_rel -= edge_start_rel[edge_offsets[:-1]][etrip]
    edge_start = start_s[etrip] + edge_start_rel

    # 8. Riders and ids.
    weights = rider_weights(config)
    rider = rng.choice(weights.size, size=count, p=weights)
    odometer0 = rng.uniform(50.0, 2500.0, size=nv)
    odo_before = _segment_cumsum_before(distance_m / 1000.0, first)
    odometer_start = odometer0[vehicle] + odo_before

    # 9. Offline spells inside long parked gaps (device asleep, or in the workshop).
    free_from = end_s + np.where(charge_after, charge_s, 0.0)
    next_start = np.append(start_s[1:], horizon)
    next_start[last] = horizon
    gap = next_start - free_from
    long_gap = (gap > 3 * 3600.0) & keep
    spell = long_gap & (rng.random(count) < config.offline_share)
    lead = rng.uniform(0.15, 0.35, count) * gap
    tail = rng.uniform(0.1, 0.3, count) * gap

    # 10. Fault episodes, per vehicle-day rates.
    ev, ek, es, ee, ep = [], [], [], [], []
    f = config.faults
    for kind, rate, mean_s in (
        (0, f.clock_skew_per_day, f.clock_skew_mean_s),
        (1, f.offline_buffer_per_day, f.offline_buffer_mean_s),
        (2, f.coverage_gap_per_day, f.coverage_gap_mean_s),
    ):
        n_ep = int(rng.poisson(rate * nv * config.days))
        ev.append(rng.integers(0, nv, n_ep))
        ek.append(np.full(n_ep, kind))
        st = rng.random(n_ep) * horizon
        es.append(st)
        ee.append(st + rng.exponential(mean_s, n_ep))
        magnitude = rng.uniform(1.0, max(f.clock_skew_max_s, 1.0), n_ep)
        ep.append(
            np.where(rng.random(n_ep) < 0.5, -magnitude, magnitude) if kind == 0 else np.zeros(n_ep)
        )

    kept_index = np.flatnonzero(keep)
    return Plan(
        config=config,
        network=net,
        vehicle=vehicle[keep],
        start_s=start_s[keep],
        end_s=end_s[keep],
        origin=origin[keep],
        dest=dest[keep],
        distance_m=distance_m[keep],
        energy_kwh=energy_kwh[keep],
        soc_start=soc_start[keep],
        soc_end=soc_end[keep],
        capacity_kwh=capacity[keep],
        odometer_start_km=odometer_start[keep],
        charge_after=charge_after[keep],
        charge_start_s=(end_s + PLUG_DELAY_S)[keep],
        charge_end_s=(end_s + charge_s)[keep],
        rider=rider[keep],
        ride_id=_tokens("ride-", config.seed, 1, kept_index),
        rider_token=_tokens("rdr-", config.seed, 2, rider[keep]),
        edge_offsets=edge_offsets_kept,
        edge_a=ea[edge_keep],
        edge_b=eb[edge_keep],
        edge_len=elen[edge_keep],
        edge_v0=v0[edge_keep],
        edge_vp=vp[edge_keep],
        edge_v1=v1[edge_keep],
        edge_dwell=dwell[edge_keep],
        edge_start=edge_start[edge_keep],
        edge_accel=a[edge_keep],
        edge_decel=b[edge_keep],
        harsh_braking=harsh_braking[keep],
        harsh_acceleration=harsh_accel[keep],
        initial_node=initial_node,
        initial_odometer_km=odometer0,
        offline_vehicle=vehicle[spell],
        offline_start=(free_from + lead)[spell],
        offline_end=(next_start - tail)[spell],
        episode_vehicle=np.concatenate(ev).astype(np.int64),
        episode_kind=np.concatenate(ek).astype(np.int64),
        episode_start=np.concatenate(es),
        episode_end=np.concatenate(ee),
        episode_param=np.concatenate(ep),
    )
