"""The fix filter: which fixes to drop and why, and the steps between the fixes kept.

A fix is dropped for a non-finite position, a poor HDOP, or as a spike (an implied speed
from the previous and to the next kept fix both too high). The steps (distance, time and
implied speed from the previous kept fix of the same vehicle) are computed once over all
fixes; where fixes are dropped, only the steps of the fixes that follow them are measured
again, and the arrays are compressed to the kept fixes once, at the end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fleet.distance import pair_km, pair_vectors, step_vectors
from fleet.rules import TripRules
from fleet.track import Track

__all__ = ["DROP_REASONS", "KeptFixes", "keep_fixes"]

DROP_REASONS: tuple[str, ...] = ("position", "hdop", "jump")
"""Why a fix was dropped; ``Segmentation.reason`` holds ``index + 1`` (0 = kept).

``position``: latitude or longitude not a finite number; ``hdop``: HDOP above
``TripRules.max_hdop``; ``jump``: implied speed from the previous and to the next kept fix
both above ``TripRules.max_jump_kmh``."""

_POSITION, _HDOP, _JUMP = (DROP_REASONS.index(r) + 1 for r in ("position", "hdop", "jump"))


@dataclass(frozen=True)
class KeptFixes:
    """The kept fixes, with the step from each one's previous kept fix of the same vehicle.

    Attributes
    ----------
    index : ndarray of int64, shape (m,), or None
        Positions of the kept fixes in the track; None when every fix is kept.
    vehicle, t_ms : ndarray of int64, shape (m,)
    new_vehicle : ndarray of bool, shape (m,)
        The first kept fix of its vehicle (its step is 0).
    step_km, dt_s, implied_kmh : ndarray of float64, shape (m,)
        Distance (km), time (s) and implied speed (km/h) from the previous kept fix.
    east_rad, north_rad : ndarray of float32, shape (m,)
        The same step's east and north components, radians (:func:`fleet.distance.step_vectors`).
    """

    index: NDArray[np.int64] | None
    vehicle: NDArray[np.int64]
    t_ms: NDArray[np.int64]
    new_vehicle: NDArray[np.bool_]
    step_km: NDArray[np.float64]
    dt_s: NDArray[np.float64]
    implied_kmh: NDArray[np.float64]
    east_rad: NDArray[np.float32]
    north_rad: NDArray[np.float32]

    def __len__(self) -> int:
        return int(self.vehicle.shape[0])

    def take(self, values: NDArray[np.float64]) -> NDArray[np.float64]:
        """A column of the track, at the kept fixes."""
        return values if self.index is None else values[self.index]

    def in_track(self, positions: NDArray[np.int64]) -> NDArray[np.int64]:
        """Positions among the kept fixes, as positions in the track."""
        return positions if self.index is None else self.index[positions]


def _implied_kmh(step: NDArray[np.float64], dt_s: NDArray[np.float64]) -> NDArray[np.float64]:
    out = np.zeros_like(step)
    np.divide(step, dt_s, out=out, where=dt_s > 0)
    out *= 3600.0
    return out


@dataclass(frozen=True)
class _Steps:
    """Per track fix, the step from the previous kept fix (patched in place as fixes drop)."""

    new_vehicle: NDArray[np.bool_]
    step_km: NDArray[np.float64]
    dt_s: NDArray[np.float64]
    implied_kmh: NDArray[np.float64]
    east_rad: NDArray[np.float32]
    north_rad: NDArray[np.float32]

    @classmethod
    def between_consecutive(cls, track: Track) -> _Steps:
        """The steps between consecutive fixes, 0 at each vehicle's first fix."""
        n = len(track)
        new_vehicle = np.ones(n, dtype=bool)
        np.not_equal(track.vehicle[1:], track.vehicle[:-1], out=new_vehicle[1:])
        step, east, north = step_vectors(track.lat, track.lon)
        firsts = np.flatnonzero(new_vehicle)
        step[firsts] = 0.0
        east[firsts] = 0.0
        north[firsts] = 0.0
        dt_s = np.zeros(n, dtype=np.float64)
        if n > 1:
            np.multiply(track.t_ms[1:] - track.t_ms[:-1], 1e-3, out=dt_s[1:])
        dt_s[firsts] = 0.0
        return cls(new_vehicle, step, dt_s, _implied_kmh(step, dt_s), east, north)

    def remeasure(self, track: Track, kept: NDArray[np.int64], dropped: NDArray[np.int64]) -> None:
        """Measure again the steps of the kept fixes that follow the ``dropped`` fixes, from
        their previous kept fix (``kept``: positions of the kept fixes, ascending)."""
        at = np.searchsorted(kept, dropped, side="right")
        at = np.unique(at[at < kept.size])
        cur = kept[at]
        prev = kept[np.maximum(at - 1, 0)]
        fresh = (at == 0) | (track.vehicle[prev] != track.vehicle[cur])
        self.new_vehicle[cur] = fresh
        step = pair_km(track.lat[prev], track.lon[prev], track.lat[cur], track.lon[cur])
        self.step_km[cur] = np.where(fresh, 0.0, step)
        east, north = pair_vectors(track.lat[prev], track.lon[prev], track.lat[cur], track.lon[cur])
        self.east_rad[cur] = np.where(fresh, np.float32(0.0), east)
        self.north_rad[cur] = np.where(fresh, np.float32(0.0), north)
        self.dt_s[cur] = np.where(fresh, 0.0, (track.t_ms[cur] - track.t_ms[prev]) * 1e-3)
        self.implied_kmh[cur] = _implied_kmh(self.step_km[cur], self.dt_s[cur])


