"""Battery figures per trip: the energy drawn, from the state of charge and the capacity."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["energy_kwh"]


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
