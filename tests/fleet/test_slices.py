"""Time slices of a long build: where the edges fall, and what one slice hands the next."""

from __future__ import annotations

import numpy as np

from fleet import Track
from fleet.slices import Carry, slice_edges


def counts_between(t: np.ndarray, edges: list[int]) -> np.ndarray:
    return np.diff(np.searchsorted(np.sort(t), [t.min(), *edges, t.max() + 1]))


def test_edges_cut_even_fixes_into_slices_of_the_size_asked() -> None:
    """Forty vehicles fixing every 5 s for a fortnight, 500 k to a slice: each slice holds
    the size asked within 1 %."""
    rng = np.random.default_rng(7)
    first = rng.integers(0, 3_600_000, 40)
    last = first + 14 * 86_400_000
    t = np.concatenate([np.arange(f, e, 5_000) for f, e in zip(first, last, strict=True)])
    counts = np.full(40, 14 * 86_400 // 5)
    edges = slice_edges(first, last, counts, 100_000)
    got = counts_between(t, edges)
    assert len(got) == int(np.ceil(t.size / 100_000))
    assert np.all(np.abs(got - t.size / len(got)) < 0.01 * t.size / len(got))


def test_edges_follow_a_fleet_that_grows() -> None:
    """One vehicle for a week, then ten: equal-time slices would put eleven times as many
    fixes in the later ones; the edges keep every slice near the size asked."""
    first = np.array([0] + [7 * 86_400_000] * 10)
    last = np.full(11, 14 * 86_400_000)
    per_vehicle = [np.arange(f, e, 10_000) for f, e in zip(first, last, strict=True)]
    t = np.concatenate(per_vehicle)
    counts = np.array([p.size for p in per_vehicle])
    got = counts_between(t, slice_edges(first, last, counts, 50_000))
    assert got.max() < 1.05 * 50_000 and got.min() > 0.9 * got.max()


def test_one_slice_needs_no_edge_and_vehicles_without_fixes_count_nothing() -> None:
    assert slice_edges(np.array([0, 5]), np.array([100, 5]), np.array([10, 0]), 10) == []
    assert slice_edges(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64), 5) == []


def track(vehicle: list[int], t: list[int]) -> Track:
    n = len(t)
    return Track.from_arrays(vehicle, t, np.arange(n, dtype=float), np.zeros(n))


def test_carried_fixes_and_events_go_before_the_next_slice_of_their_vehicle() -> None:
    carry = Carry.keep(
        track([1, 1, 1, 2, 2], [10, 20, 30, 10, 20]),
        [
            (1, 5, "ride_start", "r1", None),
            (1, 25, "ride_end", "r1", None),
            (2, 15, "x", None, None),
        ],
        np.array([1, 2]),
        fixes_from_ms=np.array([20, 99]),
        events_from_ms=np.array([0, 16]),
    )
    assert carry.track.t_ms.tolist() == [20, 30] and carry.track.lat.tolist() == [1.0, 2.0]
    assert [e[1] for e in carry.events] == [5, 25]
    joined, events, own = carry.join(track([1, 3], [40, 35]), [(3, 35, "charge_start", None, None)])
    assert list(zip(joined.vehicle.tolist(), joined.t_ms.tolist(), strict=True)) == [
        (1, 20),
        (1, 30),
        (1, 40),
        (3, 35),
    ]
    assert own.tolist() == [False, False, True, True]
    assert joined.lat.tolist() == [1.0, 2.0, 0.0, 1.0]
    assert [(e[0], e[1]) for e in events] == [(1, 5), (1, 25), (3, 35)]
    Track.from_arrays(joined.vehicle, joined.t_ms, joined.lat, joined.lon)  # the order holds
