"""Trip segmentation over all vehicles at once: fix filter, motion and ride-event trips.

Every function works on whole arrays holding many vehicles' fixes in (vehicle, time) order.
The rules are named boolean masks (``new_vehicle``, ``gap``, ``parked``, ``ride``...) OR-ed
into ``starts``; ``np.cumsum(starts)`` numbers the trips; ``np.bincount`` and
``np.*.reduceat`` give per-trip totals. There is no Python loop per fix or per vehicle (the
spike filter repeats a whole-array pass ``TripRules.jump_passes`` times).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fleet.distance import pair_km, step_km
from fleet.errors import TrackError
from fleet.rules import TripRules

__all__ = [
    "DROP_REASONS",
    "SOURCES",
    "Rides",
    "Segmentation",
    "Track",
    "TripArrays",
    "energy_kwh",
    "filter_fixes",
    "odometer_check",
    "pair_ride_events",
    "segment",
]

DROP_REASONS: tuple[str, ...] = ("position", "hdop", "jump")
"""Why a fix was dropped; ``Segmentation.reason`` holds ``index + 1`` (0 = kept).

``position``: latitude or longitude not a finite number; ``hdop``: HDOP above
``TripRules.max_hdop``; ``jump``: implied speed from the previous and to the next kept fix
both above ``TripRules.max_jump_kmh``."""

SOURCES: tuple[str, ...] = ("motion", "events")
"""What defined a trip; ``TripArrays.source`` holds the index."""

_TIME_BITS = 42  # (vehicle, t_ms) packed into one int64 key: t_ms < 2**42 (until 2109)
_T_MAX = (1 << _TIME_BITS) - 1
_BIG = np.iinfo(np.int64).max


def _f64(values: ArrayLike | None, n: int, name: str) -> NDArray[np.float64]:
    if values is None:
        return np.full(n, np.nan)
    out = np.asarray(values, dtype=np.float64)
    if out.shape != (n,):
        raise TrackError(f"{name} has shape {out.shape}; expected ({n},) like vehicle")
    return out


@dataclass(frozen=True)
class Track:
    """Fixes of many vehicles, sorted by vehicle then time; absent values are NaN.

    Attributes
    ----------
    vehicle : ndarray of int64, shape (n,)
        Vehicle key (``vehicles.vehicle_key``), 0 <= key < 2**21.
    t_ms : ndarray of int64, shape (n,)
        Device fix time, ms since the Unix epoch (UTC), strictly increasing per vehicle.
    lat, lon : ndarray of float64, shape (n,)
        WGS84 degrees.
    speed_kmh, hdop, soc_pct, odometer_km : ndarray of float64, shape (n,)
        Reported speed (km/h), HDOP, state of charge (%) and odometer (km); NaN when absent.
    """

    vehicle: NDArray[np.int64]
    t_ms: NDArray[np.int64]
    lat: NDArray[np.float64]
    lon: NDArray[np.float64]
    speed_kmh: NDArray[np.float64]
    hdop: NDArray[np.float64]
    soc_pct: NDArray[np.float64]
    odometer_km: NDArray[np.float64]

    @classmethod
    def from_arrays(
        cls,
        vehicle: ArrayLike,
        t_ms: ArrayLike,
        lat: ArrayLike,
        lon: ArrayLike,
        speed_kmh: ArrayLike | None = None,
        hdop: ArrayLike | None = None,
        soc_pct: ArrayLike | None = None,
        odometer_km: ArrayLike | None = None,
    ) -> Track:
        """Build a track, converting once and checking shapes and (vehicle, time) order.

        Raises
        ------
        TrackError
            When shapes differ, a key or time is out of range, or the order is wrong.
        """
        veh = np.asarray(vehicle, dtype=np.int64)
        t = np.asarray(t_ms, dtype=np.int64)
        if veh.ndim != 1 or t.shape != veh.shape:
            raise TrackError(f"vehicle {veh.shape} and t_ms {t.shape} must be equal 1-d shapes")
        n = veh.shape[0]
        track = cls(
            veh,
            t,
            _f64(lat, n, "lat"),
            _f64(lon, n, "lon"),
            _f64(speed_kmh, n, "speed_kmh"),
            _f64(hdop, n, "hdop"),
            _f64(soc_pct, n, "soc_pct"),
            _f64(odometer_km, n, "odometer_km"),
        )
        if n:
            if veh.min() < 0 or veh.max() >= 1 << (63 - _TIME_BITS):
                raise TrackError("vehicle keys must lie in [0, 2**21)")
            if t.min() < 0 or t.max() > _T_MAX:
                raise TrackError("t_ms must lie in [0, 2**42) ms (1970 to 2109)")
            dv = np.diff(veh)
            if np.any((dv < 0) | ((dv == 0) & (np.diff(t) <= 0))):
                raise TrackError(
                    "fixes must be sorted by vehicle, then by strictly increasing t_ms"
                )
        return track

    @classmethod
    def from_unsorted(
        cls,
        vehicle: ArrayLike,
        t_ms: ArrayLike,
        lat: ArrayLike,
        lon: ArrayLike,
        speed_kmh: ArrayLike | None = None,
        hdop: ArrayLike | None = None,
        soc_pct: ArrayLike | None = None,
        odometer_km: ArrayLike | None = None,
    ) -> Track:
        """Like :meth:`from_arrays`, for fixes in any order and possibly repeated: sorts by
        (vehicle, time) and keeps the first of fixes sharing a vehicle and time (the store's
        rule: a point is identified by vehicle and device timestamp)."""
        veh = np.asarray(vehicle, dtype=np.int64)
        t = np.asarray(t_ms, dtype=np.int64)
        order = np.lexsort((t, veh))
        veh, t = veh[order], t[order]
        first = np.ones(veh.shape[0], dtype=bool)
        first[1:] = (veh[1:] != veh[:-1]) | (t[1:] != t[:-1])
        pick = order[first]

        def take(values: ArrayLike | None) -> NDArray[np.float64] | None:
            return None if values is None else np.asarray(values, dtype=np.float64)[pick]

        return cls.from_arrays(
            veh[first], t[first], np.asarray(lat, dtype=np.float64)[pick],
            np.asarray(lon, dtype=np.float64)[pick], take(speed_kmh), take(hdop),
            take(soc_pct), take(odometer_km),
        )  # fmt: skip

    def __len__(self) -> int:
        return int(self.vehicle.shape[0])


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
    """
    veh = np.asarray(vehicle, dtype=np.int64)
    t = np.asarray(t_ms, dtype=np.int64)
    st = np.asarray(is_start, dtype=bool)
    e = veh.shape[0]
    rid = np.asarray(ride_id if ride_id is not None else [None] * e, dtype=object)
    who = np.asarray(rider if rider is not None else [None] * e, dtype=object)
    order = np.lexsort((st, t, veh))
    veh, t, st, rid, who = veh[order], t[order], st[order], rid[order], who[order]
    same_next = np.zeros(e, dtype=bool)
    same_next[:-1] = veh[1:] == veh[:-1]
    next_is_end = np.zeros(e, dtype=bool)
    next_is_end[:-1] = ~st[1:]
    same_prev = np.zeros(e, dtype=bool)
    same_prev[1:] = same_next[:-1]
    prev_is_start = np.zeros(e, dtype=bool)
    prev_is_start[1:] = st[:-1]

    starts = np.flatnonzero(st)
    matched = same_next[starts] & next_is_end[starts]
    nxt = np.minimum(starts + 1, max(e - 1, 0))
    end_ms = np.where(matched, t[nxt], np.where(same_next[starts], t[nxt] - 1, np.int64(_T_MAX)))
    rid_s = np.where(matched & (rid[starts] == None), rid[nxt], rid[starts])  # noqa: E711
    who_s = np.where(matched & (who[starts] == None), who[nxt], who[starts])  # noqa: E711

    orphans = np.flatnonzero(~st & ~(same_prev & prev_is_start))
    prv = np.maximum(orphans - 1, 0)
    o_start = np.where(same_prev[orphans], t[prv] + 1, np.int64(0))

    out_v = np.concatenate([veh[starts], veh[orphans]])
    out_s = np.concatenate([t[starts], o_start])
    out_e = np.concatenate([end_ms, t[orphans]])
    s_inf = np.concatenate([np.zeros(starts.size, bool), np.ones(orphans.size, bool)])
    e_inf = np.concatenate([~matched, np.zeros(orphans.size, bool)])
    out_id = np.concatenate([rid_s, rid[orphans]]).astype(object)
    out_who = np.concatenate([who_s, who[orphans]]).astype(object)
    sort = np.lexsort((out_s, out_v))
    return Rides(
        out_v[sort],
        out_s[sort],
        out_e[sort],
        s_inf[sort],
        e_inf[sort],
        out_id[sort],
        out_who[sort],
    )


