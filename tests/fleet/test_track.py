"""The track: columns converted and checked once, fixes in any order sorted and deduplicated."""

from __future__ import annotations

import numpy as np
import pytest

from fleet.errors import TrackError
from fleet.track import Track
from tests.fleet.builders import synthetic_fleet


def test_unsorted_track_is_refused() -> None:
    """Fixes out of time order within a vehicle raise TrackError naming the order."""
    with pytest.raises(TrackError, match="sorted"):
        Track.from_arrays([1, 1], [2000, 1000], [32.0, 32.0], [-7.9, -7.9])


def test_unsorted_and_repeated_fixes_are_sorted_keeping_the_first() -> None:
    """from_unsorted sorts by (vehicle, time) and keeps the first of fixes sharing both."""
    tr = Track.from_unsorted([2, 1, 1, 1], [0, 2000, 1000, 2000], [3.0, 2.0, 1.0, 9.0], [0.0] * 4)
    assert tr.vehicle.tolist() == [1, 1, 2]
    assert tr.t_ms.tolist() == [1000, 2000, 0]
    assert tr.lat.tolist() == [1.0, 2.0, 3.0]


def test_a_column_of_another_length_is_refused() -> None:
    """A column whose shape differs from vehicle's raises TrackError naming the column."""
    with pytest.raises(TrackError, match="speed_kmh"):
        Track.from_arrays([1, 1], [0, 1000], [32.0, 32.0], [-7.9, -7.9], speed_kmh=[1.0])


def test_the_packed_key_sort_gives_the_lexsort_order_on_a_shuffled_fleet() -> None:
    """A shuffled synthetic fleet with repeated fixes: from_unsorted gives exactly what the
    obvious two-key np.lexsort and keep-the-first give."""
    fleet = synthetic_fleet(20_000, 7, seed=3)
    rng = np.random.default_rng(4)
    pick = np.concatenate([rng.permutation(len(fleet)), rng.integers(0, len(fleet), 500)])
    veh, t, lat = fleet.vehicle[pick], fleet.t_ms[pick], fleet.lat[pick] + np.arange(pick.size)
    got = Track.from_unsorted(veh, t, lat, fleet.lon[pick])
    order = np.lexsort((t, veh))
    first = np.r_[True, (np.diff(veh[order]) != 0) | (np.diff(t[order]) != 0)]
    np.testing.assert_array_equal(got.vehicle, veh[order][first])
    np.testing.assert_array_equal(got.t_ms, t[order][first])
    np.testing.assert_array_equal(got.lat, lat[order][first])


def test_a_time_outside_the_packed_range_is_refused_before_sorting() -> None:
    """A negative time raises TrackError naming t_ms's range (it would not pack)."""
    with pytest.raises(TrackError, match="t_ms must lie"):
        Track.from_unsorted([1, 1], [5, -1], [32.0, 32.0], [-7.9, -7.9])
