"""fleet/behaviour.py: harsh braking and acceleration from speed and position over time."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

import simulators
from fleet import TripRules, segment
from fleet.behaviour import STANDARD_GRAVITY_MS2, peak_acceleration_ms2
from tests.fleet.builders import KM_PER_DEG_LAT, LAT0, point, track
from tests.fleet.test_accuracy import sim_track

RULES = TripRules()


def _one(x: float) -> NDArray[np.float64]:
    return np.array([x], dtype=np.float64)


def _bound(v0: float, v1: float, dt: float, s: float, tol: float = 0.0) -> float:
    return float(peak_acceleration_ms2(_one(v0), _one(v1), _one(dt), _one(s), tol, 0.0)[0])


def test_bound_recovers_the_deceleration_of_a_stop_inside_a_step() -> None:
    """Braking at a constant rate over the whole step gives dv/dt; cruising then braking to a
    stop, or braking then standing, gives the true rate, not the smaller mean."""
    assert _bound(10.0, 0.0, 5.0, 25.0) == pytest.approx(2.0)
    # 13.9 m/s, cruise 2.22 s then 5 m/s2 for 2.78 s: 30.9 + 19.3 m.
    braking_s = 13.9 / 5.0
    cruise = 13.9 * (5.0 - braking_s)
    assert _bound(13.9, 0.0, 5.0, cruise + 13.9**2 / 10.0) == pytest.approx(5.0)
    # Stopped after 2.78 s and stood: 19.3 m.
    assert _bound(13.9, 0.0, 5.0, 13.9**2 / 10.0) == pytest.approx(5.0)
    # A start: stood 1 s, then 4 m/s2 to 16 m/s: 32 m.
    assert _bound(0.0, 16.0, 5.0, 32.0) == pytest.approx(4.0)


def test_bound_is_never_below_the_mean_and_tolerance_only_lowers_it() -> None:
    """Over random steps (distances inside and outside the monotone range), the bound is at
    least |dv|/dt, and a distance tolerance never raises it."""
    rng = np.random.default_rng(4)
    n = 5000
    v0, v1 = rng.uniform(0, 17, n), rng.uniform(0, 17, n)
    dt = rng.uniform(0.5, 10, n)
    s = rng.uniform(0, 180, n)
    exact = peak_acceleration_ms2(v0, v1, dt, s, 0.0, 0.0)
    tolerant = peak_acceleration_ms2(v0, v1, dt, s, 3.0, 0.0)
    assert (exact >= np.abs(v1 - v0) / dt - 1e-12).all()
    assert (tolerant <= exact + 1e-12).all()
    assert (tolerant >= np.abs(v1 - v0) / dt - 1e-12).all()


def _ride(profile: list[tuple[float, float]], every_s: float = 5.0) -> list[dict[str, float]]:
    """Fixes every ``every_s`` of a ride northwards, from (duration s, acceleration m/s2)
    phases starting at rest, integrated finely; parked 5 minutes before and after."""
    dt = 0.01
    accel = np.concatenate([np.full(round(d / dt), a) for d, a in profile])
    v = np.maximum(np.concatenate([[0.0], np.cumsum(accel) * dt]), 0.0)
    x = np.concatenate([[0.0], np.cumsum(0.5 * (v[1:] + v[:-1])) * dt])
    step = round(every_s / dt)
    pick = np.arange(0, v.size, step)
    fixes = [point(t=-300.0 + 60.0 * i) for i in range(5)]
    fixes += [
        point(t=i * dt, lat=LAT0 + x[i] / 1000.0 / KM_PER_DEG_LAT, speed_kmh=v[i] * 3.6)
        for i in pick.tolist()
    ]
    end = pick[-1] * dt
    lat_end = LAT0 + x[pick[-1]] / 1000.0 / KM_PER_DEG_LAT
    fixes += [point(t=end + 60.0 * (i + 1), lat=lat_end) for i in range(6)]
    return fixes


def test_a_hard_stop_and_a_hard_start_count_once_each() -> None:
    """A ride with a full-throttle start (4 m/s2), cruising, a normal stop (2.2 m/s2), a
    normal start (1.5 m/s2) and a hard stop (5.5 m/s2) between 5 s fixes: one harsh
    acceleration and one harsh braking (each shorter than a step, found through the distance
    the step covered)."""
    fixes = _ride(
        [
            (1.2, 0.0),
            (3.5, 4.0),  # 0 -> 14 m/s, harsh
            (20.0, 0.0),
            (14.0 / 2.2, -2.2),  # normal stop
            (8.0, 0.0),
            (14.0 / 1.5, 1.5),  # normal start
            (24.06, 0.0),
            (14.0 / 5.5, -5.5),  # hard stop, ending at the fix of t = 75 s
            (10.0, 0.0),
        ]
    )
    trips = segment(track(fixes), RULES).trips
    assert len(trips) == 1
    assert int(trips.harsh_braking[0]) == 1
    assert int(trips.harsh_acceleration[0]) == 1


def test_normal_riding_and_slow_steps_are_never_harsh() -> None:
    """Normal stops and starts give no event; a hard stop from below harsh_min_speed_kmh,
    or between fixes further apart than harsh_max_step_s, gives none either; lower
    thresholds in the rules find the normal ones."""
    normal = _ride([(1.0, 0.0), (14.0 / 1.5, 1.5), (30.0, 0.0), (14.0 / 2.2, -2.2), (6.0, 0.0)])
    trips = segment(track(normal), RULES).trips
    assert (int(trips.harsh_braking[0]), int(trips.harsh_acceleration[0])) == (0, 0)
    eager = TripRules(harsh_braking_g=0.15, harsh_acceleration_g=0.1)
    trips = segment(track(normal), eager).trips
    assert (int(trips.harsh_braking[0]), int(trips.harsh_acceleration[0])) == (1, 1)
    crawl = _ride([(1.0, 0.0), (2.4 / 1.0, 1.0), (120.0, 0.0), (2.4 / 5.0, -5.0), (6.0, 0.0)])
    assert int(segment(track(crawl), RULES).trips.harsh_braking[0]) == 0
    sparse = _ride(
        [(1.2, 0.0), (3.5, 4.0), (60.0, 0.0), (14.0 / 5.5, -5.5), (20.0, 0.0)], every_s=12.0
    )
    trips = segment(track(sparse), RULES).trips
    assert (int(trips.harsh_braking[0]), int(trips.harsh_acceleration[0])) == (0, 0)


def test_implied_speeds_use_only_the_mean_rate() -> None:
    """Without reported speeds the bound is the mean change of the implied speed: a hard
    stop inside one 5 s step is not claimed."""
    fixes = _ride([(1.2, 0.0), (3.5, 4.0), (20.0, 0.0), (14.0 / 5.5, -5.5), (10.0, 0.0)])
    for f in fixes:
        f["speed_kmh"] = np.nan
    trips = segment(track(fixes), RULES).trips
    assert int(trips.harsh_braking[0]) == 0


def _against_truth(interval_s: float, share: float) -> tuple[int, int, int, int]:
    """(detected, true, matched, trips) over both kinds, on a simulated fleet."""
    config = simulators.benguerir(
        seed=3,
        days=2,
        vehicles=10,
        report_interval_s=interval_s,
        harsh_braking_share=share,
        harsh_acceleration_share=share,
    )
    sim = simulators.simulate(config)
    fixes, rides = sim_track(sim)
    trips = segment(fixes, RULES, rides).trips
    truth = {
        str(r): (int(b), int(a))
        for r, b, a in zip(
            sim.truth["ride_id"],
            sim.truth["harsh_braking"],
            sim.truth["harsh_acceleration"],
            strict=True,
        )
    }
    found = np.concatenate([trips.harsh_braking, trips.harsh_acceleration])
    want = np.array(
        [truth.get(str(rides.ride_id[r]), (0, 0))[0] for r in trips.ride.tolist()]
        + [truth.get(str(rides.ride_id[r]), (0, 0))[1] for r in trips.ride.tolist()]
    )
    return int(found.sum()), int(want.sum()), int(np.minimum(found, want).sum()), len(trips)


@pytest.mark.slow
def test_simulated_harsh_events_are_found() -> None:
    """Against the simulator's injected harsh stops and starts (ground truth per ride): every
    one found, none invented, at 1 s fixes; at the default 5 s, precision >= 0.9 and recall
    >= 0.6 (a stop shorter than the step is seen only through the distance); without injected
    events, fewer than 0.1 false events a trip."""
    found, true, matched, _ = _against_truth(1.0, 0.3)
    assert true > 200 and found == matched == true
    found, true, matched, _ = _against_truth(5.0, 0.3)
    assert matched / found >= 0.9 and matched / true >= 0.6, (found, true, matched)
    found, true, _, trips = _against_truth(5.0, 0.0)
    assert true == 0 and found < 0.1 * trips, (found, trips)


def test_thresholds_are_in_g() -> None:
    """The default thresholds are 0.35 g braking and 0.30 g acceleration."""
    assert RULES.harsh_braking_g * STANDARD_GRAVITY_MS2 == pytest.approx(3.43, abs=0.01)
    assert RULES.harsh_acceleration_g * STANDARD_GRAVITY_MS2 == pytest.approx(2.94, abs=0.01)