@dataclass(frozen=True)
class TripArrays:
    """One row per trip, in (vehicle, start) order; indices point into the input track.

    Attributes
    ----------
    vehicle : int64 (k,)
    source : int8 (k,)
        Index into :data:`SOURCES`.
    ride : int64 (k,)
        Index into the :class:`Rides` given, or -1 for motion trips.
    start_ms, end_ms : int64 (k,)
        Trip start and end, ms since the epoch.
    start_idx, end_idx : int64 (k,)
        The fixes giving the start and end place (and SoC and odometer bounds).
    first_idx, last_idx : int64 (k,)
        First and last fix inside the trip.
    distance_km : float64 (k,)
        Haversine distance over the kept fixes; steps between two non-moving fixes count 0.
    duration_s, avg_speed_kmh, max_speed_kmh : float64 (k,)
    fixes_used : int64 (k,)
        Kept fixes inside the trip.
    dropped : int64 (k, len(DROP_REASONS))
        Dropped fixes inside the trip's time span, per reason.
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
    duration_s: NDArray[np.float64]
    avg_speed_kmh: NDArray[np.float64]
    max_speed_kmh: NDArray[np.float64]
    fixes_used: NDArray[np.int64]
    dropped: NDArray[np.int64]

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


def _pack(vehicle: NDArray[np.int64], t_ms: NDArray[np.int64]) -> NDArray[np.int64]:
    return np.asarray((vehicle << _TIME_BITS) | t_ms, dtype=np.int64)


def _steps(
    vehicle: NDArray[np.int64],
    t_ms: NDArray[np.int64],
    lat: NDArray[np.float64],
    lon: NDArray[np.float64],
) -> tuple[NDArray[np.bool_], NDArray[np.float64], NDArray[np.float64]]:
    m = vehicle.shape[0]
    new_vehicle = np.ones(m, dtype=bool)
    np.not_equal(vehicle[1:], vehicle[:-1], out=new_vehicle[1:])
    seg = step_km(lat, lon)
    seg[new_vehicle] = 0.0
    dt = np.zeros(m, dtype=np.float64)
    if m > 1:
        np.multiply(t_ms[1:] - t_ms[:-1], 1e-3, out=dt[1:])
    dt[new_vehicle] = 0.0
    return new_vehicle, seg, dt


def _implied_kmh(seg: NDArray[np.float64], dt: NDArray[np.float64]) -> NDArray[np.float64]:
    out = np.zeros_like(seg)
    np.divide(seg, dt, out=out, where=dt > 0)
    out *= 3600.0
    return out


@dataclass
class _Kept:
    keep: NDArray[np.int64] | None  # indices into the track; None when every fix is kept
    vehicle: NDArray[np.int64]
    t_ms: NDArray[np.int64]
    new_vehicle: NDArray[np.bool_]
    seg: NDArray[np.float64]
    dt: NDArray[np.float64]
    implied: NDArray[np.float64]


def _filter(track: Track, rules: TripRules) -> tuple[NDArray[np.int8], _Kept]:
    """Drop fixes by reason; steps, times and implied speeds between consecutive kept fixes.

    The steps are computed once over all fixes; where fixes are dropped, only the steps of
    the fixes that follow them are measured again (to the previous kept fix), and the
    arrays are compressed to the kept fixes once, at the end.
    """
    n = len(track)
    vehicle, t, lat, lon = track.vehicle, track.t_ms, track.lat, track.lon
    reason = np.zeros(n, dtype=np.int8)
    bad = ~(np.isfinite(lat) & np.isfinite(lon))
    if bad.any():
        reason[bad] = 1
    poor = track.hdop > rules.max_hdop
    poor &= reason == 0
    reason[poor] = 2
    new_vehicle, seg, dt = _steps(vehicle, t, lat, lon)
    implied = _implied_kmh(seg, dt)
    kept = reason == 0
    all_kept = bool(kept.all())
    positions = np.flatnonzero(kept) if not all_kept else None

    def remeasure(after: NDArray[np.int64]) -> None:
        """Re-measure the steps of the kept fixes following the dropped fixes ``after``."""
        assert positions is not None  # for mypy: only called once something was dropped
        at = np.searchsorted(positions, after, side="right")
        at = np.unique(at[at < positions.size])
        cur = positions[at]
        prv = positions[np.maximum(at - 1, 0)]
        fresh = (at == 0) | (vehicle[prv] != vehicle[cur])
        new_vehicle[cur] = fresh
        step = pair_km(lat[prv], lon[prv], lat[cur], lon[cur])
        seg[cur] = np.where(fresh, 0.0, step)
        dt[cur] = np.where(fresh, 0.0, (t[cur] - t[prv]) * 1e-3)
        implied[cur] = _implied_kmh(seg[cur], dt[cur])

    if not all_kept:
        remeasure(np.flatnonzero(~kept))
    for _ in range(int(rules.jump_passes)):
        fast_in = implied > rules.max_jump_kmh
        fast_in &= kept
        spike = np.zeros(n, dtype=bool)
        np.logical_and(fast_in[:-1], fast_in[1:], out=spike[:-1])
        if positions is not None:
            # A kept fix followed by dropped ones: its next kept fix is further on.
            gap_after = np.flatnonzero(kept[:-1] & ~kept[1:])
            nxt = np.searchsorted(positions, gap_after, side="right")
            ok = nxt < positions.size
            spike[gap_after[ok]] = fast_in[gap_after[ok]] & fast_in[positions[nxt[ok]]]
        if not spike.any():
            break
        reason[spike] = 3
        kept &= ~spike
        positions = np.flatnonzero(kept)
        remeasure(np.flatnonzero(spike))
    if positions is None:
        return reason, _Kept(None, vehicle, t, new_vehicle, seg, dt, implied)
    return reason, _Kept(
        positions,
        vehicle[kept],
        t[kept],
        new_vehicle[kept],
        seg[kept],
        dt[kept],
        implied[kept],
    )


def filter_fixes(track: Track, rules: TripRules) -> NDArray[np.int8]:
    """Why each fix is dropped, or 0 when it is kept.

    Parameters
    ----------
    track : Track
    rules : TripRules

    Returns
    -------
    ndarray of int8, shape (n,)
        0 for a kept fix, else ``DROP_REASONS.index(reason) + 1``.

    Notes
    -----
    In order: a non-finite position (``position``); ``hdop > max_hdop`` (``hdop``); then
    ``jump_passes`` times, among the fixes still kept, a fix whose implied speed from the
    previous fix and to the next fix of the same vehicle both exceed ``max_jump_kmh``
    (``jump``). A lone spike is dropped and its neighbours are kept.

    Examples
    --------
    >>> t = Track.from_arrays([1, 1, 1], [0, 10_000, 20_000], [32.0, 32.5, 32.0], [-7.9] * 3)
    >>> filter_fixes(t, TripRules()).tolist()
    [0, 3, 0]
    """
    return _filter(track, rules)[0]


def segment(track: Track, rules: TripRules, rides: Rides | None = None) -> Segmentation:
    """Cut fixes into trips: ride events where the vehicle's fleet sends them, else motion.

    Parameters
    ----------
    track : Track
        Fixes of many vehicles in (vehicle, time) order.
    rules : TripRules
    rides : Rides, optional
        Ride intervals (:func:`pair_ride_events`). A vehicle with at least one ride here has
        its trips defined by its rides; every other vehicle by motion.

    Returns
    -------
    Segmentation

    Notes
    -----
    On the kept fixes (:func:`filter_fixes`):

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
      non-moving fixes (no distance from jitter while parked or at a light).

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
    reason, kept = _filter(track, rules)
    k_idx = kept.keep
    v, t = kept.vehicle, kept.t_ms
    m = v.shape[0]
    new_vehicle, seg, dt = kept.new_vehicle, kept.seg, kept.dt

    speed = track.speed_kmh if k_idx is None else track.speed_kmh[k_idx]
    spd = np.where(np.isfinite(speed), speed, kept.implied)
    moving = spd >= rules.moving_speed_kmh
    gap = dt > rules.max_gap_s
    brk = new_vehicle | gap
    stat = ~moving

    # Runs of non-moving fixes, and which of them are parkings.
    prev_stat = np.zeros(m, dtype=bool)
    prev_stat[1:] = stat[:-1]
    run_start = stat & (brk | ~prev_stat)
    nxt_cut = np.ones(m, dtype=bool)
    np.logical_or(brk[1:], moving[1:], out=nxt_cut[:-1])
    run_last = stat & nxt_cut
    rs = np.flatnonzero(run_start)
    rl = np.flatnonzero(run_last)
    after = np.minimum(rl + 1, max(m - 1, 0))
    has_after = rl + 1 < m
    resumed = has_after & ~brk[after]
    by_gap = has_after & gap[after]
    run_end_t = np.where(resumed, t[after], t[rl])
    parked_run = ((run_end_t - t[rs]) >= rules.min_parking_s * 1000.0) | by_gap
    up = np.zeros(m + 1, dtype=np.int8)
    up[rs[parked_run]] = 1
    down = np.zeros(m + 1, dtype=np.int8)
    down[rl[parked_run] + 1] = 1
    up -= down
    parked = np.cumsum(up[:m], dtype=np.int8).view(bool)

    # Ride intervals for the vehicles whose fleet sends ride events.
    with_rides = rides is not None and len(rides) > 0
    if with_rides and rides is not None:
        key = _pack(v, t)
        r_start = _pack(rides.vehicle, rides.start_ms)
        r_end = _pack(rides.vehicle, rides.end_ms)
        j = np.searchsorted(r_start, key, side="right") - 1
        jc = np.maximum(j, 0)
        ride_of = np.where((j >= 0) & (key <= r_end[jc]), j, -1)
        by_events = np.isin(v, np.unique(rides.vehicle))
        in_trip = np.where(by_events, ride_of >= 0, ~parked)
        prev_ride = np.full(m, -1, dtype=np.int64)
        prev_ride[1:] = ride_of[:-1]
        cut = np.where(by_events, ride_of != prev_ride, gap)
    else:
        in_trip = ~parked
        cut = gap
    prev_in = np.zeros(m, dtype=bool)
    prev_in[1:] = in_trip[:-1]
    starts = in_trip & (new_vehicle | ~prev_in | cut)
    first = np.flatnonzero(starts)
    k = first.shape[0]
    ends = np.ones(m, dtype=bool)
    np.logical_or(starts[1:], ~in_trip[1:], out=ends[:-1])
    last = np.flatnonzero(in_trip & ends)
    ev = by_events[first] if with_rides else np.zeros(k, dtype=bool)

    # The parked fix before a trip (where it stood) and after it (where it stopped).
    before = np.maximum(first - 1, 0)
    lead = (first > 0) & ~new_vehicle[first] & ~in_trip[before] & (ev | ~gap[first])
    after_t = np.minimum(last + 1, max(m - 1, 0))
    tail = (last + 1 < m) & ~new_vehicle[after_t] & ~in_trip[after_t]
    tail &= ev | ~gap[after_t]

    # Distance: the steps a trip owns, from the one reaching its first fix (or leaving the
    # fix before it) to the one reaching its last fix (or the fix after it), except steps
    # between two non-moving fixes.
    moving_step = moving.copy()
    moving_step[1:] |= moving[:-1]
    # (A sum over each trip's own range, never a difference of running totals: the result
    # must not depend on where the loaded window starts, or rebuilds would churn.)
    counted = np.zeros(m + 1, dtype=np.float64)  # one trailing 0: every bound is valid
    np.copyto(counted[:m], seg, where=moving_step)
    lo = first + 1 - lead
    hi = last + tail + 1
    pairs = np.empty(2 * k, dtype=np.int64)
    pairs[0::2] = lo
    pairs[1::2] = hi
    distance = np.zeros(k, dtype=np.float64)
    if k:
        distance = np.where(lo < hi, np.add.reduceat(counted, pairs)[0::2], 0.0)

    # Per-trip maxima over the fixes inside each trip: [first, last] in kept order.
    bounds = np.empty(2 * k, dtype=np.int64)
    bounds[0::2] = first
    bounds[1::2] = last + 1
    if k and bounds[-1] == m:
        bounds = bounds[:-1]
    max_speed = np.maximum.reduceat(spd, bounds)[0::2] if k else np.zeros(0, dtype=np.float64)
    fixes_used = (last - first + 1).astype(np.int64)

    start_i = np.where(lead, before, first)
    end_i = np.where(tail, after_t, last)
    start_ms = t[first].copy()
    end_ms = t[end_i].copy()
    ride = np.full(k, -1, dtype=np.int64)
    if with_rides and rides is not None and ev.any():
        r = ride_of[first[ev]]
        ride[ev] = r
        s_inf, e_inf = rides.start_inferred[r], rides.end_inferred[r]
        start_ms[ev] = rides.start_ms[r]
        end_ms[ev] = rides.end_ms[r]
        if s_inf.any() or e_inf.any():
            idx = np.arange(m, dtype=np.int64)
            fm = np.minimum.reduceat(np.where(moving, idx, _BIG), bounds)[0::2]
            lm = np.maximum.reduceat(np.where(moving, idx, -1), bounds)[0::2]
            first_moving = np.where(fm == _BIG, first, fm)[ev]
            last_moving = np.where(lm < 0, last, lm)[ev]
            start_ms[ev] = np.where(s_inf, t[first_moving], start_ms[ev])
            end_ms[ev] = np.where(e_inf, t[last_moving], end_ms[ev])
            start_i[ev] = np.where(s_inf, first_moving, start_i[ev])
            end_i[ev] = np.where(e_inf, last_moving, end_i[ev])
    duration = np.asarray((end_ms - start_ms) * 1e-3, dtype=np.float64)
    source = ev.astype(np.int8)

    keep_trip = ev | ((distance >= rules.min_trip_km) & (duration >= rules.min_trip_s))
    sel = np.flatnonzero(keep_trip)

    def orig(i: NDArray[np.int64]) -> NDArray[np.int64]:
        return i if k_idx is None else k_idx[i]

    t_veh = v[first[sel]]
    s_ms, e_ms = start_ms[sel], end_ms[sel]
    dropped = _dropped_per_trip(track, reason, t_veh, s_ms, e_ms)
    dur = duration[sel]
    dist = distance[sel]
    avg = np.zeros_like(dist)
    np.divide(dist * 3600.0, dur, out=avg, where=dur > 0)
    trips = TripArrays(
        vehicle=t_veh,
        source=source[sel],
        ride=ride[sel],
        start_ms=s_ms,
        end_ms=e_ms,
        start_idx=orig(start_i[sel]),
        end_idx=orig(end_i[sel]),
        first_idx=orig(first[sel]),
        last_idx=orig(last[sel]),
        distance_km=dist,
        duration_s=dur,
        avg_speed_kmh=avg,
        max_speed_kmh=max_speed[sel].astype(np.float64),
        fixes_used=fixes_used[sel],
        dropped=dropped,
    )
    return Segmentation(reason=reason, trips=trips)


