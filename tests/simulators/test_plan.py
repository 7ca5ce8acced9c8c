"""simulators/plan.py: rides chained per vehicle, speed profiles, the battery's schedule."""

from __future__ import annotations

import numpy as np

from simulators import STATE_PARKED, STATE_RIDING, simulate
from simulators.plan import (
    ACCEL_MS2,
    DECEL_MS2,
    HARSH_ACCELERATION_MS2,
    HARSH_BRAKING_MS2,
    charge_curve_duration,
    charge_curve_soc,
    consumption_wh_per_km,
    plan,
)
from tests.simulators.builders import scenario


def test_each_ride_starts_where_the_last_ended() -> None:
    """A vehicle never teleports: each ride starts at its previous ride's end, and rides of
    one vehicle never overlap."""
    truth = simulate(scenario(days=5)).truth
    same = truth["vehicle"][1:] == truth["vehicle"][:-1]
    assert same.sum() > 100
    assert np.array_equal(truth["start_lat"][1:][same], truth["end_lat"][:-1][same])
    assert (truth["start_ts"][1:][same] > truth["end_ts"][:-1][same]).all()


def test_speed_profile_accelerates_and_stops_at_junctions() -> None:
    """Speeds change at most as fast as the acceleration allows, reach the limits, and drop
    to zero at junctions in the middle of rides."""
    sim = simulate(scenario(days=3))
    p = sim.points[sim.points["state"] == STATE_RIDING]
    p = p[np.lexsort((p["true_ts"], p["vehicle_index"]))]
    dt = np.diff(p["true_ts"].astype(np.int64)) / 1000.0
    same = (
        (np.diff(p["vehicle_index"]) == 0) & (dt >= 4.0) & (dt <= 5.0)
    )  # noise over a short step reads as a jolt
    change = np.abs(np.diff(p["speed_kmh"].astype(np.float64)))[same] / dt[same]
    assert change.max() <= 2.2 * 3.6 + 1.0  # braking is the hardest: 2.2 m/s², plus noise
    mid = np.ones(p.size, dtype=bool)
    starts = np.isin(p["true_ts"], sim.truth["start_ts"]) | np.isin(
        p["true_ts"], sim.truth["end_ts"]
    )
    mid &= ~starts
    assert (p["speed_kmh"][mid] < 0.5).sum() > 50  # stops at lights and junctions
    assert np.percentile(p["speed_kmh"], 99) > 45


def test_consumption_rises_with_speed() -> None:
    """Wh/km grows with speed."""
    wh = consumption_wh_per_km(np.array([10.0, 30.0, 45.0, 60.0]))
    assert (np.diff(wh) > 0).all() and 20 < wh[0] < wh[-1] < 60


def test_charging_curve_tapers() -> None:
    """Constant power to 80 %, then tapering; the duration matches the curve's end."""
    config = scenario()
    start = np.array([30.0])
    total = charge_curve_duration(config, start)
    soc, power = charge_curve_soc(config, start, np.array([0.0, total[0] * 0.3, total[0]]))
    assert soc[-1] > 99.9 and power[0] == config.charger_kw and power[-1] < power[0] * 0.2
    soc_half, _ = charge_curve_soc(config, start, total / 2)
    assert 30 < soc_half[0] < 100


def test_harsh_events_are_injected_only_when_asked() -> None:
    """By default every edge speeds up and slows down at the normal rates and no ride has a
    harsh event; with shares, harsh stops and starts are injected at the documented rates
    and counted per ride in the ground truth."""
    calm = plan(scenario(days=1))
    assert (calm.edge_accel == ACCEL_MS2).all() and (calm.edge_decel == DECEL_MS2).all()
    assert calm.harsh_braking.sum() == 0 and calm.harsh_acceleration.sum() == 0
    rough = plan(scenario(days=1, harsh_braking_share=0.5, harsh_acceleration_share=0.5))
    hard = rough.edge_decel[rough.edge_decel != DECEL_MS2]
    fast = rough.edge_accel[rough.edge_accel != ACCEL_MS2]
    assert hard.size == rough.harsh_braking.sum() > 0
    assert fast.size == rough.harsh_acceleration.sum() > 0
    assert HARSH_BRAKING_MS2[0] <= hard.min() and hard.max() <= HARSH_BRAKING_MS2[1]
    assert HARSH_ACCELERATION_MS2[0] <= fast.min() and fast.max() <= HARSH_ACCELERATION_MS2[1]
    sim = simulate(scenario(days=1, harsh_braking_share=0.5))
    assert sim.truth["harsh_braking"].sum() > 0


