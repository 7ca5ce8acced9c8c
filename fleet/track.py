"""Fixes of many vehicles as columns, in (vehicle, time) order: what segmentation reads.

A fix is identified by its vehicle and device time, and the two pack into one sortable
``int64`` (:func:`time_key`), so finding a fix's ride or trip is one ``np.searchsorted``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fleet.errors import TrackError

__all__ = ["END_OF_TIME_MS", "Track", "time_key"]

_TIME_BITS = 42  # (vehicle, t_ms) packed into one int64 key: t_ms < 2**42 (until 2109)
_VEHICLE_LIMIT = 1 << (63 - _TIME_BITS)
END_OF_TIME_MS = (1 << _TIME_BITS) - 1
"""The latest time a track may hold, ms since the epoch (2109): an open interval's end."""


def time_key(vehicle: NDArray[np.int64], t_ms: NDArray[np.int64]) -> NDArray[np.int64]:
    """``(vehicle, t_ms)`` packed into one int64 that sorts as the pair does.

    Examples
    --------
    >>> keys = time_key(np.array([1, 1, 2]), np.array([5, 9, 0]))
    >>> bool((np.diff(keys) > 0).all())
    True
    """
    return np.asarray((vehicle << _TIME_BITS) | t_ms, dtype=np.int64)


def _check_keys(veh: NDArray[np.int64], t: NDArray[np.int64]) -> None:
    """Equal 1-d shapes, and keys and times in the range :func:`time_key` packs."""
    if veh.ndim != 1 or t.shape != veh.shape:
        raise TrackError(f"vehicle {veh.shape} and t_ms {t.shape} must be equal 1-d shapes")
    if veh.size:
        if veh.min() < 0 or veh.max() >= _VEHICLE_LIMIT:
            raise TrackError("vehicle keys must lie in [0, 2**21)")
        if t.min() < 0 or t.max() > END_OF_TIME_MS:
            raise TrackError("t_ms must lie in [0, 2**42) ms (1970 to 2109)")


def _column(values: ArrayLike | None, n: int, name: str) -> NDArray[np.float64]:
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
    power_w : ndarray of float64, shape (n,)
        Reported battery voltage times current (W, positive while discharging); NaN when
        either is absent.

    Examples
    --------
    >>> track = Track.from_unsorted([2, 1, 1], [0, 2000, 1000], [32.1, 32.0, 32.0], [-7.9] * 3)
    >>> track.vehicle.tolist(), track.t_ms.tolist(), len(track)
    ([1, 1, 2], [1000, 2000, 0], 3)
    """

    vehicle: NDArray[np.int64]
    t_ms: NDArray[np.int64]
    lat: NDArray[np.float64]
    lon: NDArray[np.float64]
    speed_kmh: NDArray[np.float64]
    hdop: NDArray[np.float64]
    soc_pct: NDArray[np.float64]
    odometer_km: NDArray[np.float64]
    power_w: NDArray[np.float64]

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
        power_w: ArrayLike | None = None,
    ) -> Track:
        """Build a track, converting once and checking shapes and (vehicle, time) order.

        Raises
        ------
        TrackError
            When shapes differ, a key or time is out of range, or the order is wrong.
        """
        veh = np.asarray(vehicle, dtype=np.int64)
        t = np.asarray(t_ms, dtype=np.int64)
        _check_keys(veh, t)
        n = veh.shape[0]
        track = cls(
            vehicle=veh,
            t_ms=t,
            lat=_column(lat, n, "lat"),
            lon=_column(lon, n, "lon"),
            speed_kmh=_column(speed_kmh, n, "speed_kmh"),
            hdop=_column(hdop, n, "hdop"),
            soc_pct=_column(soc_pct, n, "soc_pct"),
            odometer_km=_column(odometer_km, n, "odometer_km"),
            power_w=_column(power_w, n, "power_w"),
        )
        if n:
            same_vehicle_step = np.diff(veh)
            if np.any((same_vehicle_step < 0) | ((same_vehicle_step == 0) & (np.diff(t) <= 0))):
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
        power_w: ArrayLike | None = None,
    ) -> Track:
        """Like :meth:`from_arrays`, for fixes in any order and possibly repeated: sorts by
        (vehicle, time) and keeps the first of fixes sharing a vehicle and time (the store's
        rule: a point is identified by vehicle and device timestamp). One stable sort of the
        packed keys (:func:`time_key`), not a two-key ``np.lexsort``: the same order, about
        40 % faster at 3 M fixes."""
        veh = np.asarray(vehicle, dtype=np.int64)
        t = np.asarray(t_ms, dtype=np.int64)
        _check_keys(veh, t)
        order = np.argsort(time_key(veh, t), kind="stable")
        veh, t = veh[order], t[order]
        first = np.ones(veh.shape[0], dtype=bool)
        first[1:] = (veh[1:] != veh[:-1]) | (t[1:] != t[:-1])
        pick = order[first]

        def take(values: ArrayLike | None) -> NDArray[np.float64] | None:
            return None if values is None else np.asarray(values, dtype=np.float64)[pick]

        return cls.from_arrays(
            veh[first],
            t[first],
            lat=np.asarray(lat, dtype=np.float64)[pick],
            lon=np.asarray(lon, dtype=np.float64)[pick],
            speed_kmh=take(speed_kmh),
            hdop=take(hdop),
            soc_pct=take(soc_pct),
            odometer_km=take(odometer_km),
            power_w=take(power_w),
        )

    def __len__(self) -> int:
        return int(self.vehicle.shape[0])
