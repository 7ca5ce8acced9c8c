"""Ride intervals paired from ``ride_start`` and ``ride_end`` events, lost events inferred."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fleet.track import END_OF_TIME_MS

__all__ = ["Rides", "pair_ride_events"]


@dataclass(frozen=True)
class Rides:
    """Ride intervals paired from ride events, sorted by vehicle then start.

    Attributes
    ----------
    vehicle : ndarray of int64, shape (r,)
    start_ms, end_ms : ndarray of int64, shape (r,)
        Interval ``[start_ms, end_ms]``; an unknown start is 0 and an unknown end 2**42 - 1.
    start_inferred, end_inferred : ndarray of bool, shape (r,)
        The event was missing: the trip's start (end) comes from its first (last) moving fix.
    ride_id, rider : ndarray of object, shape (r,)
        From the ride_start event, else from the ride_end event; None when neither has it.
    """

    vehicle: NDArray[np.int64]
    start_ms: NDArray[np.int64]
    end_ms: NDArray[np.int64]
    start_inferred: NDArray[np.bool_]
    end_inferred: NDArray[np.bool_]
    ride_id: NDArray[np.object_]
    rider: NDArray[np.object_]

    def __len__(self) -> int:
        return int(self.vehicle.shape[0])


def _shifted(values: NDArray[np.bool_], by: int) -> NDArray[np.bool_]:
    """``values`` moved ``by`` places (+1: each element sees the one before it), False-filled."""
    out = np.zeros(values.shape[0], dtype=bool)
    if by > 0:
        out[by:] = values[:-by]
    else:
        out[:by] = values[-by:]
    return out


def pair_ride_events(
    vehicle: ArrayLike,
    t_ms: ArrayLike,
    is_start: ArrayLike,
    ride_id: ArrayLike | None = None,
    rider: ArrayLike | None = None,
) -> Rides:
    """Pair ``ride_start`` and ``ride_end`` events into ride intervals.

    Parameters
    ----------
    vehicle : array_like of int, shape (e,)
    t_ms : array_like of int, shape (e,)
        Event times, ms since the epoch.
    is_start : array_like of bool, shape (e,)
        True for ``ride_start``, False for ``ride_end`` (other event types are left out).
    ride_id, rider : array_like of object, shape (e,), optional

    Returns
    -------
    Rides

    Notes
    -----
    Events are sorted by (vehicle, time, end before start). A start followed by an end of the
    same vehicle makes a ride. A start followed by another start (its end was lost) ends just
    before that start, a start with nothing after it is still open; both have an inferred
    end. An end without its start begins just after the previous end of the vehicle (or at
    the beginning) with an inferred start.

    Examples
    --------
    >>> rides = pair_ride_events([1, 1, 1], [1000, 5000, 9000], [True, False, True])
    >>> rides.start_ms.tolist(), rides.end_inferred.tolist()
    ([1000, 9000], [False, True])
    """
    veh = np.asarray(vehicle, dtype=np.int64)
    t = np.asarray(t_ms, dtype=np.int64)
    starts_ride = np.asarray(is_start, dtype=bool)
    e = veh.shape[0]
    ids = np.asarray(ride_id if ride_id is not None else [None] * e, dtype=object)
    riders = np.asarray(rider if rider is not None else [None] * e, dtype=object)
    order = np.lexsort((starts_ride, t, veh))
    veh, t, starts_ride = veh[order], t[order], starts_ride[order]
    ids, riders = ids[order], riders[order]
    same_vehicle_next = np.zeros(e, dtype=bool)
    same_vehicle_next[:-1] = veh[1:] == veh[:-1]
    next_is_end = _shifted(~starts_ride, -1)
    same_vehicle_prev = _shifted(same_vehicle_next, 1)
    prev_is_start = _shifted(starts_ride, 1)

    # Each start: ended by the next event when it is the same vehicle's end, else just before
    # the same vehicle's next start, else open.
    start_at = np.flatnonzero(starts_ride)
    matched = same_vehicle_next[start_at] & next_is_end[start_at]
    following = np.minimum(start_at + 1, max(e - 1, 0))
    end_ms = np.where(
        matched,
        t[following],
        np.where(same_vehicle_next[start_at], t[following] - 1, np.int64(END_OF_TIME_MS)),
    )
    start_ids = np.where(matched & (ids[start_at] == None), ids[following], ids[start_at])  # noqa: E711
    start_riders = np.where(
        matched & (riders[start_at] == None),  # noqa: E711
        riders[following],
        riders[start_at],
    )

    # Each end without its start: begins just after the same vehicle's previous event.
    lone_end_at = np.flatnonzero(~starts_ride & ~(same_vehicle_prev & prev_is_start))
    preceding = np.maximum(lone_end_at - 1, 0)
    lone_start_ms = np.where(same_vehicle_prev[lone_end_at], t[preceding] + 1, np.int64(0))

    out_vehicle = np.concatenate([veh[start_at], veh[lone_end_at]])
    out_start = np.concatenate([t[start_at], lone_start_ms])
    out_end = np.concatenate([end_ms, t[lone_end_at]])
    start_inferred = np.concatenate(
        [np.zeros(start_at.size, bool), np.ones(lone_end_at.size, bool)]
    )
    end_inferred = np.concatenate([~matched, np.zeros(lone_end_at.size, bool)])
    out_ids = np.concatenate([start_ids, ids[lone_end_at]]).astype(object)
    out_riders = np.concatenate([start_riders, riders[lone_end_at]]).astype(object)
    by_start = np.lexsort((out_start, out_vehicle))
    return Rides(
        vehicle=out_vehicle[by_start],
        start_ms=out_start[by_start],
        end_ms=out_end[by_start],
        start_inferred=start_inferred[by_start],
        end_inferred=end_inferred[by_start],
        ride_id=out_ids[by_start],
        rider=out_riders[by_start],
    )
