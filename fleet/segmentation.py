"""Trip segmentation over all vehicles at once: motion trips and ride-event trips.

Every step works on whole arrays holding many vehicles' kept fixes in (vehicle, time) order
(:func:`fleet.fixes.keep_fixes` drops the others first). The rules are named boolean masks
(``new_vehicle``, ``gap``, ``moving``, ``parked``, ``in_trip``) combined into trip starts;
``np.flatnonzero`` of the starts and ends gives each trip's first and last fix, and
``np.add.reduceat`` / ``np.maximum.reduceat`` / ``np.bincount`` its totals. There is no Python
loop per fix or per vehicle.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from fleet.behaviour import harsh_steps
from fleet.distance import EARTH_RADIUS_KM
from fleet.fixes import DROP_REASONS, KeptFixes, keep_fixes
from fleet.noise import debiased_km, trip_noise_m2, window_w2
from fleet.rides import Rides
from fleet.rules import TripRules
from fleet.track import Track, time_key

__all__ = ["SOURCES", "Segmentation", "TripArrays", "segment"]

SOURCES: tuple[str, ...] = ("motion", "events")
"""What defined a trip; ``TripArrays.source`` holds the index."""

_NumberT = TypeVar("_NumberT", np.int64, np.float64)
_NONE = np.iinfo(np.int64).max  # "no such fix" in a minimum over positions


@dataclass(frozen=True)
class TripArrays:
    """One row per trip, in (vehicle, start) order; indices point into the input track.

    Attributes
    ----------
    vehicle : int64 (k,)
    source : int8 (k,)
        Index into :data:`SOURCES`.
    ride : int64 (k,)
        Index into the :class:`~fleet.rides.Rides` given, or -1 for motion trips.
    start_ms, end_ms : int64 (k,)
        Trip start and end, ms since the epoch.
    start_idx, end_idx : int64 (k,)
        The fixes giving the start and end place (and SoC and odometer bounds).
    first_idx, last_idx : int64 (k,)
        First and last fix inside the trip.
    distance_km : float64 (k,)
        Haversine distance over the kept fixes without the GPS noise's bias
        (:mod:`fleet.noise`); steps between two non-moving fixes count 0.
    gps_sigma_m : float64 (k,)
        The GPS noise per axis measured in the trip's fixes, m (0 where too few windows:
        ``TripRules.noise_min_windows``).
    duration_s, avg_speed_kmh, max_speed_kmh : float64 (k,)
    fixes_used : int64 (k,)
        Kept fixes inside the trip.
    dropped : int64 (k, len(DROP_REASONS))
        Dropped fixes inside the trip's time span, per reason.
    harsh_braking, harsh_acceleration : int64 (k,)
        Harsh braking and harsh acceleration events inside the trip
        (:func:`fleet.behaviour.harsh_steps`).
    """

    vehicle: NDArray[np.int64]
    source: NDArray[np.int8]
    ride: NDArray[np.int64]
    start_ms: NDArray[np.int64]
    end_ms: NDArray[np.int64]
    start_idx: NDArray[np.int64]
    end_idx: NDArray[np.int64]
    first_idx: NDArray[np.int64]
    last_idx: NDArray[np.int64]
    distance_km: NDArray[np.float64]
    gps_sigma_m: NDArray[np.float64]
    duration_s: NDArray[np.float64]
    avg_speed_kmh: NDArray[np.float64]
    max_speed_kmh: NDArray[np.float64]
    fixes_used: NDArray[np.int64]
    dropped: NDArray[np.int64]
    harsh_braking: NDArray[np.int64]
    harsh_acceleration: NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.vehicle.shape[0])


@dataclass(frozen=True)
class Segmentation:
    """The result of :func:`segment`.

    Attributes
    ----------
    reason : int8 (n,)
        Per input fix: 0 kept, else ``DROP_REASONS[reason - 1]``.
    trips : TripArrays
    trip : int64 (n,)
        Per input fix: index of the trip it belongs to, or -1 (computed on first use from
        the trips' first and last fixes).
    """

    reason: NDArray[np.int8]
    trips: TripArrays

    @functools.cached_property
    def trip(self) -> NDArray[np.int64]:
        """Per input fix, the index of its trip or -1 (dropped fixes are never in a trip)."""
        n = self.reason.shape[0]
        k = len(self.trips)
        label = np.zeros(n + 1, dtype=np.int64)
        ids = np.arange(1, k + 1, dtype=np.int64)
        np.add.at(label, self.trips.first_idx, ids)
        np.subtract.at(label, self.trips.last_idx + 1, ids)
        out = np.cumsum(label[:n]) - 1
        out[self.reason > 0] = -1
        return out


@dataclass(frozen=True)
class _Motion:
    """Per kept fix: its speed, and the masks motion trips are cut by."""

    speed_kmh: NDArray[np.float64]  # reported, else implied
    reported: NDArray[np.bool_]  # the device reported the speed
    moving: NDArray[np.bool_]
    gap: NDArray[np.bool_]  # more than max_gap_s since the previous fix of the vehicle
    parked: NDArray[np.bool_]


@dataclass(frozen=True)
class _Membership:
    """Per kept fix: whether it is inside a trip, and whether a new trip starts at it."""

    in_trip: NDArray[np.bool_]
    cut: NDArray[np.bool_]
    by_events: NDArray[np.bool_] | None  # the vehicle's trips are its rides (None: no rides)
    ride_of: NDArray[np.int64] | None  # the ride holding the fix, or -1


@dataclass(frozen=True)
class _Bounds:
    """Per trip, in kept-fix positions: its fixes and the parked fixes around it."""

    first: NDArray[np.int64]
    last: NDArray[np.int64]
    from_events: NDArray[np.bool_]
    before: NDArray[np.int64]  # the fix before the first (clamped)
    after: NDArray[np.int64]  # the fix after the last (clamped)
    stood_before: NDArray[np.bool_]  # the trip leaves the parked fix `before`
    stopped_after: NDArray[np.bool_]  # the trip ends at the parked fix `after`

    def __len__(self) -> int:
        return int(self.first.shape[0])

    def owned_steps(self) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """``(lo, hi)``: each trip owns the steps reaching fixes ``lo .. hi - 1``, from the
        one reaching its first fix (or leaving the parked fix before it) to the one reaching
        its last fix (or the parked fix after it)."""
        lo = self.first + 1 - self.stood_before
        hi = self.last + self.stopped_after + 1
        return lo, hi

    def owned_sum(self, values: NDArray[_NumberT]) -> NDArray[_NumberT]:
        """Per trip, the sum of ``values`` (one per kept fix: the step reaching it) over the
        steps the trip owns; shape (k,), the dtype of ``values``."""
        m, k = values.shape[0], len(self)
        if not k:
            return np.zeros(0, dtype=values.dtype)
        # A sum over each trip's own range, never a difference of running totals: the result
        # must not depend on where the loaded window starts, or rebuilds would churn.
        counted = np.zeros(m + 1, dtype=values.dtype)  # one trailing 0: every bound is valid
        counted[:m] = values
        lo, hi = self.owned_steps()
        pairs = np.empty(2 * k, dtype=np.int64)
        pairs[0::2] = lo
        pairs[1::2] = hi
        return np.where(lo < hi, np.add.reduceat(counted, pairs)[0::2], 0).astype(values.dtype)

    def spread(self, values: NDArray[np.float64], m: int) -> NDArray[np.float64]:
        """One value per trip (shape (k,)) on each of the m steps it owns, 0 on the others."""
        lo, hi = self.owned_steps()
        k = len(self)
        fill = np.zeros(2 * k + 1, dtype=np.float64)
        fill[1::2] = values
        lengths = np.empty(2 * k + 1, dtype=np.int64)
        lengths[0] = lo[0] if k else m
        lengths[1::2] = hi - lo
        lengths[2:-1:2] = lo[1:] - hi[:-1]
        if k:
            lengths[-1] = m - hi[-1]
        return np.repeat(fill, lengths)

    def reduce_at(self, m: int) -> NDArray[np.int64]:
        """Interleaved ``[first, last + 1]`` bounds for ``ufunc.reduceat`` over m fixes (the
        even results are the trips')."""
        bounds = np.empty(2 * len(self), dtype=np.int64)
        bounds[0::2] = self.first
        bounds[1::2] = self.last + 1
        if len(self) and bounds[-1] == m:
            bounds = bounds[:-1]
        return bounds


def _parked(
    t_ms: NDArray[np.int64],
    moving: NDArray[np.bool_],
    gap: NDArray[np.bool_],
    breaks: NDArray[np.bool_],
    min_parking_s: float,
) -> NDArray[np.bool_]:
    """The non-moving fixes in runs lasting ``min_parking_s`` or more (measured to the next
    moving fix), or that a gap ends."""
    m = t_ms.shape[0]
    still = ~moving
    prev_still = np.zeros(m, dtype=bool)
    prev_still[1:] = still[:-1]
    run_starts = still & (breaks | ~prev_still)
    cut_after = np.ones(m, dtype=bool)
    np.logical_or(breaks[1:], moving[1:], out=cut_after[:-1])
    run_ends = still & cut_after
    run_first = np.flatnonzero(run_starts)
    run_last = np.flatnonzero(run_ends)
    following = np.minimum(run_last + 1, max(m - 1, 0))
    has_following = run_last + 1 < m
    resumed = has_following & ~breaks[following]
    ended_by_gap = has_following & gap[following]
    run_end_ms = np.where(resumed, t_ms[following], t_ms[run_last])
    parking = ((run_end_ms - t_ms[run_first]) >= min_parking_s * 1000.0) | ended_by_gap
    edges = np.zeros(m + 1, dtype=np.int8)
    edges[run_first[parking]] = 1
    ends = np.zeros(m + 1, dtype=np.int8)
    ends[run_last[parking] + 1] = 1
    edges -= ends
    return np.cumsum(edges[:m], dtype=np.int8).view(bool)


def _motion(track: Track, kept: KeptFixes, rules: TripRules) -> _Motion:
    speed = kept.take(track.speed_kmh)
    reported = np.isfinite(speed)
    speed = np.where(reported, speed, kept.implied_kmh)
    moving = speed >= rules.moving_speed_kmh
    gap = kept.dt_s > rules.max_gap_s
    parked = _parked(kept.t_ms, moving, gap, kept.new_vehicle | gap, rules.min_parking_s)
    return _Motion(speed, reported, moving, gap, parked)


def _membership(kept: KeptFixes, motion: _Motion, rides: Rides | None) -> _Membership:
    """Motion trips are runs of non-parked fixes cut by gaps; a vehicle with rides has its
    trips defined by its rides instead, cut where the ride changes."""
    if rides is None or len(rides) == 0:
        return _Membership(~motion.parked, motion.gap, None, None)
    key = time_key(kept.vehicle, kept.t_ms)
    ride_start = time_key(rides.vehicle, rides.start_ms)
    ride_end = time_key(rides.vehicle, rides.end_ms)
    latest_started = np.searchsorted(ride_start, key, side="right") - 1
    inside = (latest_started >= 0) & (key <= ride_end[np.maximum(latest_started, 0)])
    ride_of = np.where(inside, latest_started, -1)
    # Which fixes' vehicles send ride events: one lookup per fix (keys < 2**21).
    sends = np.zeros(int(max(kept.vehicle.max(initial=0), rides.vehicle.max(initial=0))) + 1, bool)
    sends[rides.vehicle] = True
    by_events = sends[kept.vehicle]
    prev_ride = np.full(len(kept), -1, dtype=np.int64)
    prev_ride[1:] = ride_of[:-1]
    return _Membership(
        in_trip=np.where(by_events, ride_of >= 0, ~motion.parked),
        cut=np.where(by_events, ride_of != prev_ride, motion.gap),
        by_events=by_events,
        ride_of=ride_of,
    )


def _bounds(kept: KeptFixes, motion: _Motion, member: _Membership) -> _Bounds:
    m = len(kept)
    in_trip, new_vehicle, gap = member.in_trip, kept.new_vehicle, motion.gap
    prev_in = np.zeros(m, dtype=bool)
    prev_in[1:] = in_trip[:-1]
    starts = in_trip & (new_vehicle | ~prev_in | member.cut)
    first = np.flatnonzero(starts)
    ends = np.ones(m, dtype=bool)
    np.logical_or(starts[1:], ~in_trip[1:], out=ends[:-1])
    last = np.flatnonzero(in_trip & ends)
    if member.by_events is None:
        from_events = np.zeros(first.shape[0], dtype=bool)
    else:
        from_events = member.by_events[first]
    # The parked fix before a trip (where it stood) and after it (where it stopped); a gap
    # separates a motion trip from both.
    before = np.maximum(first - 1, 0)
    stood_before = (first > 0) & ~new_vehicle[first] & ~in_trip[before]
    stood_before &= from_events | ~gap[first]
    after = np.minimum(last + 1, max(m - 1, 0))
    stopped_after = (last + 1 < m) & ~new_vehicle[after] & ~in_trip[after]
    stopped_after &= from_events | ~gap[after]
    return _Bounds(first, last, from_events, before, after, stood_before, stopped_after)


def _distance_km(
    kept: KeptFixes, motion: _Motion, trips: _Bounds, rules: TripRules
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per trip, the distance and the noise variance ``v`` (m^2, :func:`fleet.noise.trip_noise_m2`).

    The distance sums the steps a trip owns, from the one reaching its first fix (or leaving
    the fix before it) to the one reaching its last fix (or the fix after it), except steps
    between two non-moving fixes; each step no longer than ``noise_max_step_s`` has the noise's
    expected contribution removed (:func:`fleet.noise.debiased_km`)."""
    m = len(kept)
    moving_step = motion.moving.copy()
    moving_step[1:] |= motion.moving[:-1]
    if rules.noise_max_step_s <= 0 or not len(trips):
        v = np.zeros(len(trips), dtype=np.float64)
        return trips.owned_sum(np.where(moving_step, kept.step_km, 0.0)), v
    # Steps too long to correct (rare: after a dropped fix or a gap), and the windows
    # holding one.
    long_step = kept.dt_s > rules.noise_max_step_s
    long_steps = np.flatnonzero(long_step)
    near = long_step.copy()
    near[1:] |= long_step[:-1]
    near[:-1] |= long_step[1:]
    unusable = np.flatnonzero(near)
    lo, hi = trips.owned_steps()
    v, _ = trip_noise_m2(
        window_w2(kept.east_rad, kept.north_rad),
        moving_step,
        unusable,
        lo,
        hi,
        EARTH_RADIUS_KM * 1000.0,
        rules.noise_min_windows,
        overwrite=True,
    )
    per_step = trips.spread(v * 1e-6, m)
    per_step[long_steps] = 0.0
    steps = np.where(moving_step, kept.step_km, 0.0)
    return trips.owned_sum(debiased_km(steps, per_step, out=steps)), v


@dataclass
class _Ends:
    """Per trip: start and end time, and the kept fixes giving its start and end place."""

    start_ms: NDArray[np.int64]
    end_ms: NDArray[np.int64]
    start_at: NDArray[np.int64]
    end_at: NDArray[np.int64]
    ride: NDArray[np.int64]


def _ends(
    kept: KeptFixes,
    motion: _Motion,
    member: _Membership,
    trips: _Bounds,
    rides: Rides | None,
) -> _Ends:
    """A motion trip runs from its first fix to the parked fix where it stopped; a ride trip
    has its ride's times, a lost event replaced by the first (last) moving fix."""
    t = kept.t_ms
    start_at = np.where(trips.stood_before, trips.before, trips.first)
    end_at = np.where(trips.stopped_after, trips.after, trips.last)
    ends = _Ends(
        start_ms=t[trips.first].copy(),
        end_ms=t[end_at].copy(),
        start_at=start_at,
        end_at=end_at,
        ride=np.full(len(trips), -1, dtype=np.int64),
    )
    ev = trips.from_events
    if rides is None or member.ride_of is None or not ev.any():
        return ends
    r = member.ride_of[trips.first[ev]]
    ends.ride[ev] = r
    ends.start_ms[ev] = rides.start_ms[r]
    ends.end_ms[ev] = rides.end_ms[r]
    start_lost, end_lost = rides.start_inferred[r], rides.end_inferred[r]
    if start_lost.any() or end_lost.any():
        bounds = trips.reduce_at(len(kept))
        position = np.arange(len(kept), dtype=np.int64)
        first_moving = np.minimum.reduceat(np.where(motion.moving, position, _NONE), bounds)
        last_moving = np.maximum.reduceat(np.where(motion.moving, position, -1), bounds)
        first_moving = np.where(first_moving[0::2] == _NONE, trips.first, first_moving[0::2])
        last_moving = np.where(last_moving[0::2] < 0, trips.last, last_moving[0::2])
        first_moving, last_moving = first_moving[ev], last_moving[ev]
        ends.start_ms[ev] = np.where(start_lost, t[first_moving], ends.start_ms[ev])
        ends.end_ms[ev] = np.where(end_lost, t[last_moving], ends.end_ms[ev])
        ends.start_at[ev] = np.where(start_lost, first_moving, ends.start_at[ev])
        ends.end_at[ev] = np.where(end_lost, last_moving, ends.end_at[ev])
    return ends


def _dropped_per_trip(
    track: Track,
    reason: NDArray[np.int8],
    vehicle: NDArray[np.int64],
    start_ms: NDArray[np.int64],
    end_ms: NDArray[np.int64],
) -> NDArray[np.int64]:
    """Dropped fixes inside each trip's time span, per reason, shape (k, len(DROP_REASONS))."""
    r = len(DROP_REASONS)
    k = vehicle.shape[0]
    dropped = np.flatnonzero(reason > 0)
    if dropped.size == 0 or k == 0:
        return np.zeros((k, r), dtype=np.int64)
    key = time_key(track.vehicle[dropped], track.t_ms[dropped])
    trip = np.searchsorted(time_key(vehicle, start_ms), key, side="right") - 1
    inside = (trip >= 0) & (key <= time_key(vehicle, end_ms)[np.maximum(trip, 0)])
    cell = trip[inside] * r + (reason[dropped][inside].astype(np.int64) - 1)
    return np.bincount(cell, minlength=k * r).reshape(k, r).astype(np.int64)


def segment(track: Track, rules: TripRules, rides: Rides | None = None) -> Segmentation:
    """Cut fixes into trips: ride events where the vehicle's fleet sends them, else motion.

    Parameters
    ----------
    track : Track
        Fixes of many vehicles in (vehicle, time) order.
    rules : TripRules
    rides : Rides, optional
        Ride intervals (:func:`fleet.rides.pair_ride_events`). A vehicle with at least one
        ride here has its trips defined by its rides; every other vehicle by motion.

    Returns
    -------
    Segmentation

    Notes
    -----
    On the kept fixes (:func:`fleet.fixes.keep_fixes`):

    * ``moving``: reported speed (else implied speed) >= ``moving_speed_kmh``;
    * ``gap``: more than ``max_gap_s`` since the previous fix of the same vehicle;
    * ``parked``: a non-moving fix in a run of non-moving fixes that lasts
      ``min_parking_s`` or more (measured to the next moving fix), or that a gap ends;
    * motion trips: maximal runs of non-parked fixes, cut by ``new_vehicle | gap``; kept
      when at least ``min_trip_km`` and ``min_trip_s`` long. A trip runs from its first fix
      to the first parked fix after it (where the vehicle stopped), and its distance
      includes the step from the parked fix before it (where the vehicle stood);
    * ride trips: the fixes inside ``[start, end]`` of a ride; a missing start (end) is
      replaced by the first (last) moving fix;
    * distance: sum of haversine steps owned by the trip, except steps between two
      non-moving fixes (no distance from jitter while parked or at a light), each step
      at most ``noise_max_step_s`` long without the GPS noise's expected contribution,
      the noise measured in the trip's own fixes (:mod:`fleet.noise`);
    * harsh braking and acceleration: events starting at the steps the distance counts
      (:func:`fleet.behaviour.harsh_steps`).

    Examples
    --------
    >>> t_s = np.arange(0, 800, 10)  # parked 200 s, rides 300 s north, parks again
    >>> riding = (t_s >= 200) & (t_s < 500)
    >>> lat = 32.24 + np.cumsum(np.where(riding, 5e-5, 0.0))
    >>> speed = np.where(riding, 20.0, 0.0)
    >>> track = Track.from_arrays(np.ones(80), t_s * 1000, lat, np.full(80, -7.95), speed)
    >>> seg = segment(track, TripRules())
    >>> len(seg.trips), int(seg.trips.start_ms[0]), int(seg.trips.end_ms[0])
    (1, 200000, 500000)
    """
    reason, kept = keep_fixes(track, rules)
    motion = _motion(track, kept, rules)
    member = _membership(kept, motion, rides)
    bounds = _bounds(kept, motion, member)
    distance, noise_m2 = _distance_km(kept, motion, bounds, rules)
    ends = _ends(kept, motion, member, bounds, rides)
    duration = np.asarray((ends.end_ms - ends.start_ms) * 1e-3, dtype=np.float64)
    if len(bounds):
        max_speed = np.maximum.reduceat(motion.speed_kmh, bounds.reduce_at(len(kept)))[0::2]
    else:
        max_speed = np.zeros(0, dtype=np.float64)

    long_enough = (distance >= rules.min_trip_km) & (duration >= rules.min_trip_s)
    sel = np.flatnonzero(bounds.from_events | long_enough)
    harsh = harsh_steps(
        motion.speed_kmh, motion.reported, kept.dt_s, kept.step_km, kept.new_vehicle, rules
    )
    vehicle = kept.vehicle[bounds.first[sel]]
    start_ms, end_ms = ends.start_ms[sel], ends.end_ms[sel]
    dur = duration[sel]
    dist = distance[sel]
    avg = np.zeros_like(dist)
    np.divide(dist * 3600.0, dur, out=avg, where=dur > 0)
    trips = TripArrays(
        vehicle=vehicle,
        source=bounds.from_events.astype(np.int8)[sel],
        ride=ends.ride[sel],
        start_ms=start_ms,
        end_ms=end_ms,
        start_idx=kept.in_track(ends.start_at[sel]),
        end_idx=kept.in_track(ends.end_at[sel]),
        first_idx=kept.in_track(bounds.first[sel]),
        last_idx=kept.in_track(bounds.last[sel]),
        distance_km=dist,
        gps_sigma_m=np.sqrt(noise_m2[sel] / 2.0),
        duration_s=dur,
        avg_speed_kmh=avg,
        max_speed_kmh=max_speed[sel].astype(np.float64),
        fixes_used=(bounds.last - bounds.first + 1).astype(np.int64)[sel],
        dropped=_dropped_per_trip(track, reason, vehicle, start_ms, end_ms),
        harsh_braking=bounds.owned_sum(harsh.braking.astype(np.int64))[sel],
        harsh_acceleration=bounds.owned_sum(harsh.acceleration.astype(np.int64))[sel],
    )
    return Segmentation(reason=reason, trips=trips)
