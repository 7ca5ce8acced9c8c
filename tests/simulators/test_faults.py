"""simulators/render.py: fault rates are honoured, measured from what the devices send."""

from __future__ import annotations

import numpy as np
import pytest

from simulators import FaultRates, Simulation, simulate
from simulators.network import to_xy
from tests.simulators.builders import scenario

RATES = FaultRates(
    duplicate=0.02,
    out_of_order=0.02,
    malformed=0.01,
    multipath=0.01,
    clock_skew_per_day=8.0,
    clock_skew_max_s=20.0,
    clock_skew_mean_s=400.0,
    offline_buffer_per_day=8.0,
    offline_buffer_mean_s=300.0,
    coverage_gap_per_day=8.0,
    coverage_gap_mean_s=200.0,
)


@pytest.fixture(scope="module")
def pair() -> tuple[Simulation, Simulation]:
    """The same fleet and rides, without faults and with elevated fault rates."""
    clean = simulate(scenario(days=4, vehicles=12, faults=False))
    faulty = simulate(scenario(days=4, vehicles=12, faults=RATES))
    return clean, faulty


def _within(measured: float, expected: float, tolerance: float = 0.2) -> bool:
    return abs(measured / expected - 1.0) <= tolerance


def test_same_rides_with_or_without_faults(pair: tuple[Simulation, Simulation]) -> None:
    """Faults change what is sent, never what happened: the ground truth is the same."""
    clean, faulty = pair
    assert np.array_equal(clean.truth, faulty.truth)


def test_duplicates(pair: tuple[Simulation, Simulation]) -> None:
    """About ``duplicate`` of the points are sent twice, identical (same ts, seq, values)."""
    _, sim = pair
    p = sim.points
    keys = np.stack([p["vehicle_index"].astype(np.int64), p["seq"]])
    unique = np.unique(keys, axis=1).shape[1]
    assert _within((p.size - unique) / unique, RATES.duplicate)
    dup = p[(p["flags"] & 1) == 1][0]
    originals = p[(p["vehicle_index"] == dup["vehicle_index"]) & (p["seq"] == dup["seq"])]
    assert originals.size == 2 and originals["ts"][0] == originals["ts"][1]


def test_out_of_order(pair: tuple[Simulation, Simulation]) -> None:
    """About ``out_of_order`` of the points arrive after a later point of the same vehicle."""
    _, sim = pair
    p = sim.points[(sim.points["flags"] & 1) == 0]  # first copies, in transmission order
    order = np.lexsort((np.arange(p.size), p["vehicle_index"]))  # stable: per vehicle
    veh, seq = p["vehicle_index"][order], p["seq"][order]
    late = 0
    for v in np.unique(veh):  # a loop over vehicles in a test, to measure
        s = seq[veh == v]
        late += int((s < np.maximum.accumulate(s)).sum())
    assert _within(late / p.size, RATES.out_of_order), late / p.size


def test_malformed(pair: tuple[Simulation, Simulation]) -> None:
    """About ``malformed`` bad payloads per point, each of a known kind."""
    _, sim = pair
    assert _within(sim.malformed.size / sim.points.size, RATES.malformed, 0.25)
    assert set(sim.malformed["kind"]) <= {
        "not_json", "lat_range", "zero_fix", "soc_range", "missing_ts", "not_a_number"
    }  # fmt: skip


def test_multipath_jumps(pair: tuple[Simulation, Simulation]) -> None:
    """About ``multipath`` of fixes jump 50-300 m; measured on parked fixes, whose honest
    jitter stays within a few metres."""
    _, sim = pair
    parked = sim.points[(sim.points["state"] == 1) & ((sim.points["flags"] & 1) == 0)]
    x, y = to_xy(parked["lon"], parked["lat"])
    order = np.lexsort((parked["true_ts"], parked["vehicle_index"]))
    x, y, veh = x[order], y[order], parked["vehicle_index"][order]
    # Triples of one vehicle whose outer fixes agree (the same parking spot, no jump).
    same = (veh[2:] == veh[1:-1]) & (veh[1:-1] == veh[:-2])
    same &= np.hypot(x[2:] - x[:-2], y[2:] - y[:-2]) < 20.0
    mid_x, mid_y = (x[2:] + x[:-2]) / 2, (y[2:] + y[:-2]) / 2
    off = np.hypot(x[1:-1] - mid_x, y[1:-1] - mid_y)[same]
    jumped = (off > 40).mean()
    assert _within(jumped, RATES.multipath, 0.3)
    assert np.median(off) < 6.0  # jitter while parked: a few metres


def test_clock_skew(pair: tuple[Simulation, Simulation]) -> None:
    """Skewed fixes carry a device time off by 1 to ``clock_skew_max_s`` seconds, for about
    ``per_day * mean_s / 86400`` of the time."""
    _, sim = pair
    p = sim.points[sim.points["state"] == 1]  # parked fixes sample time evenly
    error_s = (p["ts"] - p["true_ts"]).astype(np.int64) / 1000.0
    skewed = error_s != 0
    expected = RATES.clock_skew_per_day * RATES.clock_skew_mean_s / 86_400
    assert _within(skewed.mean(), expected, 0.35)
    assert (np.abs(error_s[skewed]) >= 1.0).all() and (np.abs(error_s) <= 20.0).all()


def test_offline_buffering(pair: tuple[Simulation, Simulation]) -> None:
    """Buffered fixes are sent together after the episode, late by up to its length (fixes
    sent out of order, also late, are told apart by their flag)."""
    _, sim = pair
    p = sim.points[((sim.points["flags"] & 3) == 0) & (sim.points["state"] == 1)]
    delay_s = (p["sent_ts"] - p["true_ts"]).astype(np.int64) / 1000.0
    late = delay_s > 5.0
    expected = RATES.offline_buffer_per_day * RATES.offline_buffer_mean_s / 86_400
    assert _within(late.mean(), expected, 0.35)
    assert (delay_s[~late] > 0).all()


def test_coverage_gaps(pair: tuple[Simulation, Simulation]) -> None:
    """Gaps lose about ``per_day * mean_s / 86400`` of the fixes, and a fault event says so."""
    clean, sim = pair
    sent = ((sim.points["flags"] & 1) == 0) & (sim.points["state"] == 1)
    lost = 1 - sent.sum() / (clean.points["state"] == 1).sum()
    expected = RATES.coverage_gap_per_day * RATES.coverage_gap_mean_s / 86_400
    assert _within(lost, expected, 0.35)
    faults = sim.events[sim.events["type"] == "fault"]
    assert faults.size > 0 and set(faults["code"]) == {"gps_no_fix"}