def _counted_energy(sim_points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per run of riding or charging fixes (steps of at most 90 s): the vehicle, the SoC
    change (%) and the energy counted from voltage and current (kWh, into the pack)."""
    p = sim_points[np.lexsort((sim_points["ts"], sim_points["vehicle_index"]))]
    t = p["ts"].astype(np.int64) / 1000.0
    power = p["voltage_v"].astype(float) * p["current_a"].astype(float)
    state = p["state"]
    v = p["vehicle_index"]
    new = np.ones(p.size, dtype=bool)
    new[1:] = (v[1:] != v[:-1]) | (np.diff(t) > 90) | (state[1:] != state[:-1])
    run = np.cumsum(new) - 1
    step = np.zeros(p.size)
    step[1:] = 0.5 * (power[1:] + power[:-1]) * np.diff(t)
    step[new] = 0.0
    first = np.flatnonzero(new)
    last = np.append(first[1:] - 1, p.size - 1)
    active = state[first] != STATE_PARKED
    dsoc = p["soc_pct"][last].astype(float) - p["soc_pct"][first].astype(float)
    kwh = -np.bincount(run, step) / 3.6e6
    return v[first][active], dsoc[active], kwh[active]


def test_faded_packs_move_their_soc_faster_and_the_truth_says_by_how_much() -> None:
    """Each pack's capacity is drawn from the configured health range and fades with time;
    the truth carries it per ride; the same energy moves a faded pack's SoC further, so the
    energy counted from voltage and current over every ride and charge divided by its SoC
    change gives back the true capacity (within 1 %, the SoC being rounded to 0.1 %)."""
    config = scenario(
        days=4, vehicles=4, health_low_pct=75, health_high_pct=95, capacity_fade_pct_per_year=5
    )
    sim = simulate(config)
    truth = sim.truth
    rated = config.battery_kwh
    share = truth["battery_kwh"] / rated
    assert (share >= 0.74).all() and (share <= 0.95).all()
    per_vehicle = [truth["battery_kwh"][truth["vehicle"] == i] for i in config.vehicle_ids]
    assert np.ptp([c[0] for c in per_vehicle]) > 0.05 * rated  # packs differ
    assert all((np.diff(c) <= 0).all() and c[-1] < c[0] for c in per_vehicle)  # they fade
    drop = truth["energy_kwh"] / truth["battery_kwh"] * 100
    assert np.allclose(drop, sim.plan.soc_start - sim.plan.soc_end)
    vehicle, dsoc, kwh = _counted_energy(sim.points)
    big = np.abs(dsoc) > 3
    assert (np.sign(kwh[big]) == np.sign(dsoc[big])).all()
    for i, capacity in enumerate(per_vehicle):
        mine = big & (vehicle == i)
        counted = np.abs(kwh[mine]).sum() / np.abs(dsoc[mine]).sum() * 100
        assert abs(counted / capacity.mean() - 1) < 0.01, (i, counted, capacity.mean())


def test_a_new_fleet_is_the_rated_capacity_and_soc_noise_only_when_asked() -> None:
    """Without a health range every pack holds the rated capacity; the SoC reading error
    is zero unless configured, and when configured the reported SoC scatters around the
    truth by about that much."""
    config = scenario(days=2, vehicles=3)
    sim = simulate(config)
    assert (sim.truth["battery_kwh"] == config.battery_kwh).all()
    quiet = sim.points
    noisy = simulate(config.replace(soc_sigma_pct=1.0)).points
    assert np.array_equal(quiet["ts"], noisy["ts"])
    error = noisy["soc_pct"].astype(float) - quiet["soc_pct"].astype(float)
    inside = (quiet["soc_pct"] > 5) & (quiet["soc_pct"] < 95)
    assert 0.9 < error[inside].std() < 1.1
