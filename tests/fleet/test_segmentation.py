"""Segmentation rules on small hand-built tracks, and the fast path against the slow one."""

from __future__ import annotations

import numpy as np
import pytest

from fleet import DROP_REASONS, RulesError, TripRules, pair_ride_events, segment
from tests.fleet._reference import as_arrays, reference_segment
from tests.fleet.builders import (
    KM_PER_DEG_LAT,
    LAT0,
    T0_MS,
    parked,
    point,
    ride,
    synthetic_fleet,
    track,
)

RULES = TripRules()


def ms(t: float) -> int:
    return T0_MS + round(t * 1000)


def test_parked_jitter_makes_no_trip() -> None:
    """An hour of a parked vehicle whose fixes wander by metres gives no trip and no km."""
    rng = np.random.default_rng(1)
    pts = [
        point(t=t, lat=LAT0 + rng.normal(0, 5e-5), speed_kmh=rng.uniform(0, 2))
        for t in range(0, 3600, 10)
    ]
    seg = segment(track(pts), RULES)
    assert len(seg.trips) == 0
    assert (seg.trip == -1).all()


def test_one_ride_between_parkings() -> None:
    """Parked, a 10-minute ride at 24 km/h north, parked: one trip of 4 km from the first
    moving fix to the fix where it stopped."""
    pts = parked(0, 300) + ride(300, 600, speed_kmh=24.0)
    end_lat = pts[-1]["lat"]
    pts += parked(905, 1500, lat=end_lat)
    seg = segment(track(pts), RULES)
    assert len(seg.trips) == 1
    trip = seg.trips
    assert trip.start_ms[0] == ms(300)
    assert trip.end_ms[0] == ms(905)
    assert trip.distance_km[0] == pytest.approx(4.0, rel=1e-3)
    assert trip.duration_s[0] == pytest.approx(605)
    assert trip.max_speed_kmh[0] == 24.0
    assert trip.source[0] == 0


def test_stop_at_a_light_stays_inside_the_trip() -> None:
    """A 60 s stop (shorter than min_parking_s) does not split the trip; its jitter adds no
    distance."""
    first = ride(0, 300)
    lat_stop = first[-1]["lat"]
    light = [
        point(t=t, lat=lat_stop + (1e-4 if i % 2 else 0), speed_kmh=0.0)
        for i, t in enumerate(range(305, 365, 5))
    ]
    second = ride(365, 300, lat=lat_stop)
    pts = parked(-400, -5) + first + light + second
    pts += parked(670, 1200, lat=second[-1]["lat"])
    seg = segment(track(pts), RULES)
    assert len(seg.trips) == 1
    # Twelve 11 m jitter steps would add 0.13 km; only the step leaving the stop counts.
    assert abs(seg.trips.distance_km[0] - 20.0 * 600 / 3600) < 0.012


def test_parking_longer_than_the_rule_splits_trips() -> None:
    """A stop of min_parking_s or more ends one trip and the next ride starts another."""
    first = ride(0, 300)
    stop_lat = first[-1]["lat"]
    pts = parked(-400, -5) + first + parked(305, 305 + RULES.min_parking_s + 30, lat=stop_lat)
    pts += ride(305 + RULES.min_parking_s + 30, 300, lat=stop_lat)
    seg = segment(track(pts), RULES)
    assert len(seg.trips) == 2
    assert seg.trips.end_ms[0] == ms(305)


def test_a_data_gap_ends_a_motion_trip() -> None:
    """Fixes further apart than max_gap_s split a ride in two; the gap's straight line is not
    counted as distance."""
    first = ride(0, 300)
    second = ride(300 + RULES.max_gap_s + 60, 300, lat=first[-1]["lat"] + 0.01)
    seg = segment(track(first + second), RULES)
    assert len(seg.trips) == 2
    assert seg.trips.distance_km.sum() == pytest.approx(2 * 20 * 300 / 3600, rel=1e-3)


