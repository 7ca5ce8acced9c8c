"""Trip distances without the GPS noise's bias (fleet/noise.py), against ground truth.

Synthetic rides whose true length is known exactly (straight, curved, with noise of a known
size) and the simulator's ground truth at several noise levels and sampling intervals.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from numpy.typing import NDArray

import simulators
from fleet import Track, TripRules, segment
from fleet.distance import haversine_km
from fleet.noise import debiased_km, trip_noise_m2, window_w2
from tests.fleet.builders import KM_PER_DEG_LAT, LAT0, LON0, T0_MS
from tests.fleet.test_accuracy import score, sim_track

RULES = TripRules()
RAW = TripRules(noise_max_step_s=0)
M_PER_DEG_LON = KM_PER_DEG_LAT * 1000 * np.cos(np.radians(LAT0))


def ride_track(
    x_m: NDArray[np.float64],
    y_m: NDArray[np.float64],
    every_s: float,
    sigma_m: float = 0.0,
    seed: int = 1,
) -> tuple[Track, float]:
    """A ride along the true path (metres east and north of the centre, one true position per
    fix), parked 5 minutes at its first and last position, fixes every ``every_s`` with
    ``sigma_m`` of noise per axis; and the path's true length in km (haversine of the true
    positions)."""
    rng = np.random.default_rng(seed)
    park = int(300 / every_s)
    x = np.concatenate([np.full(park, x_m[0]), x_m[1:-1], np.full(park, x_m[-1])])
    y = np.concatenate([np.full(park, y_m[0]), y_m[1:-1], np.full(park, y_m[-1])])
    n = x.size
    lat = LAT0 + y / (KM_PER_DEG_LAT * 1000)
    lon = LON0 + x / M_PER_DEG_LON
    true_km = float(haversine_km(lat[:-1], lon[:-1], lat[1:], lon[1:]).sum())
    lat_n = lat + rng.normal(0, sigma_m, n) / (KM_PER_DEG_LAT * 1000)
    lon_n = lon + rng.normal(0, sigma_m, n) / M_PER_DEG_LON
    speed = np.zeros(n)
    speed[park : n - park] = 25.0  # moving from the first fix after the parking
    t_ms = T0_MS + np.round(np.arange(n) * every_s * 1000).astype(np.int64)
    return Track.from_arrays(np.ones(n), t_ms, lat_n, lon_n, speed, np.full(n, 0.9)), true_km


def straight(km: float, every_s: float, speed_kmh: float = 25.0) -> tuple[NDArray, NDArray]:
    """Due east at a constant speed."""
    d = np.arange(0.0, km * 1000 + 1e-9, speed_kmh / 3.6 * every_s)
    return d, np.zeros_like(d)


def curvy(
    km: float, every_s: float, radius_m: float, swing_kmh: float = 0.0
) -> tuple[NDArray, NDArray]:
    """Round a circle of the given radius at 30 km/h, or at a speed rising and falling by
    ``swing_kmh`` every minute (braking into a bend, speeding up out of it)."""
    t = np.arange(0.0, km * 1000 / (30 / 3.6), every_s)
    along = 30 / 3.6 * t - swing_kmh / 3.6 * 60 / (2 * np.pi) * np.sin(2 * np.pi * t / 60)
    angle = along / radius_m
    return radius_m * np.sin(angle), radius_m * (1 - np.cos(angle))


def one_trip(track: Track, rules: TripRules) -> tuple[float, float]:
    """The single trip's distance (km) and measured noise (m)."""
    trips = segment(track, rules).trips
    assert len(trips) == 1
    return float(trips.distance_km[0]), float(trips.gps_sigma_m[0])


@pytest.mark.parametrize("every_s", [1.0, 5.0])
@pytest.mark.parametrize("sigma_m", [0.5, 2.0, 5.0])
def test_the_noise_is_measured_in_the_trips_own_fixes(every_s: float, sigma_m: float) -> None:
    """On 4 km straight rides the measured noise per axis is within 10 % of the true one (the
    mean over 5 rides; one ride's is within about 20 %), fixes every second or every 5 s,
    from 0.5 m to 5 m."""
    measured = [
        one_trip(ride_track(*straight(4.0, every_s), every_s, sigma_m, seed=s)[0], RULES)[1]
        for s in range(5)
    ]
    assert np.mean(measured) == pytest.approx(sigma_m, rel=0.1)
    assert np.min(measured) > 0.75 * sigma_m


