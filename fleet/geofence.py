"""Geofences: which named zone a position lies in, vectorised with Shapely 2.

Zones may overlap (a charging station inside the campus): the zone with the lowest ``sort``
that contains the point names it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.resources import files

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

from fleet.errors import FleetError

__all__ = ["Zone", "Zones", "load_geojson"]


@dataclass(frozen=True)
class Zone:
    """A named polygon: id, name, kind, WKT (lon/lat, WGS84) and sort order."""

    zone_id: str
    name: str
    kind: str
    polygon_wkt: str
    sort: int


class Zones:
    """A set of zones ready for point-in-polygon queries.

    Parameters
    ----------
    zones : iterable of Zone

    Notes
    -----
    The polygons are prepared once; :meth:`locate` asks an ``STRtree`` which polygons'
    boxes hold each point, tests those pairs exactly with ``shapely.contains_xy`` and keeps,
    per point, the containing zone of lowest ``sort`` (ties: lowest zone id).
    """

    def __init__(self, zones: Iterable[Zone]) -> None:
        ordered = sorted(zones, key=lambda z: (z.sort, z.zone_id))
        self.zones: tuple[Zone, ...] = tuple(ordered)
        self.ids: NDArray[np.object_] = np.array([z.zone_id for z in ordered], dtype=object)
        geoms = []
        for zone in ordered:
            try:
                geom = shapely.from_wkt(zone.polygon_wkt)
            except shapely.errors.GEOSException as exc:
                raise FleetError(f"zone {zone.zone_id!r} has invalid WKT: {exc}") from exc
            if not isinstance(geom, shapely.Polygon | shapely.MultiPolygon):
                raise FleetError(f"zone {zone.zone_id!r} is a {geom.geom_type}; expected a polygon")
            geoms.append(geom)
        self.polygons: NDArray[np.object_] = np.array(geoms, dtype=object)
        shapely.prepare(self.polygons)
        self.tree = shapely.STRtree(self.polygons)

    def __len__(self) -> int:
        return len(self.zones)

    def locate(self, lon: ArrayLike, lat: ArrayLike) -> NDArray[np.int64]:
        """Index (into :attr:`zones`, lowest sort first) of each point's zone, or -1.

        Parameters
        ----------
        lon, lat : array_like of float, shape (n,)
            WGS84 degrees.

        Returns
        -------
        ndarray of int64, shape (n,)

        Examples
        --------
        >>> zones = Zones([Zone("a", "A", "campus", "POLYGON((0 0,2 0,2 2,0 2,0 0))", 2),
        ...                Zone("b", "B", "charging", "POLYGON((0 0,1 0,1 1,0 1,0 0))", 1)])
        >>> zones.locate([0.5, 1.5, 3.0], [0.5, 1.5, 3.0]).tolist()
        [0, 1, -1]
        """
        x = np.asarray(lon, dtype=np.float64)
        y = np.asarray(lat, dtype=np.float64)
        out = np.full(x.shape[0], -1, dtype=np.int64)
        if x.shape[0] == 0 or not len(self):
            return out
        ok = np.isfinite(x) & np.isfinite(y)
        idx = np.flatnonzero(ok)
        points = shapely.points(x[idx], y[idx])
        pt, zone = self.tree.query(points, predicate="intersects")
        inside = shapely.contains_xy(self.polygons[zone], x[idx[pt]], y[idx[pt]])
        pt, zone = pt[inside], zone[inside]
        best = np.full(idx.shape[0], np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(best, pt, zone)
        found = best != np.iinfo(np.int64).max
        out[idx[found]] = best[found]
        return out

    def zone_ids(self, lon: ArrayLike, lat: ArrayLike) -> NDArray[np.object_]:
        """Zone id of each point (None outside every zone), shape (n,)."""
        at = self.locate(lon, lat)
        ids = np.full(at.shape[0], None, dtype=object)
        ids[at >= 0] = self.ids[at[at >= 0]]
        return ids


def load_geojson(text: str | None = None) -> list[Zone]:
    """Zones from a GeoJSON FeatureCollection (default: ``fleet/data/benguerir_zones.geojson``).

    Each feature needs ``zone_id``, ``name``, ``kind`` and ``sort`` properties and a Polygon
    or MultiPolygon geometry.
    """
    if text is None:
        text = (files("fleet") / "data" / "benguerir_zones.geojson").read_text(encoding="utf-8")
    data = json.loads(text)
    out = []
    for feature in data["features"]:
        props = feature["properties"]
        geom = shapely.geometry.shape(feature["geometry"])
        out.append(
            Zone(
                zone_id=str(props["zone_id"]),
                name=str(props["name"]),
                kind=str(props["kind"]),
                polygon_wkt=shapely.to_wkt(geom, rounding_precision=7),
                sort=int(props.get("sort", 0)),
            )
        )
    return out