def test_too_short_or_too_brief_motion_is_not_a_trip() -> None:
    """Moving 50 m (below min_trip_km) or for 20 s (below min_trip_s) makes no trip."""
    short = ride(0, 30, speed_kmh=6.0)  # 50 m in 30 s
    brief = ride(1000, 20, speed_kmh=40.0)  # 222 m in 20 s
    pts = parked(-300, -5) + short + parked(35, 900, lat=short[-1]["lat"])
    pts += [dict(p, lat=p["lat"] + 0.01) for p in brief]
    pts += parked(1025, 1400, lat=brief[-1]["lat"] + 0.01)
    seg = segment(track(pts), RULES)
    assert len(seg.trips) == 0
    loose = segment(track(pts), TripRules(min_trip_km=0.01, min_trip_s=10))
    assert len(loose.trips) == 2


def test_dropped_fixes_are_counted_by_reason_inside_the_trip() -> None:
    """A poor-HDOP fix and a 1 km spike are dropped with their reasons, counted on the trip,
    and add no distance."""
    pts = parked(-300, -5) + ride(0, 600)
    pts[40]["hdop"] = 12.0
    pts[50]["lat"] += 0.01
    pts += parked(605, 900, lat=pts[-1]["lat"])
    tr = track(pts)
    seg = segment(tr, RULES)
    assert DROP_REASONS[seg.reason[40] - 1] == "hdop"
    assert DROP_REASONS[seg.reason[50] - 1] == "jump"
    assert (seg.reason == 0).sum() == len(pts) - 2
    assert seg.trips.dropped[0].tolist() == [0, 1, 1]
    assert seg.trips.distance_km[0] == pytest.approx(20 * 600 / 3600, rel=1e-3)


def test_fix_without_position_is_dropped() -> None:
    """A NaN latitude is dropped with reason 'position'."""
    pts = ride(0, 100)
    pts[3]["lat"] = float("nan")
    seg = segment(track(pts), RULES)
    assert DROP_REASONS[seg.reason[3] - 1] == "position"


def test_ride_events_define_trips_even_without_parking() -> None:
    """Two rentals back to back (no parking between) are two trips when the fleet sends ride
    events, with the events' times, ride ids and riders."""
    pts = parked(-300, 0) + ride(0, 600)
    pts += ride(605, 600, lat=pts[-1]["lat"])
    pts += parked(1210, 1500, lat=pts[-1]["lat"])
    tr = track(pts)
    rides = pair_ride_events(
        [1, 1, 1, 1],
        [ms(-2), ms(600), ms(601), ms(1207)],
        [True, False, True, False],
        ["r1", None, "r2", "r2"],
        ["alice-token", None, None, "bob-token"],
    )
    assert rides.ride_id.tolist() == ["r1", "r2"]
    assert rides.rider.tolist() == ["alice-token", "bob-token"]
    seg = segment(tr, RULES, rides)
    assert len(seg.trips) == 2
    assert seg.trips.start_ms.tolist() == [ms(-2), ms(601)]
    assert seg.trips.end_ms.tolist() == [ms(600), ms(1207)]
    assert seg.trips.source.tolist() == [1, 1]
    assert seg.trips.distance_km.sum() == pytest.approx(20 * 1200 / 3600, rel=2e-3)
    motion = segment(tr, RULES)
    assert len(motion.trips) == 1


def test_lost_ride_end_is_inferred_from_motion() -> None:
    """A ride whose ride_end was lost ends at its last moving fix, before the next ride."""
    pts = parked(-300, 0) + ride(0, 300)
    pts += parked(305, 1000, lat=pts[-1]["lat"]) + ride(1000, 300, lat=pts[-1]["lat"])
    rides = pair_ride_events([1, 1, 1], [ms(-1), ms(999), ms(1302)], [True, True, False])
    assert rides.end_inferred.tolist() == [True, False]
    seg = segment(track(pts), RULES, rides)
    assert len(seg.trips) == 2
    assert seg.trips.end_ms[0] == ms(300)


