"""The zones alerts watch: geofenced zones (enter and exit) and zones with a speed limit."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

from fleet.geofence import Zone, Zones

__all__ = ["AlertZone", "Fences"]

_M_PER_DEG_LAT = 111_195.0


@dataclass(frozen=True)
class AlertZone:
    """A zone with its alert flags (``zones.alert_geofence``, ``zones.speed_limit_kmh``)."""

    zone_id: str
    name: str
    polygon_wkt: str
    geofence: bool = False
    speed_limit_kmh: float | None = None


class Fences:
    """The zones of the alerts, prepared once per run.

    Parameters
    ----------
    zones : iterable of AlertZone
    margin_m : float
        How far outside a geofenced zone a fix must be to count as having left it, m.

    Notes
    -----
    Every zone is kept in :attr:`zones` (id order), geofenced or not, so that an alert open on
    a zone no longer geofenced can still clear; :attr:`geofenced` says which are watched. The
    exit buffer is ``margin_m`` in degrees of latitude (``margin_m / 111,195``), which on the
    ground is at least ``margin_m`` in every direction (more east-west, by ``1 / cos(lat)``).
    """

    def __init__(self, zones: Iterable[AlertZone], margin_m: float) -> None:
        self.zones: tuple[AlertZone, ...] = tuple(sorted(zones, key=lambda z: z.zone_id))
        self.ids: NDArray[np.object_] = np.array([z.zone_id for z in self.zones], dtype=object)
        self.names: dict[str, str] = {z.zone_id: z.name for z in self.zones}
        self.geofenced: NDArray[np.bool_] = np.array([z.geofence for z in self.zones], bool)
        self.limit_kmh: NDArray[np.float64] = np.array(
            [np.nan if z.speed_limit_kmh is None else z.speed_limit_kmh for z in self.zones],
            dtype=np.float64,
        )
        prepared = Zones(
            Zone(z.zone_id, z.name, "", z.polygon_wkt, i) for i, z in enumerate(self.zones)
        )
        self._inner = prepared
        self._outer = shapely.buffer(prepared.polygons, margin_m / _M_PER_DEG_LAT)
        shapely.prepare(self._outer)

    def __len__(self) -> int:
        return len(self.zones)

    def index(self, zone_ids: ArrayLike) -> NDArray[np.int64]:
        """Position in :attr:`zones` of each id (-1 for an id not among them)."""
        ids = np.asarray(zone_ids, dtype=object)
        out = np.full(ids.shape[0], -1, dtype=np.int64)
        if not len(self) or not ids.size:
            return out
        at = np.searchsorted(self.ids.astype(str), ids.astype(str))
        at = np.minimum(at, len(self) - 1)
        found = self.ids[at] == ids
        out[found] = at[found]
        return out

    def inside(self, lon: ArrayLike, lat: ArrayLike, zones: ArrayLike) -> NDArray[np.bool_]:
        """Whether each point lies inside each of ``zones`` (positions), shape (n, len(zones))."""
        return self._matrix(self._inner.polygons, lon, lat, zones)

    def beyond_margin(self, lon: ArrayLike, lat: ArrayLike, zones: ArrayLike) -> NDArray[np.bool_]:
        """Whether each point lies outside each of ``zones`` by the margin, (n, len(zones))."""
        return ~self._matrix(self._outer, lon, lat, zones)

    def speed_limit(
        self, lon: ArrayLike, lat: ArrayLike
    ) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """Each point's speed limit (the lowest of the limited zones holding it; NaN outside
        every one), km/h, and the position of that zone (-1 outside), shape (n,) each."""
        x = np.asarray(lon, dtype=np.float64)
        y = np.asarray(lat, dtype=np.float64)
        limit = np.full(x.shape[0], np.nan)
        zone = np.full(x.shape[0], -1, dtype=np.int64)
        limited = np.flatnonzero(np.isfinite(self.limit_kmh))
        if not limited.size or not x.size:
            return limit, zone
        hold = self._matrix(self._inner.polygons, x, y, limited)
        limits = np.where(hold, self.limit_kmh[limited], np.inf)
        best = np.argmin(limits, axis=1)
        found = np.isfinite(limits[np.arange(x.shape[0]), best])
        limit[found] = limits[np.arange(x.shape[0]), best][found]
        zone[found] = limited[best[found]]
        return limit, zone

    @staticmethod
    def _matrix(
        polygons: NDArray[np.object_], lon: ArrayLike, lat: ArrayLike, zones: ArrayLike
    ) -> NDArray[np.bool_]:
        x = np.asarray(lon, dtype=np.float64)
        y = np.asarray(lat, dtype=np.float64)
        cols = np.asarray(zones, dtype=np.int64)
        # One vectorised containment test per zone column (a handful of zones, many points),
        # on the points inside the zone's bounding box only (most points are outside it).
        out = np.zeros((x.shape[0], cols.shape[0]), dtype=bool)
        for j, z in enumerate(cols.tolist()):
            x0, y0, x1, y1 = shapely.bounds(polygons[z]).tolist()
            box = np.flatnonzero((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1))
            out[box, j] = shapely.contains_xy(polygons[z], x[box], y[box])
        return out
