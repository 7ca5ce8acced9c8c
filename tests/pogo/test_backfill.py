"""pogo/backfill.py: a simulation handed to the store's write path (COPY straight in)."""

from __future__ import annotations

import numpy as np
import psycopg

from pogo.backfill import backfill
from simulators import simulate
from tests.fixtures.settings import TEST_RIDER_KEY
from tests.simulators.builders import scenario


def test_backfill_stores_each_point_once(db_url: str) -> None:
    """Vehicles, every distinct (vehicle, ts) point and every event are stored; duplicates
    are not; a second run stores nothing new."""
    sim = simulate(scenario(days=1.5, faults=True))
    points = sim.points
    distinct = np.unique(np.stack([points["vehicle_index"], points["ts"].astype(np.int64)]), axis=1)
    counts = backfill(db_url, sim, TEST_RIDER_KEY, chunk_days=0.5)
    assert counts.vehicles == 8
    assert counts.points_inserted == distinct.shape[1]
    assert counts.points_sent == points.size
    assert counts.duplicates == points.size - distinct.shape[1] > 0
    with psycopg.connect(db_url) as conn:
        stored = conn.execute("SELECT count(*), count(heading_deg) FROM telemetry").fetchone()
        events = conn.execute("SELECT count(*) FROM vehicle_events").fetchone()
        rides = conn.execute(
            "SELECT count(DISTINCT ride_id) FROM vehicle_events WHERE type = 'ride_start'"
        ).fetchone()
        battery = conn.execute("SELECT min(battery_kwh) FROM vehicles").fetchone()
    assert stored is not None and stored[0] == distinct.shape[1]
    # Parked points carry no heading (NULL, not NaN).
    assert stored[1] == int(np.isfinite(points["heading_deg"]).sum()) - _dup_headings(points)
    assert events == (sim.events.size,)
    assert rides == (sim.truth.size,)
    assert battery == (sim.config.battery_kwh,)
    again = backfill(db_url, sim, TEST_RIDER_KEY)
    assert again.points_inserted == 0 and again.events_inserted == 0


def _dup_headings(points: np.ndarray) -> int:
    """Headings on rows that are second copies of a (vehicle, ts) point."""
    order = np.lexsort((points["sent_ts"], points["ts"], points["vehicle_index"]))
    p = points[order]
    repeat = np.zeros(p.size, dtype=bool)
    repeat[1:] = (p["vehicle_index"][1:] == p["vehicle_index"][:-1]) & (p["ts"][1:] == p["ts"][:-1])
    return int(np.isfinite(p["heading_deg"][repeat]).sum())
