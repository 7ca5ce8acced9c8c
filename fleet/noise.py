"""GPS noise measured in each trip's own fixes, and step lengths without the noise's bias.

A step between two noisy fixes is longer on average than the true step: for a true length
``d`` and independent position errors of per-axis variance ``v`` on the difference of the two
fixes (``v = 2 sigma**2`` for fixes with noise ``sigma`` per axis), the measured length is
``|d + e|`` with ``E|d + e| ~= d + v / (2 d)``; summed over a trip fixed every 5 s with
2.5 m of noise, about +0.5 %. The noise is not known (it depends on the device, the sky and
the street), so :func:`trip_noise_m2` measures it in the trip's own fixes, and
:func:`debiased_km` takes its expected contribution out of every step.

Everything works on whole arrays of kept fixes; the per-trip figures are sums over each trip's
own windows (``np.add.reduceat``), so a trip's result does not depend on what else was loaded.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

__all__ = ["LOG_CHI2_1", "debiased_km", "trip_noise_m2", "window_w2"]

LOG_CHI2_1 = -1.2703628454614782
"""``E[ln X]`` for X chi-square with one degree of freedom: ``digamma(1/2) + ln 2``."""

_FLOOR_M2 = 1e-4  # windows below 1 cm of cross-track noise count as 1 cm (no log of 0)
_LOG_DIRECTION = math.log1p(1.0 / 9.0)  # E[w^2] = v (1 + lambda^2), lambda = 1/3 when moving
_N_VAR_LOG = 8.2  # n x variance of the mean of ln w^2 over n overlapping windows (measured)


def window_w2(east: NDArray[np.float32], north: NDArray[np.float32]) -> NDArray[np.float32]:
    """The squared cross-track offset of each step from the chord of the window around it.

    Parameters
    ----------
    east, north : ndarray of float32, shape (m,)
        Step ``j`` (from fix ``j - 1`` to fix ``j``), in any unit of length (radians of arc
        from :func:`fleet.distance.step_vectors`).

    Returns
    -------
    ndarray of float32, shape (m,)
        ``out[j] = (M x c)^2 / |c|^2`` in the unit squared for the window of fixes
        ``j - 2 .. j + 1``, with
        ``M`` the middle step ``j`` and ``c = p[j + 1] - p[j - 2]`` the window's chord; 0 for
        ``j < 2`` and ``j = m - 1`` (no window). Windows crossing from one vehicle to the next
        are computed too: the caller sums only windows inside a trip.

    Notes
    -----
    With independent isotropic position errors, the errors of ``M`` (fixes ``j - 1, j``) and
    of the chord (fixes ``j - 2, j + 1``) are independent, so on a straight road
    ``E[out] = v (1 + lambda^2)``, ``lambda = |M| / |c|`` (1/3 for three even steps, 0 while
    standing), whatever the speed and its changes. On an arc of constant curvature
    ridden at constant speed the middle step is parallel to the chord (0 as well): smooth
    curves are not taken for noise. A turn at a junction inside the window gives a large
    value, which :func:`trip_noise_m2`'s log-mean hardly feels.

    Examples
    --------
    >>> east = np.array([0, 50, 50, 50, 50], dtype=np.float32)  # east in 50 m steps
    >>> north = np.array([0, 0, 3, -3, 0], dtype=np.float32)  # one fix 3 m off the line
    >>> window_w2(east, north).round(1).tolist()
    [0.0, 0.0, 9.0, 9.0, 0.0]
    """
    m = east.shape[0]
    out = np.zeros(m, dtype=np.float32)
    if m < 4:
        return out
    ax, mx, cx = east[1:-2], east[2:-1], east[3:]
    ay, my, cy = north[1:-2], north[2:-1], north[3:]
    # M x c = M x (A + M + C) = M x (A + C); the chord is A + M + C.
    sx = np.add(ax, cx)
    sy = np.add(ay, cy)
    cross = np.multiply(mx, sy, out=out[2:-1])
    tmp = np.multiply(my, sx)
    cross -= tmp
    cross *= cross
    sx += mx
    sy += my
    np.multiply(sx, sx, out=tmp)
    sy *= sy
    tmp += sy
    tmp += np.float32(1e-30)  # a window that returns to its start: 0, not 0/0
    cross /= tmp
    return out


def trip_noise_m2(
    w2: NDArray[np.float32],
    moving_step: NDArray[np.bool_],
    unusable: NDArray[np.int64],
    lo: NDArray[np.int64],
    hi: NDArray[np.int64],
    unit_m: float,
    min_windows: int,
    overwrite: bool = False,
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Per trip, the variance ``v`` (per axis, m^2) of the noise on the difference of two fixes.

    Parameters
    ----------
    w2 : ndarray of float32, shape (m,)
        :func:`window_w2` of the kept fixes.
    moving_step : ndarray of bool, shape (m,)
        Step ``j`` is counted as moving (either of its fixes moving).
    unusable : ndarray of int64, shape (u,)
        Windows not to use (one of their steps too long), sorted, unique.
    lo, hi : ndarray of int64, shape (k,)
        Each trip owns the steps ``lo .. hi - 1``; its windows are ``lo + 1 .. hi - 2``
        (every step of the window owned by the trip).
    unit_m : float
        Metres per unit of ``w2``'s square root (the Earth's radius for radians).
    min_windows : int
        Trips with fewer usable windows get ``v = 0`` (no evidence, no correction).
    overwrite : bool, default False
        ``w2`` may be overwritten (it is a temporary of the caller's).

    Returns
    -------
    v_m2 : ndarray of float64, shape (k,)
    windows : ndarray of int64, shape (k,)
        The usable windows each estimate rests on.

    Notes
    -----
    ``v = exp(mean(ln max(w2, 1 cm^2)) - E[ln chi2_1] - f ln(1 + 1/9) - 8.2 / (2 n))`` over the
    trip's ``n`` usable windows, ``f`` of which have a moving middle step: ``w2 / v`` is
    chi-square with one degree of freedom on a straight road, the log-mean is scale-free and
    robust (a turn 30 times the noise moves it by ``ln 30 / n``, the plain mean by ``30 / n``),
    and the last term removes the upward bias of ``exp`` of a noisy mean (``8.2 / n`` is the
    variance of the mean of ``ln w2`` over overlapping windows, measured on straight tracks).
    A measured estimate rather than HDOP: what biases the step lengths is the noise from one
    fix to the next, which the track shows and HDOP does not.

    References
    ----------
    .. [1] P. Ranacher, R. Brunauer, W. Trutschnig, S. Van der Spek, S. Reich, "Why GPS makes
       distances bigger than they are", Int. J. Geographical Information Science 30 (2),
       2016, pp. 316-333: the overestimation as a function of the error's variance.
    """
    k = lo.shape[0]
    v = np.zeros(k, dtype=np.float64)
    m = w2.shape[0]
    first, end = lo + 1, np.maximum(hi - 1, lo + 1)
    has = end > first
    if k == 0 or m == 0 or not has.any():
        return v, np.zeros(k, dtype=np.int64)
    logs = np.maximum(w2, np.float32(_FLOOR_M2 / unit_m**2), out=w2 if overwrite else None)
    np.log(logs, out=logs)
    logs[unusable] = 0.0
    # Interleaved [first, end) bounds for reduceat (the even results are the trips'); an end
    # at m is dropped (the last range then runs to the end), an empty range is masked.
    bounds = np.empty(2 * k, dtype=np.int64)
    bounds[0::2] = np.minimum(first, m - 1)
    bounds[1::2] = np.minimum(end, m - 1)
    if end[-1] >= m:
        bounds = bounds[:-1]
    total = np.where(has, np.add.reduceat(logs, bounds, dtype=np.float64)[0::2], 0.0)
    moving = np.where(has, np.add.reduceat(moving_step, bounds, dtype=np.int64)[0::2], 0)

    def inside(positions: NDArray[np.int64]) -> NDArray[np.int64]:
        """How many of the sorted positions lie in each trip's windows."""
        counts = np.searchsorted(positions, end) - np.searchsorted(positions, first)
        return np.where(has, counts, 0).astype(np.int64)

    n = np.where(has, end - first, 0) - inside(unusable)
    moving -= inside(unusable[moving_step[unusable]])
    enough = n >= max(int(min_windows), 1)
    nn = np.maximum(n, 1)
    log_v = total / nn - LOG_CHI2_1 - (moving / nn) * _LOG_DIRECTION - _N_VAR_LOG / (2.0 * nn)
    v[enough] = np.exp(log_v[enough]) * unit_m**2
    return v, n