@pytest.mark.parametrize("sigma_m", [2.0, 5.0])
def test_the_bias_is_gone_on_a_straight_ride(sigma_m: float) -> None:
    """Fixes every 5 s, 2 or 5 m of noise: summed steps are 0.2-1.5 % too long, the
    de-biased distance within 0.1 % (the mean over 20 rides of 4 km)."""
    raw, fixed, truth = [], [], []
    for seed in range(20):
        track, true_km = ride_track(*straight(4.0, 5.0), 5.0, sigma_m, seed=seed)
        raw.append(one_trip(track, RAW)[0])
        fixed.append(one_trip(track, RULES)[0])
        truth.append(true_km)
    raw_err = sum(raw) / sum(truth) - 1
    err = sum(fixed) / sum(truth) - 1
    assert raw_err > 0.002
    assert abs(err) < 0.001, (raw_err, err)


@pytest.mark.parametrize("radius_m", [25.0, 60.0, 200.0])
@pytest.mark.parametrize("every_s", [1.0, 5.0])
def test_curves_are_not_taken_for_noise(radius_m: float, every_s: float) -> None:
    """Without noise, round and round a roundabout (25 m), a tight bend (60 m) and a wide one
    (200 m) at a steady speed: the distance is the measured one to 1e-5, the measured noise
    under 0.1 m."""
    track, _ = ride_track(*curvy(3.0, every_s, radius_m), every_s)
    raw, _ = one_trip(track, RAW)
    fixed, measured = one_trip(track, RULES)
    assert fixed == pytest.approx(raw, rel=1e-5)
    assert measured < 0.1


@pytest.mark.parametrize(
    ("radius_m", "every_s", "most"), [(25.0, 1.0, 1e-4), (200.0, 5.0, 1e-3), (500.0, 5.0, 2e-4)]
)
def test_speed_changes_in_bends_cost_little(radius_m: float, every_s: float, most: float) -> None:
    """Without noise, bends ridden at 20-40 km/h: unequal steps round a curve look a little
    like noise; a whole trip of such bends loses at most ``most`` of its length (measured
    6e-5, 6e-4, 1e-4; at 5 s round 100 m bends it is 2.4e-3, the limit of the method)."""
    track, _ = ride_track(*curvy(3.0, every_s, radius_m, swing_kmh=10.0), every_s)
    raw, _ = one_trip(track, RAW)
    fixed, _ = one_trip(track, RULES)
    assert raw * (1 - most) <= fixed <= raw


def test_steps_too_far_apart_are_summed_as_measured() -> None:
    """With ``noise_max_step_s`` below the interval between fixes, nothing is corrected;
    with 0 the correction is off."""
    track, _ = ride_track(*straight(4.0, 5.0), 5.0, 3.0)
    raw, _ = one_trip(track, RAW)
    assert one_trip(track, TripRules(noise_max_step_s=4.0)) == (raw, 0.0)
    assert one_trip(track, RULES)[0] < raw


def test_a_short_trip_keeps_its_steps() -> None:
    """A trip with fewer windows than ``noise_min_windows`` is not corrected."""
    track, _ = ride_track(*straight(1.0, 5.0), 5.0, 3.0)  # 30 moving fixes
    raw, _ = one_trip(track, RAW)
    assert one_trip(track, TripRules(noise_min_windows=100)) == (raw, 0.0)
    assert one_trip(track, RULES)[0] < raw