def test_lost_ride_start_is_inferred_from_motion() -> None:
    """A ride_end without its ride_start starts at the first moving fix."""
    pts = parked(-600, 0) + ride(0, 300) + parked(305, 600, lat=LAT0 + 20 * 300 / 3600 / 111.195)
    rides = pair_ride_events([1], [ms(304)], [False])
    seg = segment(track(pts), RULES, rides)
    assert len(seg.trips) == 1
    assert seg.trips.start_ms[0] == ms(0)
    assert seg.trips.end_ms[0] == ms(304)


def test_vehicles_are_segmented_independently_in_one_call() -> None:
    """Two vehicles in one call: a ride of one never joins a ride of the other."""
    a = [dict(p, vehicle=1) for p in parked(-300, 0) + ride(0, 300)]
    b = [dict(p, vehicle=2) for p in ride(10, 300) + parked(315, 800)]
    seg = segment(track(a + b), RULES)
    assert seg.trips.vehicle.tolist() == [1, 2]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fast_path_equals_the_per_vehicle_loop(seed: int) -> None:
    """The vectorised segmentation gives exactly the reference loop's fixes dropped, trip
    bounds and counts, and its distances to 1e-6, on a synthetic fleet with noise."""
    tr = synthetic_fleet(60_000, n_vehicles=12, seed=seed)
    seg = segment(tr, RULES)
    reasons, ref = reference_segment(tr, RULES)
    assert len(ref) > 50
    assert seg.reason.tolist() == reasons
    expected = as_arrays(ref)
    for name, values in expected.items():
        got = getattr(seg.trips, name)
        if values.dtype.kind == "f":
            np.testing.assert_allclose(got, values, rtol=1e-6, atol=1e-9, err_msg=name)
        else:
            np.testing.assert_array_equal(got, values, err_msg=name)
    dropped = np.array(
        [[r.dropped.get(name, 0) for name in DROP_REASONS] for r in ref], dtype=np.int64
    )
    np.testing.assert_array_equal(seg.trips.dropped, dropped)


def test_fast_path_equals_the_loop_with_ride_events() -> None:
    """With ride events for half the vehicles (and some ends lost), the vectorised path still
    equals the reference loop."""
    tr = synthetic_fleet(40_000, n_vehicles=8, seed=5)
    rng = np.random.default_rng(5)
    veh, t, st = [], [], []
    for v in (2, 4, 6, 8):
        times = tr.t_ms[tr.vehicle == v]
        cuts = np.sort(rng.choice(times[1:-1], size=20, replace=False))
        for i, c in enumerate(cuts):
            if i % 7 == 3:
                continue  # a lost event
            veh.append(v)
            t.append(int(c))
            st.append(i % 2 == 0)
    rides = pair_ride_events(veh, t, st)
    seg = segment(tr, RULES, rides)
    reasons, ref = reference_segment(tr, RULES, rides)
    assert seg.reason.tolist() == reasons
    for name, values in as_arrays(ref).items():
        got = getattr(seg.trips, name)
        np.testing.assert_allclose(got, values, rtol=1e-6, atol=1e-9, err_msg=name)
    assert set(seg.trips.source[np.isin(seg.trips.vehicle, [2, 4, 6, 8])]) == {1}


def test_rules_are_validated() -> None:
    """A negative or non-finite rule raises RulesError naming it."""
    with pytest.raises(RulesError, match="min_parking_s"):
        TripRules(min_parking_s=-1)
    with pytest.raises(RulesError, match="max_gap_s"):
        TripRules(max_gap_s=float("inf"))


def test_distance_is_close_to_truth_on_a_known_path() -> None:
    """A 6 km ride east (fixes every 5 s) measures within 0.1 % of 6 km."""
    pts = parked(-300, 0) + ride(0, 900, speed_kmh=24.0, north=False)
    seg = segment(track(pts), RULES)
    assert seg.trips.distance_km[0] == pytest.approx(6.0, rel=1e-3)
    assert KM_PER_DEG_LAT > 111
