"""The obvious, slow segmentation: a Python loop per vehicle and per fix, same rules.

The vectorised ``fleet.segmentation.segment`` is tested against this (and the benchmark
measures its speed against it). It is written to be read, not to be fast: every rule of
``TripRules`` as an ``if``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fleet import Rides, Track, TripRules

R_KM = 6371.0088
LOG_CHI2_1 = -1.2703628454614782  # E[ln X], X chi-square with 1 degree of freedom


def noise_m2(
    east: list[float],
    north: list[float],
    dt: list[float],
    moving_step: list[bool],
    steps: list[int],
    rules: TripRules,
) -> float:
    """The trip's noise variance (m^2): the log-mean of the squared offset of each step from
    the chord of the four fixes around it, over the windows inside the trip's steps."""
    logs, moving = [], 0
    for j in steps[1:-1]:
        if max(dt[j - 1], dt[j], dt[j + 1]) > rules.noise_max_step_s:
            continue
        cx = east[j - 1] + east[j] + east[j + 1]
        cy = north[j - 1] + north[j] + north[j + 1]
        cross = east[j] * cy - north[j] * cx
        c2 = max(cx * cx + cy * cy, 1e-12)
        logs.append(math.log(max(cross * cross / c2, 1e-4)))
        moving += moving_step[j]
    n = len(logs)
    if n < max(rules.noise_min_windows, 1):
        return 0.0
    log_v = sum(logs) / n - LOG_CHI2_1 - moving / n * math.log1p(1 / 9) - 8.2 / (2 * n)
    return math.exp(log_v)