def _position_and_hdop(track: Track, rules: TripRules) -> NDArray[np.int8]:
    """Reasons ``position`` (non-finite latitude or longitude) and ``hdop``, else 0."""
    reason = np.zeros(len(track), dtype=np.int8)
    no_position = ~(np.isfinite(track.lat) & np.isfinite(track.lon))
    if no_position.any():
        reason[no_position] = _POSITION
    poor = track.hdop > rules.max_hdop
    poor &= reason == 0
    reason[poor] = _HDOP
    return reason


def _spikes(
    implied_kmh: NDArray[np.float64],
    kept: NDArray[np.bool_],
    kept_at: NDArray[np.int64] | None,
    max_jump_kmh: float,
) -> NDArray[np.bool_]:
    """Kept fixes reached too fast from the previous kept fix and left too fast to the next."""
    fast_in = implied_kmh > max_jump_kmh
    fast_in &= kept
    spike = np.zeros(kept.shape[0], dtype=bool)
    np.logical_and(fast_in[:-1], fast_in[1:], out=spike[:-1])
    if kept_at is not None:
        # A kept fix followed by dropped ones: its next kept fix is further on.
        before_drop = np.flatnonzero(kept[:-1] & ~kept[1:])
        following = np.searchsorted(kept_at, before_drop, side="right")
        has_next = following < kept_at.size
        before_drop = before_drop[has_next]
        spike[before_drop] = fast_in[before_drop] & fast_in[kept_at[following[has_next]]]
    return spike


def keep_fixes(track: Track, rules: TripRules) -> tuple[NDArray[np.int8], KeptFixes]:
    """Why each fix is dropped (0 when it is kept), and the kept fixes with their steps.

    Parameters
    ----------
    track : Track
    rules : TripRules

    Returns
    -------
    reason : ndarray of int8, shape (n,)
        0 for a kept fix, else ``DROP_REASONS.index(reason) + 1``.
    kept : KeptFixes
        The m kept fixes, each with its step from the previous kept fix of its vehicle.

    Notes
    -----
    In order: a non-finite position (``position``); ``hdop > max_hdop`` (``hdop``); then
    ``jump_passes`` times, among the fixes still kept, a fix whose implied speed from the
    previous fix and to the next fix of the same vehicle both exceed ``max_jump_kmh``
    (``jump``). A lone spike is dropped and its neighbours are kept.

    Examples
    --------
    >>> t = Track.from_arrays([1, 1, 1], [0, 10_000, 20_000], [32.0, 32.5, 32.0], [-7.9] * 3)
    >>> reason, kept = keep_fixes(t, TripRules())
    >>> reason.tolist(), kept.index.tolist(), round(float(kept.step_km[1]), 1)
    ([0, 3, 0], [0, 2], 0.0)
    """
    reason = _position_and_hdop(track, rules)
    steps = _Steps.between_consecutive(track)
    kept = reason == 0
    kept_at = None if kept.all() else np.flatnonzero(kept)
    if kept_at is not None:
        steps.remeasure(track, kept_at, np.flatnonzero(~kept))
    for _ in range(int(rules.jump_passes)):
        spike = _spikes(steps.implied_kmh, kept, kept_at, rules.max_jump_kmh)
        if not spike.any():
            break
        reason[spike] = _JUMP
        kept &= ~spike
        kept_at = np.flatnonzero(kept)
        steps.remeasure(track, kept_at, np.flatnonzero(spike))
    if kept_at is None:
        return reason, KeptFixes(
            index=None,
            vehicle=track.vehicle,
            t_ms=track.t_ms,
            new_vehicle=steps.new_vehicle,
            step_km=steps.step_km,
            dt_s=steps.dt_s,
            implied_kmh=steps.implied_kmh,
            east_rad=steps.east_rad,
            north_rad=steps.north_rad,
        )
    return reason, KeptFixes(
        index=kept_at,
        vehicle=track.vehicle[kept],
        t_ms=track.t_ms[kept],
        new_vehicle=steps.new_vehicle[kept],
        step_km=steps.step_km[kept],
        dt_s=steps.dt_s[kept],
        implied_kmh=steps.implied_kmh[kept],
        east_rad=steps.east_rad[kept],
        north_rad=steps.north_rad[kept],
    )