def _dropped_per_trip(
    track: Track,
    reason: NDArray[np.int8],
    vehicle: NDArray[np.int64],
    start_ms: NDArray[np.int64],
    end_ms: NDArray[np.int64],
) -> NDArray[np.int64]:
    r = len(DROP_REASONS)
    k = vehicle.shape[0]
    d = np.flatnonzero(reason > 0)
    if d.size == 0 or k == 0:
        return np.zeros((k, r), dtype=np.int64)
    key = _pack(track.vehicle[d], track.t_ms[d])
    j = np.searchsorted(_pack(vehicle, start_ms), key, side="right") - 1
    hit = (j >= 0) & (key <= _pack(vehicle, end_ms)[np.maximum(j, 0)])
    flat = j[hit] * r + (reason[d][hit].astype(np.int64) - 1)
    return np.bincount(flat, minlength=k * r).reshape(k, r).astype(np.int64)


def odometer_check(
    distance_km: ArrayLike,
    odo_start_km: ArrayLike,
    odo_end_km: ArrayLike,
    rules: TripRules,
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """The odometer's distance per trip, and whether it disagrees with the GPS distance.

    Parameters
    ----------
    distance_km : array_like of float, shape (k,)
        GPS (haversine) distance, km.
    odo_start_km, odo_end_km : array_like of float, shape (k,)
        Odometer at the trip's start and end fixes, km; NaN when absent.

    Returns
    -------
    odometer_km : ndarray of float64, shape (k,)
        ``odo_end - odo_start``, NaN where either is absent or the difference is negative.
    flagged : ndarray of bool, shape (k,)
        ``|distance - odometer| > odometer_tolerance * odometer`` and
        ``> odometer_floor_km``; False where the odometer is absent.

    Examples
    --------
    >>> odometer_check([5.0, 5.0], [100.0, 100.0], [105.2, 107.0], TripRules())[1].tolist()
    [False, True]
    """
    dist = np.asarray(distance_km, dtype=np.float64)
    odo = np.asarray(odo_end_km, dtype=np.float64) - np.asarray(odo_start_km, dtype=np.float64)
    odo = np.where(odo >= 0, odo, np.nan)
    diff = np.abs(dist - odo)
    flagged = np.isfinite(odo) & (diff > rules.odometer_tolerance * odo)
    flagged &= diff > rules.odometer_floor_km
    return odo, flagged


def energy_kwh(
    soc_start_pct: ArrayLike, soc_end_pct: ArrayLike, battery_kwh: ArrayLike
) -> NDArray[np.float64]:
    """Energy drawn from the battery during each trip.

    Parameters
    ----------
    soc_start_pct, soc_end_pct : array_like of float, shape (k,)
        State of charge at the trip's start and end fixes, %; NaN when absent.
    battery_kwh : array_like of float, shape (k,)
        Usable capacity of each trip's battery, kWh.

    Returns
    -------
    ndarray of float64, shape (k,)
        ``max(soc_start - soc_end, 0) / 100 * battery_kwh`` in kWh; NaN when a SoC is absent.

    Notes
    -----
    A trip never charges: a SoC that rose (regenerative braking, sensor noise, a charger
    plugged in at the end) counts as 0, so charging is never subtracted from consumption.

    Examples
    --------
    >>> energy_kwh([80.0, 50.0], [70.0, 52.0], [2.0, 2.0]).tolist()
    [0.2, 0.0]
    """
    drop = np.asarray(soc_start_pct, dtype=np.float64) - np.asarray(soc_end_pct, np.float64)
    return np.asarray(np.maximum(drop, 0.0) / 100.0 * np.asarray(battery_kwh, np.float64))