def haversine(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km (float64 throughout)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2) - math.radians(lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * R_KM * math.asin(math.sqrt(min(a, 1.0)))


@dataclass
class RefTrip:
    """One trip as the reference sees it."""

    vehicle: int
    source: str
    start_ms: int
    end_ms: int
    start_idx: int
    end_idx: int
    distance_km: float
    max_speed_kmh: float
    fixes_used: int
    dropped: dict[str, int] = field(default_factory=dict)


def reference_segment(
    track: Track, rules: TripRules, rides: Rides | None = None
) -> tuple[list[int], list[RefTrip]]:
    """Reasons per fix (0 kept, 1 position, 2 hdop, 3 jump) and the trips, vehicle by vehicle."""
    n = len(track)
    veh = track.vehicle.tolist()
    t = track.t_ms.tolist()
    lat = track.lat.tolist()
    lon = track.lon.tolist()
    speed = track.speed_kmh.tolist()
    hdop = track.hdop.tolist()
    reasons = [0] * n
    ride_list: dict[int, list[int]] = {}
    if rides is not None:
        for r in range(len(rides)):
            ride_list.setdefault(int(rides.vehicle[r]), []).append(r)
    trips: list[RefTrip] = []
    i = 0
    while i < n:
        j = i
        while j < n and veh[j] == veh[i]:
            j += 1
        trips.extend(
            _one_vehicle(
                list(range(i, j)),
                veh[i],
                t,
                lat,
                lon,
                speed,
                hdop,
                reasons,
                rules,
                rides,
                ride_list.get(veh[i], []),
            )
        )
        i = j
    return reasons, trips


def _one_vehicle(
    idx: list[int],
    vehicle: int,
    t: list[int],
    lat: list[float],
    lon: list[float],
    speed: list[float],
    hdop: list[float],
    reasons: list[int],
    rules: TripRules,
    rides: Rides | None,
    my_rides: list[int],
) -> list[RefTrip]:
    kept = []
    for i in idx:
        if not (math.isfinite(lat[i]) and math.isfinite(lon[i])):
            reasons[i] = 1
        elif hdop[i] > rules.max_hdop:
            reasons[i] = 2
        else:
            kept.append(i)

    def implied(a: int, b: int) -> float:
        dt = (t[b] - t[a]) / 1000
        return haversine(lat[a], lon[a], lat[b], lon[b]) / dt * 3600 if dt > 0 else 0.0

    for _ in range(rules.jump_passes):
        spikes = set()
        for q in range(1, len(kept) - 1):
            a, b, c = kept[q - 1], kept[q], kept[q + 1]
            if implied(a, b) > rules.max_jump_kmh and implied(b, c) > rules.max_jump_kmh:
                spikes.add(b)
        if not spikes:
            break
        for s in spikes:
            reasons[s] = 3
        kept = [i for i in kept if i not in spikes]

    m = len(kept)
    step = [0.0] * m
    east = [0.0] * m
    north = [0.0] * m
    dt = [0.0] * m
    spd = [0.0] * m
    moving = [False] * m
    gap = [False] * m
    for q in range(m):
        i = kept[q]
        if q > 0:
            p = kept[q - 1]
            step[q] = haversine(lat[p], lon[p], lat[i], lon[i])
            east[q] = R_KM * 1000 * math.radians(lon[i] - lon[p]) * math.cos(math.radians(lat[i]))
            north[q] = R_KM * 1000 * math.radians(lat[i] - lat[p])
            dt[q] = (t[i] - t[p]) / 1000
            gap[q] = (t[i] - t[p]) / 1000 > rules.max_gap_s
        spd[q] = speed[i] if math.isfinite(speed[i]) else (implied(kept[q - 1], i) if q else 0.0)
        moving[q] = spd[q] >= rules.moving_speed_kmh

    parked = [False] * m
    q = 0
    while q < m:
        if moving[q]:
            q += 1
            continue
        r = q
        while r + 1 < m and not moving[r + 1] and not gap[r + 1]:
            r += 1
        nxt = r + 1
        if nxt < m and gap[nxt]:
            is_parking = True
        else:
            end_t = t[kept[nxt]] if nxt < m else t[kept[r]]
            is_parking = (end_t - t[kept[q]]) / 1000 >= rules.min_parking_s
        for s in range(q, r + 1):
            parked[s] = is_parking
        q = r + 1

    ride_of = [-1] * m
    by_events = bool(my_rides)
    if by_events and rides is not None:
        for q in range(m):
            for r in my_rides:
                if rides.start_ms[r] <= t[kept[q]] <= rides.end_ms[r]:
                    ride_of[q] = r  # later rides win on shared instants, like searchsorted
    in_trip = [(ride_of[q] >= 0) if by_events else not parked[q] for q in range(m)]

    groups: list[list[int]] = []
    for q in range(m):
        if not in_trip[q]:
            continue
        new = (
            not groups
            or q == 0
            or not in_trip[q - 1]
            or (ride_of[q] != ride_of[q - 1] if by_events else gap[q])
        )
        if new:
            groups.append([q])
        else:
            groups[-1].append(q)

    moving_step = [moving[q] or (q > 0 and moving[q - 1]) for q in range(m)]
    out = []
    for g in groups:
        first, last = g[0], g[-1]
        lead = first > 0 and not in_trip[first - 1] and (by_events or not gap[first])
        tail = last + 1 < m and not in_trip[last + 1] and (by_events or not gap[last + 1])
        dist = 0.0
        steps = list(range(first + 1, last + 1))
        if lead:
            steps.insert(0, first)
        if tail:
            steps.append(last + 1)
        v = noise_m2(east, north, dt, moving_step, steps, rules) if rules.noise_max_step_s else 0.0
        for q in steps:
            if moving_step[q]:
                if dt[q] <= rules.noise_max_step_s:
                    dist += math.sqrt(max(step[q] ** 2 - v * 1e-6, 0.0))
                else:
                    dist += step[q]
        moving_q = [q for q in g if moving[q]]
        fm = moving_q[0] if moving_q else first
        lm = moving_q[-1] if moving_q else last
        start_q = first - 1 if lead else first
        end_q = last + 1 if tail else last
        start_ms = t[kept[first]]
        end_ms = t[kept[end_q]]
        if by_events and rides is not None:
            r = ride_of[first]
            if rides.start_inferred[r]:
                start_ms, start_q = t[kept[fm]], fm
            else:
                start_ms = int(rides.start_ms[r])
            if rides.end_inferred[r]:
                end_ms, end_q = t[kept[lm]], lm
            else:
                end_ms = int(rides.end_ms[r])
        duration = (end_ms - start_ms) / 1000
        if not by_events and (dist < rules.min_trip_km or duration < rules.min_trip_s):
            continue
        out.append(
            RefTrip(
                vehicle=vehicle,
                source="events" if by_events else "motion",
                start_ms=start_ms,
                end_ms=end_ms,
                start_idx=kept[start_q],
                end_idx=kept[end_q],
                distance_km=dist,
                max_speed_kmh=max(spd[q] for q in g),
                fixes_used=len(g),
            )
        )
    for trip in out:
        for i in idx:
            if reasons[i] and trip.start_ms <= t[i] <= trip.end_ms:
                name = ("position", "hdop", "jump")[reasons[i] - 1]
                trip.dropped[name] = trip.dropped.get(name, 0) + 1
    return out


def as_arrays(trips: list[RefTrip]) -> dict[str, np.ndarray]:
    """The reference trips as columns, to compare with ``TripArrays``."""
    return {
        "vehicle": np.array([x.vehicle for x in trips], dtype=np.int64),
        "start_ms": np.array([x.start_ms for x in trips], dtype=np.int64),
        "end_ms": np.array([x.end_ms for x in trips], dtype=np.int64),
        "start_idx": np.array([x.start_idx for x in trips], dtype=np.int64),
        "end_idx": np.array([x.end_idx for x in trips], dtype=np.int64),
        "distance_km": np.array([x.distance_km for x in trips], dtype=np.float64),
        "max_speed_kmh": np.array([x.max_speed_kmh for x in trips], dtype=np.float64),
        "fixes_used": np.array([x.fixes_used for x in trips], dtype=np.int64),
    }


def reference_zone(polygons: list[tuple[str, object]], lon: float, lat: float) -> str | None:
    """The zone of one point: polygons in sort order, the first containing it (shapely)."""
    import shapely

    point = shapely.Point(lon, lat)
    for zone_id, polygon in polygons:
        if polygon.contains(point):  # type: ignore[attr-defined]
            return zone_id
    return None


def ordered_fixes(conn: Any, vehicles: Sequence[int], since_ms: Sequence[int]) -> dict[str, Any]:
    """The obvious read of :func:`fleet.queries.copy_fixes`: one row per fix, sorted by the
    database, converted by psycopg (the builder's read path before it read arrays; ``real``
    columns widened exactly in SQL, as the builder always read them)."""
    rows = conn.execute(
        """
        SELECT t.vehicle_key, pogo_ms(t.ts), t.lat, t.lon, t.speed_kmh::float8,
               t.hdop::float8, t.soc_pct::float8, t.odometer_km,
               t.voltage_v::float8 * t.current_a::float8
        FROM unnest(%s::integer[], %s::bigint[]) AS u(v, since)
        JOIN telemetry t ON t.vehicle_key = u.v AND t.ts >= pogo_ts(u.since)
        ORDER BY t.vehicle_key, t.ts
        """,
        (list(vehicles), list(since_ms)),
    ).fetchall()
    names = ("vehicle", "t_ms", "lat", "lon", "speed_kmh", "hdop", "soc_pct", "odometer_km")
    names += ("power_w",)
    columns: dict[str, Any] = {}
    for i, name in enumerate(names):
        values = [r[i] for r in rows]
        if i < 2:
            columns[name] = np.array(values, dtype=np.int64)
        else:
            columns[name] = np.array([np.nan if v is None else v for v in values], np.float64)
    return columns
