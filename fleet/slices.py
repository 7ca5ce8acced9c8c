"""Time slices: a long build (a first build, ``pogo trips --rebuild``, a build after a long
outage) read and built one stretch of device time at a time, for every vehicle at once.

Telemetry lies in the store roughly in the order it was received, so a stretch of time is a
run of neighbouring pages (on TimescaleDB, a few chunks): one scan of the time index reads each
page of a slice once. Reading one vehicle at a time instead visits every page once per vehicle
that has fixes on it (on two simulated years of 40 vehicles, each vehicle's read touched 43 %
of the table's pages).

Each slice is built as an incremental run at the slice's end would build it: trips that ended
long enough before a vehicle's last fix are final and written; the rest of each vehicle's fixes
(from where its next build starts, see :class:`Carry`) is carried in memory into the next
slice rather than read again.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fleet.track import Track, time_key

__all__ = ["Carry", "Event", "slice_edges"]

#: ``(vehicle_key, ts_ms, type, ride_id, rider)``, as :func:`fleet.queries.load_events` reads.
Event = tuple[int, int, str, str | None, str | None]


def slice_edges(
    first_ms: NDArray[np.int64],
    last_ms: NDArray[np.int64],
    fixes: NDArray[np.int64],
    per_slice: int,
) -> list[int]:
    """Device times that cut the vehicles' fixes into slices of about ``per_slice`` fixes.

    Parameters
    ----------
    first_ms, last_ms : ndarray of int64, shape (v,)
        Each vehicle's first fix to read and its last stored fix (ms since the epoch).
    fixes : ndarray of int64, shape (v,)
        How many fixes each vehicle has to read.
    per_slice : int
        The fixes a slice should hold.

    Returns
    -------
    list of int
        Strictly increasing inner edges (empty: one slice).

    Notes
    -----
    Each vehicle's fixes are taken to be spread evenly between its first and last, which
    the sum over vehicles follows through a fleet that grows or a vehicle that stops: the
    edges are the quantiles of that piecewise-linear count.

    Examples
    --------
    >>> slice_edges(np.array([0, 0]), np.array([100, 100]), np.array([50, 50]), 25)
    [25, 50, 75]
    >>> slice_edges(np.array([0]), np.array([100]), np.array([10]), 25)
    []
    """
    ok = (fixes > 0) & (last_ms > first_ms)
    first, last, n = first_ms[ok], last_ms[ok], fixes[ok].astype(np.float64)
    total = float(n.sum())
    slices = int(np.ceil(total / max(int(per_slice), 1)))
    if slices <= 1:
        return []
    density = n / (last - first)  # fixes per ms of each vehicle
    at = np.concatenate([first, last])
    change = np.concatenate([density, -density])
    order = np.argsort(at, kind="stable")
    at, change = at[order], change[order]
    rate = np.cumsum(change)[:-1]  # fixes per ms between at[i] and at[i + 1]
    count = np.concatenate([[0.0], np.cumsum(rate * np.diff(at))])
    wanted = total * np.arange(1, slices) / slices
    i = np.clip(np.searchsorted(count, wanted, side="right") - 1, 0, rate.size - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        step = np.where(rate[i] > 0, (wanted - count[i]) / rate[i], 0.0)
    edges = np.unique(at[i] + np.ceil(step).astype(np.int64))
    return [int(e) for e in edges.tolist() if at[0] < e <= at[-1]]


def take(track: Track, pick: NDArray[Any]) -> Track:
    """The fixes of ``track`` at ``pick`` (a boolean mask or sorted indices)."""
    return Track(**{f.name: getattr(track, f.name)[pick] for f in dataclasses.fields(Track)})


@dataclass(frozen=True)
class Carry:
    """What one slice hands the next: each vehicle's fixes and events from where its next
    build starts on, which the next slice needs again (the open trip, the context before it,
    a battery run still going on).

    Attributes
    ----------
    track : Track
    events : list of Event
        In (vehicle, time) order.
    """

    track: Track
    events: list[Event]

    @classmethod
    def empty(cls) -> Carry:
        """Nothing carried (before the first slice)."""
        none = np.zeros(0, dtype=np.int64)
        return cls(Track.from_arrays(none, none, np.zeros(0), np.zeros(0)), [])

    def join(
        self, track: Track, events: list[Event]
    ) -> tuple[Track, list[Event], NDArray[np.bool_]]:
        """The carried fixes and events with those of the next slice (all later than any
        carried), in (vehicle, time) order; and which fixes are the slice's own.

        Examples
        --------
        >>> old = Carry(Track.from_arrays([1, 2], [5, 5], [0, 0], [0, 0]), [])
        >>> new = Track.from_arrays([1, 1, 3], [7, 8, 7], [1, 1, 1], [1, 1, 1])
        >>> track, _, own = old.join(new, [])
        >>> track.vehicle.tolist(), track.t_ms.tolist(), own.tolist()
        ([1, 1, 1, 2, 3], [5, 7, 8, 5, 7], [False, True, True, False, True])
        """
        old, n = self.track, len(self.track)
        if not n:
            return track, events, np.ones(len(track), dtype=bool)
        # Each vehicle's carried fixes go just before its own in the slice: a few cuts, so
        # each column is a concatenation of runs rather than a scatter.
        at = np.searchsorted(time_key(track.vehicle, track.t_ms), time_key(old.vehicle, old.t_ms))
        cuts, first = np.unique(at, return_index=True)
        new_bounds = [0, *cuts.tolist(), len(track)]
        old_bounds = [*first.tolist(), n]

        def interleave(new: NDArray[Any], carried: NDArray[Any]) -> NDArray[Any]:
            runs = [new[new_bounds[0] : new_bounds[1]]]
            for i in range(cuts.size):
                runs.append(carried[old_bounds[i] : old_bounds[i + 1]])
                runs.append(new[new_bounds[i + 1] : new_bounds[i + 2]])
            return np.concatenate(runs)

        own = interleave(np.ones(len(track), dtype=bool), np.zeros(n, dtype=bool))
        cols = {
            f.name: interleave(getattr(track, f.name), getattr(old, f.name))
            for f in dataclasses.fields(Track)
        }
        merged = sorted(self.events + events, key=itemgetter(0, 1))
        return Track(**cols), merged, own

    @classmethod
    def keep(
        cls,
        track: Track,
        events: list[Event],
        vehicles: NDArray[np.int64],
        fixes_from_ms: NDArray[np.int64],
        events_from_ms: NDArray[np.int64],
    ) -> Carry:
        """The fixes and events of ``track`` and ``events`` that the next slice needs: those
        of each of the sorted ``vehicles`` from its ``fixes_from_ms`` / ``events_from_ms`` on
        (every fix's and event's vehicle is among them)."""
        row = np.searchsorted(vehicles, track.vehicle)
        kept = take(track, track.t_ms >= fixes_from_ms[row])
        since = dict(zip(vehicles.tolist(), events_from_ms.tolist(), strict=True))
        return cls(kept, [e for e in events if e[1] >= since[e[0]]])