def test_window_estimate_ignores_other_trips_and_long_steps() -> None:
    """Each trip's noise comes from its own windows only, without the unusable ones."""
    rng = np.random.default_rng(3)
    w2 = rng.chisquare(1, 200).astype(np.float32) * 4.0
    w2[100:] *= 100.0  # a second, much noisier trip
    moving = np.ones(200, dtype=bool)
    lo, hi = np.array([0, 100]), np.array([100, 200])
    v, n = trip_noise_m2(w2, moving, np.zeros(0, dtype=np.int64), lo, hi, 1.0, 10)
    assert n.tolist() == [98, 98]
    assert v[1] / v[0] == pytest.approx(100.0, rel=0.5)
    w2[50] = 1e6  # a turn: hardly felt
    again, _ = trip_noise_m2(w2, moving, np.zeros(0, dtype=np.int64), lo, hi, 1.0, 10)
    assert again[0] / v[0] < 1.3
    unusable = np.array([50])
    without, n2 = trip_noise_m2(w2, moving, unusable, lo, hi, 1.0, 10)
    assert n2.tolist() == [97, 98]
    assert without[0] < again[0]


def test_window_w2_is_zero_on_straight_lines_and_arcs() -> None:
    """A straight ride with speed changes and an arc ridden at a constant speed give 0."""
    east = np.array([0, 10, 20, 35, 50, 50], dtype=np.float32)
    north = np.zeros(6, dtype=np.float32)
    assert window_w2(east, north).max() == 0.0
    angle = np.linspace(0, 3, 30)
    x, y = 40 * np.sin(angle), 40 * (1 - np.cos(angle))
    east, north = (np.diff(c, prepend=0).astype(np.float32) for c in (x, y))
    w2 = window_w2(east, north)
    assert w2[2:-1].max() < 1e-6


def test_debiased_km_never_goes_negative() -> None:
    """Steps shorter than the noise become 0."""
    out = debiased_km(np.array([0.0, 0.001, 0.01]), np.full(3, 5e-6))
    assert out.tolist()[:2] == [0.0, 0.0]
    assert out[2] == pytest.approx(np.sqrt(0.01**2 - 5e-6))


@functools.cache
def _sim_errors(sigma_m: float, every_s: float) -> tuple[float, float]:
    """Total km error against the simulator's truth: summed steps and de-biased."""
    cfg = simulators.benguerir(
        seed=11, days=3, vehicles=20, gps_sigma_m=sigma_m, report_interval_s=every_s
    )
    sim = simulators.simulate(cfg)
    track, rides = sim_track(sim)
    out = []
    for rules in (RAW, RULES):
        t = segment(track, rules, rides).trips
        out.append(score(sim, t.vehicle, t.start_ms, t.end_ms, t.distance_km)["km_ratio"] - 1)
    return out[0], out[1]


@pytest.mark.slow
def test_default_noise_meets_the_target() -> None:
    """The simulator's default (2.5 m, fixes every 5 s, default faults): summed steps are
    more than 0.3 % long, the de-biased total within 0.1 % of the truth."""
    raw, fixed = _sim_errors(2.5, 5.0)
    assert raw > 0.003
    assert abs(fixed) <= 0.001


@pytest.mark.slow
@pytest.mark.parametrize("every_s", [1.0, 5.0, 15.0])
def test_zero_noise_is_no_worse(every_s: float) -> None:
    """Without noise the distance is what it was, at every interval."""
    raw, fixed = _sim_errors(0.0, every_s)
    assert abs(fixed) <= abs(raw) + 1e-5


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sigma_m", "every_s", "left"),
    [(2.5, 1.0, 0.1), (5.0, 1.0, 0.25), (5.0, 5.0, 0.2), (10.0, 5.0, 0.2), (10.0, 1.0, 0.45)],
)
def test_most_of_the_noise_contribution_is_gone(
    sigma_m: float, every_s: float, left: float
) -> None:
    """Against the zero-noise result at the same interval, the noise's contribution to the
    total keeps at most ``left`` of its size (measured: 0.07, 0.17, 0.12, 0.12, 0.36)."""
    zero, _ = _sim_errors(0.0, every_s)
    raw, fixed = _sim_errors(sigma_m, every_s)
    assert raw - zero > 0.01
    assert abs(fixed - zero) <= left * (raw - zero), (raw, fixed, zero)


@pytest.mark.slow
@pytest.mark.parametrize("sigma_m", [2.5, 10.0])
def test_long_intervals_are_left_as_measured(sigma_m: float) -> None:
    """Fixes every 15 s: beyond ``noise_max_step_s``, the distance is the summed steps."""
    raw, fixed = _sim_errors(sigma_m, 15.0)
    assert fixed == raw
