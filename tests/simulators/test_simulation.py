"""simulators/simulation.py: reproducible output and the shape of what a simulation holds."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from simulators import STATE_CHARGING, STATE_PARKED, STATE_RIDING, ScenarioError, simulate
from simulators.render import _ambient_c
from tests.simulators.builders import scenario


def test_same_seed_same_output() -> None:
    """Two runs with the same config give identical points, events, truth and bad payloads."""
    a = simulate(scenario(faults=True))
    b = simulate(scenario(faults=True))
    assert a.points.size > 10_000
    assert np.array_equal(a.points, b.points, equal_nan=False) or _same(a.points, b.points)
    assert np.array_equal(a.events, b.events)
    assert np.array_equal(a.truth, b.truth)
    assert [bytes(p) for p in a.malformed["payload"]] == [bytes(p) for p in b.malformed["payload"]]


def test_other_seed_other_output() -> None:
    """A different seed gives different rides."""
    a = simulate(scenario(seed=3))
    b = simulate(scenario(seed=4))
    assert not np.array_equal(a.truth["start_ts"][:10], b.truth["start_ts"][:10])


def _same(x: np.ndarray, y: np.ndarray) -> bool:
    if x.shape != y.shape:
        return False
    for name in x.dtype.names or ():
        a, b = x[name], y[name]
        if a.dtype.kind == "f":
            if not np.array_equal(a, b, equal_nan=True):
                return False
        elif not np.array_equal(a, b):
            return False
    return True


def test_chunks_hold_the_same_points() -> None:
    """Rendering day by day gives the same points as rendering the window at once."""
    sim = simulate(scenario(faults=True))
    pieces = np.concatenate([piece.points for piece in sim.chunks(days=0.5)])
    key = ["vehicle_index", "true_ts", "flags"]
    assert _same(np.sort(sim.points, order=key), np.sort(pieces, order=key))


def test_states_and_wire_fields() -> None:
    """Vehicles ride, park and charge; required fields are always present and plausible."""
    sim = simulate(scenario())
    p = sim.points
    states = set(np.unique(p["state"]).tolist())
    assert states == {STATE_RIDING, STATE_PARKED, STATE_CHARGING}
    assert np.isfinite(p["lat"]).all() and np.isfinite(p["lon"]).all()
    assert (np.abs(p["lat"] - 32.24) < 0.05).all() and (np.abs(p["lon"] + 7.955) < 0.06).all()
    riding = p["state"] == STATE_RIDING
    assert 55 <= p["speed_kmh"][riding].max() <= 62
    assert np.isnan(p["heading_deg"][~riding]).all()
    assert (p["soc_pct"] >= 0).all() and (p["soc_pct"] <= 100).all()
    assert p["vehicle"][0].startswith("pogo-")
    # Each vehicle's odometer never runs backwards along its true time.
    order = np.lexsort((p["true_ts"], p["vehicle_index"]))
    odo, veh = p["odometer_km"][order], p["vehicle_index"][order]
    same = veh[1:] == veh[:-1]
    assert (np.diff(odo)[same] >= -1e-9).all()


def test_truth_matches_the_points() -> None:
    """Each true ride's distance equals the odometer's advance over the ride's points."""
    sim = simulate(scenario())
    p = sim.points[sim.points["state"] == STATE_RIDING]
    t = sim.truth
    assert t.size > 50
    for ride in t[:: max(1, t.size // 20)]:  # a sample of rides, checked one by one
        mine = p[(p["vehicle"] == ride["vehicle"]) & (p["true_ts"] >= ride["start_ts"])]
        mine = mine[mine["true_ts"] <= ride["end_ts"]]
        assert mine["true_ts"].min() == ride["start_ts"]
        assert mine["true_ts"].max() == ride["end_ts"]
        advance = mine["odometer_km"].max() - mine["odometer_km"].min()
        assert abs(advance - ride["distance_km"]) < 0.002


def test_offline_spells_send_nothing() -> None:
    """Some long parked spells find the device offline: no fix is sent inside them."""
    sim = simulate(scenario(days=6, offline_share=0.5))
    plan = sim.plan
    assert plan.offline_vehicle.size > 3
    start_ms = round(sim.config.start.timestamp() * 1000)
    p = sim.points
    t = (p["true_ts"].astype(np.int64) - start_ms) / 1000.0
    for v, a, b in zip(plan.offline_vehicle, plan.offline_start, plan.offline_end, strict=True):
        inside = (p["vehicle_index"] == v) & (t >= a) & (t <= b)
        assert not inside.any()
        assert b - a > 1800


def test_battery_temperature_follows_air_and_use() -> None:
    """Battery temperature stays plausible for Benguerir and runs warmer while riding."""
    hot = simulate(scenario(days=3, start=datetime(2024, 7, 20, tzinfo=UTC)))
    summer = hot.points
    winter = simulate(scenario(days=3, start=datetime(2024, 1, 15, tzinfo=UTC))).points
    assert summer["batt_temp_c"].mean() > winter["batt_temp_c"].mean() + 10
    assert winter["batt_temp_c"].min() > -5 and summer["batt_temp_c"].max() < 60
    start_ms = round(hot.config.start.timestamp() * 1000)
    t = (summer["true_ts"].astype(np.int64) - start_ms) / 1000.0
    excess = summer["batt_temp_c"] - _ambient_c(hot.plan, t)
    riding = summer["state"] == STATE_RIDING
    parked = summer["state"] == STATE_PARKED
    assert excess[riding].mean() > excess[parked].mean() + 1.0


def test_ids_that_would_not_fit_are_refused() -> None:
    """Fleet and vehicle ids must fit the topic pattern and the arrays' fields."""
    with pytest.raises(ScenarioError, match="vehicle_prefix"):
        scenario(vehicle_prefix="a-very-long-prefix")
    with pytest.raises(ScenarioError, match="fleet"):
        scenario(fleet="bad/fleet")
    with pytest.raises(ScenarioError, match="days"):
        scenario(days=0.0)
