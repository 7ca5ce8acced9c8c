"""Battery state of health: each pack's usable capacity, from the charge counted against SoC.

A *sample* is a run of consecutive fixes of one vehicle, closely spaced, over which the pack
only discharged (a ride) or only charged (a charge session): ``x`` is the change of state of
charge over the run (a fraction), ``y`` the energy that went into the pack (kWh, the
integral of ``-voltage * current`` over time). For a pack of usable capacity ``Q`` kWh,
``y = Q x``; both are measured with noise (the SoC a BMS reports is an estimate; the current
sensor is noisy and the fixes sample the power). Ordinary least squares of ``y`` on ``x``
then underestimates ``Q`` (noise in ``x`` flattens the slope); total least squares weighted
by each sample's two variances does not.

Plett's approximate weighted total least squares (AWTLS) gives that fit from six running
sums per vehicle, so the estimate is updated sample by sample and stored as the sums alone:
:func:`add_samples` folds samples into sums, :func:`estimate` solves for ``Q``, its standard
error and the fit's cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fleet.errors import TrackError
from fleet.rules import TripRules

__all__ = [
    "METHOD",
    "SUMS",
    "Estimate",
    "Health",
    "Samples",
    "add_samples",
    "advance",
    "estimate",
    "samples",
]

METHOD = "awtls-plett-2011"
"""The ``method`` reported with every estimate."""

SUMS: tuple[str, ...] = ("xx_y", "xy_y", "yy_y", "xx_x", "xy_x", "yy_x", "var_x", "var_y")
"""The running sums per vehicle (columns of :func:`add_samples`' result), with ``n``:
``x^2``, ``xy`` and ``y^2`` weighted by ``1/var_y`` and by ``1/var_x``, then the sums of the
two variances (which choose the scale ``K``)."""

_J_PER_KWH = 3.6e6


@dataclass(frozen=True)
class Samples:
    """Capacity samples, shape (s,) each, in (vehicle, time) order.

    ``x`` is the SoC change (fraction, negative on a ride), ``y`` the energy into the pack
    (kWh, negative on a ride), ``var_x``/``var_y`` their variances; ``start``/``end`` index
    the run's first and last fix in the track; ``charging`` marks charge sessions.
    """

    vehicle: NDArray[np.int64]
    start: NDArray[np.int64]
    end: NDArray[np.int64]
    x: NDArray[np.float64]
    y: NDArray[np.float64]
    var_x: NDArray[np.float64]
    var_y: NDArray[np.float64]
    charging: NDArray[np.bool_]

    def __len__(self) -> int:
        return int(self.vehicle.shape[0])

    def pick(self, mask: NDArray[np.bool_]) -> Samples:
        """The samples where ``mask``."""
        return Samples(
            self.vehicle[mask],
            self.start[mask],
            self.end[mask],
            self.x[mask],
            self.y[mask],
            self.var_x[mask],
            self.var_y[mask],
            self.charging[mask],
        )


def samples(
    vehicle: ArrayLike,
    t_ms: ArrayLike,
    soc_pct: ArrayLike,
    power_w: ArrayLike,
    *,
    soc_sigma_pct: float,
    power_sigma_w: float,
    max_step_s: float,
    min_soc_change_pct: float,
) -> Samples:
    """The capacity samples in fixes of many vehicles (a ride or a charge session each).

    Parameters
    ----------
    vehicle, t_ms : array_like of int, shape (n,)
        Vehicle key and device time (ms), sorted by vehicle then strictly increasing time.
    soc_pct : array_like of float, shape (n,)
        Reported state of charge, %; NaN when absent.
    power_w : array_like of float, shape (n,)
        Reported ``voltage * current``, W, positive while the pack discharges; NaN when
        absent.
    soc_sigma_pct : float
        Standard deviation of one SoC reading, % (the BMS's error and its rounding).
    power_sigma_w : float
        Standard deviation of one power reading, W (current sensor noise, and the power
        varying between fixes).
    max_step_s : float
        A step between fixes longer than this, s, ends a run (too coarse to integrate).
    min_soc_change_pct : float
        Runs whose SoC changed by less than this, %, are not samples (0: every run, even
        of one fix).

    Returns
    -------
    Samples

    Notes
    -----
    A run is a maximal sequence of fixes of one vehicle with SoC and power, steps of at most
    ``max_step_s``, and power of one sign (``> 0`` discharging, ``< 0`` charging; an exact
    zero ends a run). Over it ``x = (soc_last - soc_first) / 100`` and
    ``y = -sum(dt * (p_i + p_{i+1}) / 2) / 3.6e6`` (trapezoids, kWh). The variances:
    ``var_x = 2 (soc_sigma_pct / 100)^2`` (two readings) and
    ``var_y = sum(dt^2 (power_sigma_w^2 / 2 + (p_{i+1} - p_i)^2 / 12)) / 3.6e6^2``: each
    reading's noise enters a step with half weight, and the power between two fixes is
    unknown (at 5 s a start from a standstill draws several kW for a few seconds), taken
    as an error uniform across the step's change.

    Examples
    --------
    >>> s = samples([1] * 4, [0, 5000, 10000, 15000], [80.0, 79.0, 78.0, 77.0],
    ...             [2880.0] * 4, soc_sigma_pct=0.1, power_sigma_w=10.0, max_step_s=30.0,
    ...             min_soc_change_pct=1.0)
    >>> round(float(s.y[0] / s.x[0]), 3)  # 12 Wh moved the SoC by 3 %: 0.4 kWh
    0.4
    """
    veh = np.asarray(vehicle, dtype=np.int64)
    t = np.asarray(t_ms, dtype=np.int64)
    soc = np.asarray(soc_pct, dtype=np.float64)
    power = np.asarray(power_w, dtype=np.float64)
    n = veh.shape[0]
    if veh.ndim != 1 or any(a.shape != (n,) for a in (t, soc, power)):
        raise TrackError("vehicle, t_ms, soc_pct and power_w must be equal 1-d shapes")
    if n > 1 and np.any((np.diff(veh) < 0) | ((np.diff(veh) == 0) & (np.diff(t) <= 0))):
        raise TrackError("fixes must be sorted by vehicle, then by strictly increasing t_ms")
    usable = np.isfinite(soc) & np.isfinite(power) & (power != 0)
    sign = np.sign(np.where(usable, power, 0.0))
    dt = np.diff(t) / 1000.0
    joined = (
        (veh[1:] == veh[:-1])
        & (dt <= max_step_s)
        & usable[1:]
        & usable[:-1]
        & (sign[1:] == sign[:-1])
    )
    # Runs: a new one at every fix that does not join its predecessor.
    starts = np.ones(n, dtype=bool)
    starts[1:] = ~joined
    run = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)
    last = np.concatenate([first[1:] - 1, np.full(min(n, 1), n - 1, dtype=np.int64)])
    step_j = np.where(joined, 0.5 * (power[1:] + power[:-1]) * dt, 0.0)
    runs = first.size
    energy_j = np.bincount(run[1:], weights=step_j, minlength=runs).astype(np.float64)
    # Each step's variance: the readings' noise, and the power's unseen variation between
    # the fixes (a twelfth of the squared change across the step, a uniform error's).
    change = np.diff(power) if n > 1 else np.zeros(0)
    step_var = dt * dt * (0.5 * power_sigma_w**2 + change * change / 12.0)
    var_j = np.bincount(run[1:], weights=np.where(joined, step_var, 0.0), minlength=runs)
    dsoc = soc[last] - soc[first] if n else np.zeros(0)
    keep = usable[first] & (np.abs(dsoc) >= min_soc_change_pct)
    first, last = first[keep], last[keep]
    return Samples(
        vehicle=veh[first],
        start=first.astype(np.int64),
        end=last.astype(np.int64),
        x=dsoc[keep] / 100.0,
        y=-energy_j[keep] / _J_PER_KWH,
        var_x=np.full(first.size, 2.0 * (soc_sigma_pct / 100.0) ** 2),
        var_y=var_j[keep] / _J_PER_KWH**2,
        charging=sign[first] < 0,
    )


def add_samples(
    keys: NDArray[np.int64], sums: NDArray[np.float64], taken: Samples
) -> NDArray[np.float64]:
    """The running sums of ``keys``' vehicles with the samples added.

    Parameters
    ----------
    keys : ndarray of int64, shape (v,)
        Vehicle keys, sorted; every sample's vehicle is among them.
    sums : ndarray of float64, shape (v, 9)
        ``n`` then :data:`SUMS` per vehicle (zeros for a vehicle without samples yet).
    taken : Samples

    Returns
    -------
    ndarray of float64, shape (v, 9)
    """
    row = np.searchsorted(keys, taken.vehicle)
    x, y, vx, vy = taken.x, taken.y, taken.var_x, taken.var_y
    by_y = [x * x / vy, x * y / vy, y * y / vy]
    by_x = [x * x / vx, x * y / vx, y * y / vx]
    terms = np.stack([np.ones_like(x), *by_y, *by_x, vx, vy], axis=1)
    out = np.array(sums, dtype=np.float64, copy=True)
    np.add.at(out, row, terms)
    return out


@dataclass(frozen=True)
class Estimate:
    """Capacity estimates per vehicle, shape (v,) each; NaN where there is none.

    ``capacity_kwh`` is the AWTLS estimate, ``stderr_kwh`` its standard error (from the
    cost's curvature, widened when the fit's cost shows more scatter than the variances
    predict), ``samples`` how many samples went in, ``cost`` the minimised cost per degree
    of freedom (about 1 when the noise model is right).
    """

    capacity_kwh: NDArray[np.float64]
    stderr_kwh: NDArray[np.float64]
    samples: NDArray[np.int64]
    cost: NDArray[np.float64]


def _cost(c: NDArray[np.float64], r: NDArray[np.float64]) -> NDArray[np.float64]:
    c1, c2, c3, c4, c5, c6 = c
    return np.asarray(
        (c4 * r**4 - 2 * c5 * r**3 + (c1 + c6) * r**2 - 2 * c2 * r + c3) / (r * r + 1) ** 2
    )


def estimate(sums: ArrayLike, min_samples: int = 3) -> Estimate:
    """Each vehicle's usable capacity from its running sums (Plett's AWTLS).

    Parameters
    ----------
    sums : array_like of float, shape (v, 9)
        ``n`` then :data:`SUMS`, as :func:`add_samples` returns them.
    min_samples : int, default 3
        Fewer samples than this give NaN.

    Returns
    -------
    Estimate

    Notes
    -----
    The weighted total least squares cost of ``y = Q x`` is
    ``sum((y_i - Q x_i)^2 / (var_y_i + Q^2 var_x_i))``. Plett's approximation scales ``x``
    by ``K`` (``r = K Q``) and replaces each denominator by
    ``(1 + r^2)^2 / (r^2 K^2 / var_x_i + 1 / var_y_i)``, exact when
    ``var_x_i / var_y_i = K^2``; the cost becomes
    ``J(r) = (c4 r^4 - 2 c5 r^3 + (c1 + c6) r^2 - 2 c2 r + c3) / (r^2 + 1)^2`` with
    ``c1 = S_xx,y / K^2``, ``c2 = S_xy,y / K``, ``c3 = S_yy,y``, ``c4 = S_xx,x``,
    ``c5 = K S_xy,x``, ``c6 = K^2 S_yy,x`` (the sums of :data:`SUMS`). Its minimum is a real
    root of ``c5 r^4 + (2 c4 - c1 - c6) r^3 + 3 (c2 - c5) r^2 + (c1 - 2 c3 + c6) r - c2``
    (the roots of that quartic per vehicle, the positive one of least cost), and
    ``var(Q) = 2 / (K^2 J''(r))``. Here ``K^2 = sum(var_x) / sum(var_y)``, the samples'
    typical ratio, chosen when estimating: the sums do not depend on it. The variance is
    multiplied by the cost per degree of freedom when that exceeds 1.

    References
    ----------
    G. L. Plett, "Recursive approximate weighted total least squares estimation of battery
    cell total capacity", Journal of Power Sources 196(4), 2319-2331, 2011,
    doi:10.1016/j.jpowsour.2010.09.048.

    Examples
    --------
    >>> x = np.array([-0.05, -0.04, 0.6, -0.06])
    >>> one = Samples(np.zeros(4, np.int64), np.arange(4), np.arange(4), x, 2.5 * x,
    ...               np.full(4, 1e-5), np.full(4, 1e-6), x > 0)
    >>> sums = add_samples(np.array([0]), np.zeros((1, 9)), one)
    >>> round(float(estimate(sums).capacity_kwh[0]), 6)
    2.5
    """
    s = np.atleast_2d(np.asarray(sums, dtype=np.float64))
    if s.ndim != 2 or s.shape[1] != len(SUMS) + 1:
        raise TrackError(f"sums has shape {s.shape}; expected (v, {len(SUMS) + 1})")
    v = s.shape[0]
    n = s[:, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.sqrt(s[:, 7] / s[:, 8])
        c = np.stack([s[:, 1] / k**2, s[:, 2] / k, s[:, 3], s[:, 4], s[:, 5] * k, s[:, 6] * k**2])
    ok = (n >= max(min_samples, 1)) & np.isfinite(c).all(axis=0) & (k > 0) & (c[4] != 0)
    c = np.where(ok, c, 1.0)
    c1, c2, c3, c4, c5, c6 = c
    # The quartic's roots, all vehicles at once: eigenvalues of its companion matrices.
    lead = np.stack([2 * c4 - c1 - c6, 3 * (c2 - c5), c1 - 2 * c3 + c6, -c2], axis=1) / c5[:, None]
    companion = np.zeros((v, 4, 4))
    companion[:, 0, :] = -lead
    companion[:, 1, 0] = companion[:, 2, 1] = companion[:, 3, 2] = 1.0
    roots = np.linalg.eigvals(companion) if v else np.zeros((0, 4), complex)
    real = roots.real
    usable = (np.abs(roots.imag) <= 1e-9 * np.maximum(np.abs(real), 1.0)) & (real > 0)
    costs = np.where(usable, _cost(c[:, :, None], np.where(usable, real, 1.0)), np.inf)
    best = np.argmin(costs, axis=1)
    r = real[np.arange(v), best]
    least = costs[np.arange(v), best]
    hessian = (
        2
        / (r * r + 1) ** 4
        * (
            -2 * c5 * r**5
            + (3 * c1 - 6 * c4 + 3 * c6) * r**4
            + (-12 * c2 + 16 * c5) * r**3
            + (-8 * c1 + 10 * c3 + 6 * c4 - 8 * c6) * r**2
            + (12 * c2 - 6 * c5) * r
            + (c1 - 2 * c3 + c6)
        )
    )
    ok &= np.isfinite(least) & (hessian > 0)
    per_dof = least / np.maximum(n - 1, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        capacity = np.where(ok, r / k, np.nan)
        stderr = np.where(ok, np.sqrt(2.0 / hessian / k**2 * np.maximum(per_dof, 1.0)), np.nan)
    cost = np.where(ok, per_dof, np.nan)
    return Estimate(capacity, stderr, n.astype(np.int64), cost)


@dataclass(frozen=True)
class Health:
    """What the trip builder keeps per vehicle between runs, shape (v,) each (sorted keys).

    ``sampled_until_ms``: runs ending at or before it are counted (-1: none yet);
    ``open_from_ms``: the first fix of a run still going on then (-1: none), which the next
    run reads from; ``sums``: shape (v, 9), ``n`` then :data:`SUMS`.
    """

    vehicle: NDArray[np.int64]
    sampled_until_ms: NDArray[np.int64]
    open_from_ms: NDArray[np.int64]
    sums: NDArray[np.float64]


def advance(
    state: Health,
    track_vehicle: NDArray[np.int64],
    t_ms: NDArray[np.int64],
    soc_pct: NDArray[np.float64],
    power_w: NDArray[np.float64],
    until_ms: NDArray[np.int64],
    rules: TripRules,
) -> Health:
    """Count the samples of new fixes that ended by ``until_ms`` into each vehicle's sums.

    Parameters
    ----------
    state : Health
        The vehicles' state before; every fix's vehicle is among ``state.vehicle``.
    track_vehicle, t_ms, soc_pct, power_w : ndarray, shape (n,)
        Fixes as :func:`samples` takes them (the trip builder's batch).
    until_ms : ndarray of int64, shape (v,)
        Per vehicle, runs ending after this are not counted yet (the builder's watermark).
    rules : TripRules
        ``battery_*``: the noise model, the longest step and the least SoC change.

    Returns
    -------
    Health

    Notes
    -----
    A run is counted once: when it starts after ``sampled_until_ms`` and ends by
    ``until_ms`` (a later fix broke it, or none came for ``battery_max_step_s`` before
    ``until_ms``). A run going on at ``until_ms`` moves ``sampled_until_ms`` to just before
    its first fix and is remembered in ``open_from_ms``, so the next batch reads it whole.
    Late fixes at or before ``sampled_until_ms`` change nothing.
    """
    runs = samples(
        track_vehicle,
        t_ms,
        soc_pct,
        power_w,
        soc_sigma_pct=rules.battery_soc_sigma_pct,
        power_sigma_w=rules.battery_power_sigma_w,
        max_step_s=rules.battery_max_step_s,
        min_soc_change_pct=0.0,
    )
    row = np.searchsorted(state.vehicle, runs.vehicle)
    start_ms, end_ms = t_ms[runs.start], t_ms[runs.end]
    until = until_ms[row]
    new = start_ms > state.sampled_until_ms[row]
    # Ended: a later fix broke the run, or the vehicle has been silent too long since.
    n = track_vehicle.shape[0]
    broken = np.zeros(runs.end.shape, dtype=bool)
    if n:
        later = runs.end < n - 1
        broken[later] = track_vehicle[np.minimum(runs.end + 1, n - 1)][later] == runs.vehicle[later]
    silent = end_ms + int(rules.battery_max_step_s * 1000) < until
    done = new & (end_ms <= until) & (broken | silent)
    going = new & ~done & (start_ms <= until)
    counted = (
        done & (runs.end > runs.start) & (np.abs(runs.x) * 100 >= rules.battery_min_soc_change_pct)
    )
    sums = add_samples(state.vehicle, state.sums, runs.pick(counted))
    big = np.iinfo(np.int64).max
    open_from = np.full(state.vehicle.size, big, dtype=np.int64)
    np.minimum.at(open_from, row[going], start_ms[going])
    sampled_until = np.where(open_from < big, np.minimum(until_ms, open_from - 1), until_ms)
    return Health(
        vehicle=state.vehicle,
        sampled_until_ms=np.maximum(sampled_until, state.sampled_until_ms),
        open_from_ms=np.where(open_from < big, open_from, -1),
        sums=sums,
    )
