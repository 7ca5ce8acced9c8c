"""Each vehicle's current state from its latest fixes: riding, parked, charging or offline."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fleet.rules import TripRules
from fleet.segmentation import Segmentation
from fleet.track import Track

__all__ = ["STATES", "VehicleStates", "vehicle_states"]

STATES: tuple[str, ...] = ("riding", "parked", "charging", "offline")
"""The closed set of vehicle states (also the ``state`` metric label)."""


@dataclass(frozen=True)
class VehicleStates:
    """One row per vehicle present in the track, in vehicle order.

    Attributes
    ----------
    vehicle : int64 (v,)
    state : int8 (v,)
        Index into :data:`STATES`.
    lat, lon : float64 (v,)
        Last kept fix.
    soc_pct, odometer_km : float64 (v,)
        Last reported value (NaN when the vehicle never sent one in the window).
    last_ms : int64 (v,)
        Device time of the last fix (kept or not), ms since the epoch.
    """

    vehicle: NDArray[np.int64]
    state: NDArray[np.int8]
    lat: NDArray[np.float64]
    lon: NDArray[np.float64]
    soc_pct: NDArray[np.float64]
    odometer_km: NDArray[np.float64]
    last_ms: NDArray[np.int64]


def _last_where(
    mask: NDArray[np.bool_], vehicle: NDArray[np.int64], groups: NDArray[np.int64]
) -> NDArray[np.int64]:
    """Per vehicle group, index of the last fix where ``mask`` holds, or -1."""
    idx = np.where(mask, np.arange(mask.shape[0]), -1)
    return np.asarray(np.maximum.reduceat(idx, groups), dtype=np.int64)


def vehicle_states(
    track: Track,
    seg: Segmentation,
    now_ms: int,
    rules: TripRules,
    charging: ArrayLike | None = None,
) -> VehicleStates:
    """The state of every vehicle in ``track``, vectorised.

    Parameters
    ----------
    track : Track
    seg : Segmentation
        ``segment(track, ...)``.
    now_ms : int
        Build time, ms since the epoch.
    rules : TripRules
        ``offline_after_s`` (a vehicle silent for longer is ``offline``) and
        ``moving_speed_kmh`` (the moving threshold).
    charging : array_like of int, optional
        Vehicles whose latest charge event is ``charge_start``.

    Returns
    -------
    VehicleStates

    Notes
    -----
    ``offline`` when ``now - last fix > offline_after_s``; else ``charging`` when a charge
    session is open; else ``riding`` when the last kept fix belongs to a trip or moves
    (reported speed >= threshold); else ``parked``.

    Examples
    --------
    >>> from fleet.segmentation import segment
    >>> track = Track.from_arrays([1, 1, 2], [0, 60_000, 0], [32.0] * 3, [-7.9] * 3, [0.0] * 3)
    >>> rules = TripRules()
    >>> states = vehicle_states(track, segment(track, rules), 120_000, rules, charging=[2])
    >>> [STATES[s] for s in states.state.tolist()]
    ['parked', 'charging']
    """
    n = len(track)
    if n == 0:
        e = np.zeros(0, dtype=np.int64)
        f = np.zeros(0, dtype=np.float64)
        return VehicleStates(e, e.astype(np.int8), f, f, f, f, e)
    groups = np.flatnonzero(np.r_[True, track.vehicle[1:] != track.vehicle[:-1]])
    vehicles = track.vehicle[groups]
    last_any = np.append(groups[1:], n) - 1
    kept = seg.reason == 0
    last_kept = _last_where(kept, track.vehicle, groups)
    last_soc = _last_where(np.isfinite(track.soc_pct), track.vehicle, groups)
    last_odo = _last_where(np.isfinite(track.odometer_km), track.vehicle, groups)
    safe = np.maximum(last_kept, 0)
    has_kept = last_kept >= 0
    lat = np.where(has_kept, track.lat[safe], np.nan)
    lon = np.where(has_kept, track.lon[safe], np.nan)
    soc = np.where(last_soc >= 0, track.soc_pct[np.maximum(last_soc, 0)], np.nan)
    odo = np.where(last_odo >= 0, track.odometer_km[np.maximum(last_odo, 0)], np.nan)
    last_ms = track.t_ms[last_any]
    riding = has_kept & ((seg.trip[safe] >= 0) | (track.speed_kmh[safe] >= rules.moving_speed_kmh))
    is_charging = (
        np.isin(vehicles, np.asarray(charging, dtype=np.int64))
        if charging is not None
        else np.zeros(vehicles.shape[0], dtype=bool)
    )
    offline = (now_ms - last_ms) > rules.offline_after_s * 1000.0
    state = np.where(
        offline,
        STATES.index("offline"),
        np.where(
            is_charging,
            STATES.index("charging"),
            np.where(riding, STATES.index("riding"), STATES.index("parked")),
        ),
    ).astype(np.int8)
    return VehicleStates(vehicles, state, lat, lon, soc, odo, last_ms)
