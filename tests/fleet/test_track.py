"""The track: columns converted and checked once, fixes in any order sorted and deduplicated."""

from __future__ import annotations

import pytest

from fleet.errors import TrackError
from fleet.track import Track


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
