"""Riding behaviour: harsh braking and harsh acceleration, from speed and position over time.

Each step between two consecutive kept fixes gets a lower bound on the peak acceleration the
vehicle must have reached in it (:func:`peak_acceleration_ms2`); a step whose bound passes the
trip rules' threshold is harsh, and a run of consecutive harsh steps of the same sign is one
event (:func:`harsh_steps`). Segmentation counts the events per trip with one
``np.add.reduceat`` over the steps each trip owns. No Python loop runs per fix, trip or
vehicle.

References
----------
.. [1] Teltonika, "Eco/Green Driving", Teltonika Telematics Wiki: with GNSS as the source,
   acceleration is the speed difference between consecutive GPS samples, evaluated only at
   10 km/h or more.
.. [2] Digital Matter, "Harsh Driving Event Setup" (support article): harsh acceleration and
   braking at 4.4 m/s2 by default, 3.0 m/s2 as an artificially low test level.
.. [3] SBeacon SDK, "Driving Behavior Detection": defaults of 0.25 g for harsh acceleration
   and 0.40 g for harsh braking.
.. [4] H. Ecker, J. Wassermann et al., "Braking Deceleration of Motorcycle Riders",
   International Motorcycle Safety Conference, Orlando, 2001: riders braking to a stop from
   60 km/h; half of them used 56 % or less of the achievable deceleration.
.. [5] Positrace, "How are acceleration, deceleration and harsh turns detected?" (knowledge
   base): 200 mG acceleration and 250 mG deceleration events for passenger vehicles, or
   360 and 540 cm/s2 on devices that work in acceleration units.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fleet.rules import TripRules

__all__ = ["STANDARD_GRAVITY_MS2", "HarshSteps", "harsh_steps", "peak_acceleration_ms2"]

STANDARD_GRAVITY_MS2 = 9.80665
"""Standard gravity g, m/s2 (thresholds in the trip rules are in g)."""


def peak_acceleration_ms2(
    v0_ms: NDArray[np.float64],
    v1_ms: NDArray[np.float64],
    dt_s: NDArray[np.float64],
    distance_m: NDArray[np.float64],
    tolerance_m: float,
    min_distance_m: float,
) -> NDArray[np.float64]:
    """The least peak acceleration a step needs, given its end speeds, duration and length.

    Parameters
    ----------
    v0_ms, v1_ms : ndarray of float64, shape (m,)
        Speed at the step's first and last fix, m/s.
    dt_s : ndarray of float64, shape (m,)
        Duration of the step, s (> 0).
    distance_m : ndarray of float64, shape (m,)
        Distance between the two fixes, m.
    tolerance_m : float
        How far the measured distance may be off (GPS noise), m.
    min_distance_m : float
        The least distance over which a speed change is believed to have happened, m.

    Returns
    -------
    ndarray of float64, shape (m,)
        Magnitude of the bound, m/s2 (the sign is that of ``v1 - v0``).

    Notes
    -----
    A speed that changes monotonically from ``v0`` to ``v1`` within ``dt`` with a peak
    acceleration of at most ``a`` covers a distance between ``lo + dv²/(2a)`` and
    ``hi - dv²/(2a)``, where ``lo = min(v0, v1) dt``, ``hi = max(v0, v1) dt`` and
    ``dv = |v1 - v0|`` (the change made at once at the start or at the end of the step). So a
    step of length ``s`` needs at least ``a = dv² / (2 min(s - lo, hi - s))``: a rider who
    cruised for 3 s and then stopped within the last 2 s of a 5 s step braked harder than the
    mean ``dv/dt`` says. The least harsh distance within ``s ± tolerance_m`` is used (the
    noise can only make the bound smaller); when that interval reaches outside ``[lo, hi]``
    (the speed need not have changed monotonically) the bound is the mean ``dv / dt`` (the
    mean value theorem), which it is never below; the room ``min(s - lo, hi - s)`` is taken
    as at least ``min_distance_m``.

    Examples
    --------
    >>> one = np.ones(1)
    >>> # 50 km/h to a stop: cruised 2.2 s, then 2.8 s of braking (19.3 m of 50 m).
    >>> round(float(peak_acceleration_ms2(13.9 * one, 0 * one, 5 * one, 50 * one, 0, 0)[0]), 2)
    4.95
    """
    dv = np.abs(v1_ms - v0_ms)
    lo = np.minimum(v0_ms, v1_ms) * dt_s
    hi = np.maximum(v0_ms, v1_ms) * dt_s
    near, far = distance_m - tolerance_m, distance_m + tolerance_m
    s = np.clip(0.5 * (lo + hi), near, far)
    room = np.minimum(s - lo, hi - s)
    monotone = (near >= lo) & (far <= hi)
    mean = np.zeros_like(dv)
    np.divide(dv, dt_s, out=mean, where=dt_s > 0)
    bound = np.zeros_like(dv)
    np.divide(dv * dv, 2.0 * np.maximum(room, min_distance_m), out=bound, where=monotone)
    return np.asarray(np.maximum(bound, mean), dtype=np.float64)


@dataclass(frozen=True)
class HarshSteps:
    """Per kept fix, whether a harsh event starts with the step that reaches it.

    Attributes
    ----------
    braking, acceleration : ndarray of bool, shape (m,)
        The first step of a run of harsh braking (acceleration) steps.
    """

    braking: NDArray[np.bool_]
    acceleration: NDArray[np.bool_]


def _starts(harsh: NDArray[np.bool_]) -> NDArray[np.bool_]:
    out = harsh.copy()
    out[1:] &= ~harsh[:-1]
    return out


def harsh_steps(
    speed_kmh: NDArray[np.float64],
    reported: NDArray[np.bool_],
    dt_s: NDArray[np.float64],
    step_km: NDArray[np.float64],
    new_vehicle: NDArray[np.bool_],
    rules: TripRules,
) -> HarshSteps:
    """Where harsh braking and harsh acceleration events start, over many vehicles' fixes.

    Parameters
    ----------
    speed_kmh : ndarray of float64, shape (m,)
        Each kept fix's speed, km/h (reported, else implied from the previous fix).
    reported : ndarray of bool, shape (m,)
        Whether the fix's speed was reported by the device.
    dt_s, step_km : ndarray of float64, shape (m,)
        Time (s) and distance (km) from the previous kept fix of the same vehicle.
    new_vehicle : ndarray of bool, shape (m,)
        The first kept fix of its vehicle (no step reaches it).
    rules : TripRules
        ``harsh_braking_g``, ``harsh_acceleration_g``, ``harsh_min_speed_kmh``,
        ``harsh_max_step_s``, ``harsh_distance_tolerance_m``, ``harsh_min_distance_m``.

    Returns
    -------
    HarshSteps

    Notes
    -----
    A step (from fix ``i - 1`` to fix ``i`` of one vehicle) is harsh braking when its peak
    deceleration bound (:func:`peak_acceleration_ms2`) is at least ``harsh_braking_g`` g,
    harsh acceleration when its peak acceleration bound is at least ``harsh_acceleration_g``
    g, and only when it lasts at most ``harsh_max_step_s``, the faster of its two fixes is at
    ``harsh_min_speed_kmh`` or more, and both fixes report their speed (the distance bound
    needs instantaneous speeds; an implied speed is a mean over a step, and with it only the
    mean ``dv / dt`` is used). Consecutive harsh steps of one kind are one event.

    Examples
    --------
    >>> speed = np.array([50.0, 50.0, 0.0, 0.0])  # a hard stop within the second step
    >>> step = np.array([0.0, 0.0695, 0.0193, 0.0])
    >>> dt = np.array([0.0, 5.0, 5.0, 5.0])
    >>> first = np.array([True, False, False, False])
    >>> h = harsh_steps(speed, np.ones(4, bool), dt, step, first, TripRules())
    >>> h.braking.tolist(), h.acceleration.tolist()
    ([False, False, True, False], [False, False, False, False])
    """
    m = speed_kmh.shape[0]
    v1 = speed_kmh / 3.6
    v0 = np.empty_like(v1)
    v0[1:] = v1[:-1]
    if m:
        v0[0] = v1[0]
    dv = v1 - v0
    braking_ms2 = rules.harsh_braking_g * STANDARD_GRAVITY_MS2
    accel_ms2 = rules.harsh_acceleration_g * STANDARD_GRAVITY_MS2
    least = min(braking_ms2, accel_ms2)
    # The bound is at most max(dv² / (2 min_distance), |dv| / dt): only steps that could
    # reach the lower threshold are measured.
    candidate = ~new_vehicle & (dt_s > 0) & (dt_s <= rules.harsh_max_step_s)
    candidate &= np.maximum(v0, v1) * 3.6 >= rules.harsh_min_speed_kmh
    size = np.abs(dv)
    candidate &= (size * size >= 2.0 * rules.harsh_min_distance_m * least) | (size >= least * dt_s)
    at = np.flatnonzero(candidate)
    both_reported = reported[at] & reported[np.maximum(at - 1, 0)]
    bound = peak_acceleration_ms2(
        v0[at],
        v1[at],
        dt_s[at],
        step_km[at] * 1000.0,
        rules.harsh_distance_tolerance_m,
        rules.harsh_min_distance_m,
    )
    # An implied speed is a mean over a step: there only the mean dv / dt is a bound.
    peak = np.where(both_reported, bound, size[at] / dt_s[at])
    braking = np.zeros(m, dtype=bool)
    accel = np.zeros(m, dtype=bool)
    braking[at] = (dv[at] < 0) & (peak >= braking_ms2)
    accel[at] = (dv[at] > 0) & (peak >= accel_ms2)
    return HarshSteps(braking=_starts(braking), acceleration=_starts(accel))
