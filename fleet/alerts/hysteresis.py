"""Hysteresis over many subjects' fix sequences at once: an alert opens once, clears once.

A *subject* is what one alert is about (a vehicle, or a vehicle and a zone). Its fixes carry
two conditions that never hold together: ``high`` (beyond the threshold: the alert should be
open) and ``low`` (back on the right side of the threshold *by a margin*: it should clear).
Fixes where neither holds (inside the margin band) change nothing: a Schmitt trigger.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fleet.alerts.errors import AlertError

__all__ = ["Flips", "confirmed", "flips"]


def confirmed(
    mask: NDArray[np.bool_],
    first: NDArray[np.bool_],
    t_ms: NDArray[np.int64],
    fixes: int,
    seconds: float,
) -> NDArray[np.bool_]:
    """Where a run of consecutive ``mask`` fixes is confirmed.

    Parameters
    ----------
    mask : ndarray of bool, shape (n,)
    first : ndarray of bool, shape (n,)
        True at each subject's first fix (a run never spans two subjects).
    t_ms : ndarray of int64, shape (n,)
        Fix times, ms, increasing within a subject.
    fixes : int
        Fixes a run must hold.
    seconds : float
        Time a run must span, from its first fix to this one, s.

    Returns
    -------
    ndarray of bool, shape (n,)
        True at every fix of a run from the one that completes both counts on.

    Examples
    --------
    >>> m = np.array([1, 1, 1, 0, 1, 1, 1], bool)
    >>> f = np.array([1, 0, 0, 0, 0, 1, 0], bool)
    >>> confirmed(m, f, np.arange(7) * 5000, 3, 10).astype(int).tolist()
    [0, 0, 1, 0, 0, 0, 0]
    """
    n = mask.shape[0]
    if n == 0:
        return np.zeros(0, dtype=bool)
    previous = np.r_[False, mask[:-1]]
    starts = mask & (first | ~previous)
    run = np.cumsum(starts) - 1  # the run each fix belongs to (meaningful where mask holds)
    start_idx = np.flatnonzero(starts)
    begin = start_idx[np.maximum(run, 0)] if start_idx.size else np.zeros(n, dtype=np.int64)
    count = np.arange(n) - begin + 1
    span_ms = t_ms - t_ms[begin]
    return np.asarray(mask & (count >= fixes) & (span_ms >= seconds * 1000.0), dtype=bool)


@dataclass(frozen=True)
class Flips:
    """Where subjects' alert states flip, in input order.

    Attributes
    ----------
    index : ndarray of int64, shape (k,)
        The fix at which each flip happens.
    opened : ndarray of bool, shape (k,)
        True where the alert opens, False where it clears; a subject's flips alternate.
    final : ndarray of bool, shape (m,)
        Each subject's state after its last fix (its initial state when it has none).
    """

    index: NDArray[np.int64]
    opened: NDArray[np.bool_]
    final: NDArray[np.bool_]


def flips(
    subject: ArrayLike,
    t_ms: ArrayLike,
    high: ArrayLike,
    low: ArrayLike,
    initial: ArrayLike,
    after_ms: ArrayLike,
    fixes: int,
    seconds: float,
) -> Flips:
    """The opening and clearing flips of many subjects' alerts, vectorised.

    Parameters
    ----------
    subject : array_like of int, shape (n,)
        Each fix's subject, ``0 <= subject < m``, sorted (a subject's fixes together).
    t_ms : array_like of int, shape (n,)
        Fix times, ms since the epoch, increasing within a subject.
    high, low : array_like of bool, shape (n,)
        The open and the clear condition; never both true at one fix.
    initial : array_like of bool, shape (m,)
        Whether each subject's alert is open before its first fix here.
    after_ms : array_like of int, shape (m,)
        Only fixes later than this flip a subject (its earlier fixes were evaluated by an
        earlier run: they still count towards a run, but flip nothing again).
    fixes, seconds
        A condition flips the state once it held on ``fixes`` consecutive fixes spanning
        ``seconds`` (:func:`confirmed`).

    Returns
    -------
    Flips

    Notes
    -----
    ``open`` where a high run is confirmed, ``clear`` where a low run is; each fix's state is
    the latest such event of its subject at or before it (else the initial state), found with
    one running maximum of event positions. A flip is a fix whose state differs from the
    previous fix's (or from the initial state, at a subject's first fix).

    Examples
    --------
    One noisy fix opens nothing; three consecutive ones do; the margin band changes nothing:

    >>> soc = np.array([19, 50, 19, 18, 18, 22, 26, 26, 26])
    >>> out = flips(np.zeros(9, int), np.arange(9) * 5000, soc < 20, soc >= 25,
    ...             [False], [-1], fixes=2, seconds=0)
    >>> out.index.tolist(), out.opened.tolist(), out.final.tolist()
    ([3, 7], [True, False], [False])
    """
    g = np.asarray(subject, dtype=np.int64)
    t = np.asarray(t_ms, dtype=np.int64)
    hi = np.asarray(high, dtype=bool)
    lo = np.asarray(low, dtype=bool)
    init = np.asarray(initial, dtype=bool)
    after = np.asarray(after_ms, dtype=np.int64)
    n, m = g.shape[0], init.shape[0]
    if not (t.shape == hi.shape == lo.shape == (n,)) or after.shape != (m,):
        raise AlertError("flips: subject, t_ms, high and low must be (n,), after_ms (m,)")
    if n and (g.min() < 0 or g.max() >= m or np.any(np.diff(g) < 0)):
        raise AlertError("flips: subjects must be sorted and lie in [0, m)")
    if np.any(hi & lo):
        raise AlertError("flips: high and low hold together at a fix")
    if n == 0:
        return Flips(np.zeros(0, np.int64), np.zeros(0, bool), init.copy())
    first = np.r_[True, g[1:] != g[:-1]]
    live = t > after[g]
    event = np.zeros(n, dtype=np.int8)
    event[confirmed(lo, first, t, fixes, seconds) & live] = -1
    event[confirmed(hi, first, t, fixes, seconds) & live] = 1
    marks = np.where((event != 0) | first, np.arange(n), -1)
    latest = np.maximum.accumulate(marks)
    state = np.where(event[latest] != 0, event[latest] > 0, init[g])
    before = np.where(first, init[g], np.r_[False, state[:-1]])
    index = np.flatnonzero(state != before)
    final = init.copy()
    last = np.r_[first[1:], True]
    final[g[last]] = state[last]
    return Flips(index.astype(np.int64), state[index], final)
