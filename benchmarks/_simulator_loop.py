"""The reference for the simulator's benchmark: the same riding points made by a plain
per-point Python loop (motion, battery, GPS noise), as a naive simulator would."""

from __future__ import annotations

import bisect
import math
import random

import numpy as np

from simulators.plan import AUX_W, Plan

_OCV_SOC = [0, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
_OCV_CELL = [3.00, 3.35, 3.45, 3.55, 3.62, 3.68, 3.74, 3.82, 3.90, 3.98, 4.08, 4.18]


def _ocv(soc: float) -> float:
    i = min(max(bisect.bisect_right(_OCV_SOC, soc) - 1, 0), len(_OCV_SOC) - 2)
    f = (soc - _OCV_SOC[i]) / (_OCV_SOC[i + 1] - _OCV_SOC[i])
    return 20 * (_OCV_CELL[i] + f * (_OCV_CELL[i + 1] - _OCV_CELL[i]))


def loop_riding(plan: Plan, rides: list[int], seed: int = 1) -> list[tuple[float, ...]]:
    """(t, x, y, speed_kmh, soc, voltage, lat_noise_x, lat_noise_y) per point, one at a time."""
    rng = random.Random(seed)
    net = plan.network
    dt = plan.config.report_interval_s
    xs, ys = net.x.tolist(), net.y.tolist()
    out = []
    for k in rides:
        e0, e1 = int(plan.edge_offsets[k]), int(plan.edge_offsets[k + 1])
        start, end = float(plan.start_s[k]), float(plan.end_s[k])
        duration = end - start
        steps = math.ceil(duration / dt - 1e-9)
        lengths = [float(v) for v in plan.edge_len[e0:e1]]
        along_before = [0.0]
        for length in lengths[:-1]:
            along_before.append(along_before[-1] + length)
        edge = e0
        for j in range(steps + 1):
            rel = min(j * dt, duration)
            t = start + rel
            while edge + 1 < e1 and plan.edge_start[edge + 1] <= t:
                edge += 1
            tau = t - float(plan.edge_start[edge])
            v0, vp, v1 = (
                float(plan.edge_v0[edge]),
                float(plan.edge_vp[edge]),
                float(plan.edge_v1[edge]),
            )
            length = float(plan.edge_len[edge])
            acc, dec = float(plan.edge_accel[edge]), float(plan.edge_decel[edge])
            t1 = (vp - v0) / acc
            d1 = (vp * vp - v0 * v0) / (2 * acc)
            t3 = (vp - v1) / dec
            d3 = (vp * vp - v1 * v1) / (2 * dec)
            d2 = max(length - d1 - d3, 0.0)
            t2 = d2 / vp
            if tau < t1:
                s, v = v0 * tau + 0.5 * acc * tau * tau, v0 + acc * tau
            elif tau < t1 + t2:
                s, v = d1 + vp * (tau - t1), vp
            else:
                u = min(max(tau - t1 - t2, 0.0), t3)
                s, v = d1 + d2 + vp * u - 0.5 * dec * u * u, vp - dec * u
            s = min(max(s, 0.0), length)
            a, b = int(plan.edge_a[edge]), int(plan.edge_b[edge])
            f = s / length if length > 0 else 0.0
            x = xs[a] + f * (xs[b] - xs[a])
            y = ys[a] + f * (ys[b] - ys[a])
            along = along_before[edge - e0] + s
            share = min(max(along / float(plan.distance_m[k]), 0.0), 1.0)
            soc = (
                float(plan.soc_start[k])
                - (float(plan.soc_start[k]) - float(plan.soc_end[k])) * share
            )
            kmh = v * 3.6
            power = kmh * (22.0 + 0.0065 * kmh * kmh) + AUX_W
            voltage = _ocv(soc) - power / 72.0 * 0.08
            hdop = 0.7 + rng.expovariate(1 / 0.15) + rng.expovariate(1 / 0.15)
            out.append(
                (
                    t,
                    x,
                    y,
                    kmh,
                    soc,
                    voltage,
                    x + rng.gauss(0, 2.5 * hdop),
                    y + rng.gauss(0, 2.5 * hdop),
                )
            )
    return out


def positions(rows: list[tuple[float, ...]]) -> np.ndarray:
    """(t, x, y) of the reference's points, for checking against the vectorised renderer."""
    return np.array([(r[0], r[1], r[2]) for r in rows])