def debiased_km(
    step_km: NDArray[np.float64], v_km2: NDArray[np.float64], out: NDArray[np.float64] | None = None
) -> NDArray[np.float64]:
    """Step lengths with the noise's expected contribution removed.

    Parameters
    ----------
    step_km : ndarray of float64, shape (m,)
        Measured (haversine) steps, km.
    v_km2 : ndarray of float64, shape (m,)
        Per step, the noise variance ``v`` (per axis, on the difference of its two fixes), in
        km^2 (m^2 times 1e-6); 0 leaves the step as measured.
    out : ndarray of float64, shape (m,), optional
        Where to write the result (may be ``step_km`` itself).

    Returns
    -------
    ndarray of float64, shape (m,)
        ``sqrt(max(s^2 - v, 0))``, km.

    Notes
    -----
    For a true step ``d`` and measured ``s = |d + e|``, ``E[s] ~= d + v / (2 d)``: only the
    error across the step lengthens it on average. ``sqrt(s^2 - v)`` is unbiased to that order
    (``E[s^2] = d^2 + 2 v``, so subtracting ``2 v``, the expected excess of ``s^2``, would
    take away twice the bias): its error stays under 2 % of ``sqrt(v)`` per step for
    ``d >= 1.5 sqrt(v)``. Shorter steps (a vehicle creeping off from a stop with fixes 5 s
    apart, or fixes every second at walking pace) keep part of their bias: no estimate from
    two fixes can tell a 1 m step from the noise.

    Examples
    --------
    >>> km = debiased_km(np.array([0.05, 0.003, 0.0]), np.full(3, 19.0e-6))
    >>> (km * 1000).round(2).tolist()  # a 50 m step loses 19 cm, a 3 m one is all noise
    [49.81, 0.0, 0.0]
    """
    out = np.multiply(step_km, step_km, out=out)
    out -= v_km2
    np.maximum(out, 0.0, out=out)
    np.sqrt(out, out=out)
    return out
