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
from _simulator_loop import loop_riding, positions  # benchmarks/ is on sys.path (rootdir)

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
    benchmark.extra_info.update(
        points=n,
        points_per_second=round(fast),
        loop_points_per_second=round(slow),
        speedup_vs_loop=round(fast / slow, 1),
    )
    print(
        f"\nsimulator: {fast:,.0f} points/s vectorised (all points, faults included) vs "
        f"{slow:,.0f} points/s per-point loop (riding points only): {fast / slow:.1f}x"
    )
