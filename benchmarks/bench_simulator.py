"""How fast the simulator makes points: the vectorised renderer against a per-point loop.

Run: ``.venv/bin/pytest benchmarks/bench_simulator.py --benchmark-enable -o testpaths=benchmarks``.
The figure is points per second, reported as a ratio against a plain per-point Python loop
(``_simulator_loop.py``) measured in the same run on the same rides; the loop's positions are
checked against the vectorised ones.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import numpy as np

from benchmarks._simulator_loop import loop_riding, positions
from simulators import benguerir, simulate
from simulators.render import _riding, render

CONFIG = benguerir(seed=11, days=14, start=datetime(2024, 10, 7, tzinfo=UTC))


def test_points_per_second(benchmark: Any) -> None:
    """Two weeks of the 40-vehicle fleet, every point (riding, parked, charging, faults)."""
    sim = simulate(CONFIG)
    plan = sim.plan
    horizon = sim.horizon_s + 1.0
    rendered = benchmark.pedantic(lambda: render(plan, 0.0, horizon), rounds=3, iterations=1)
    n = rendered.points.size
    assert n > 400_000 and np.isfinite(rendered.points["lat"]).all()
    fast = n / benchmark.stats.stats.min

    # Reference: riding points of the first 300 rides, one point at a time in Python.
    rides = list(range(300))
    began = time.perf_counter()
    rows = loop_riding(plan, rides)
    slow = len(rows) / (time.perf_counter() - began)
    # The same rides, vectorised: identical true positions.
    mine = _riding(plan, np.array(rides))
    ref = positions(rows)
    assert ref.shape[0] == mine["t"].size
    assert np.allclose(ref[:, 1], mine["x"], atol=1e-6) and np.allclose(
        ref[:, 2], mine["y"], atol=1e-6
    )
    # Like for like: the vectorised riding motion of every ride, best of three.
    best = float("inf")
    for _ in range(3):
        began = time.perf_counter()
        riding = _riding(plan, np.arange(plan.rides))
        best = min(best, time.perf_counter() - began)
    riding_fast = riding["t"].size / best
    benchmark.extra_info.update(
        points=n,
        points_per_second=round(fast),
        riding_points_per_second=round(riding_fast),
        loop_points_per_second=round(slow),
        render_vs_loop=round(fast / slow, 1),
        riding_vs_loop=round(riding_fast / slow, 1),
    )
    print(
        f"\nsimulator: full render {fast:,.0f} points/s (every state, noise, faults, rows "
        f"built); riding motion {riding_fast:,.0f} points/s; per-point loop {slow:,.0f} "
        f"points/s (riding motion, battery, noise): render {fast / slow:.1f}x, "
        f"motion {riding_fast / slow:.1f}x the loop"
    )
