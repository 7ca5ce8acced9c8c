"""The alerts' zones (fleet/alerts/fences.py): the vectorised containment, exit margin and
speed limit against shapely one point at a time."""

from __future__ import annotations

import numpy as np
import shapely

from fleet import load_geojson
from fleet.alerts import AlertZone, Fences

LIMITS = {"um6p_campus": 30.0, "charging_campus": 10.0, "city_centre": 40.0}


def _fences(margin_m: float = 25.0) -> Fences:
    return Fences(
        [
            AlertZone(z.zone_id, z.name, z.polygon_wkt, z.zone_id.startswith("charging"),
                      LIMITS.get(z.zone_id))
            for z in load_geojson()
        ],
        margin_m,
    )  # fmt: skip


def _points(n: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    return rng.uniform(-7.995, -7.925, n), rng.uniform(32.215, 32.265, n)


def test_inside_and_beyond_the_margin_match_shapely_point_by_point() -> None:
    """Inside each zone, and outside its margin-wide buffer, as shapely says per point."""
    fences = _fences()
    lon, lat = _points()
    cols = np.arange(len(fences))
    inside = fences.inside(lon, lat, cols)
    beyond = fences.beyond_margin(lon, lat, cols)
    for j, zone in enumerate(fences.zones):
        polygon = shapely.from_wkt(zone.polygon_wkt)
        grown = polygon.buffer(25.0 / 111_195.0)
        for i in range(0, lon.size, 7):
            point = shapely.Point(lon[i], lat[i])
            assert inside[i, j] == polygon.contains(point)
            assert beyond[i, j] == (not grown.contains(point))
    assert inside.any() and (~beyond & ~inside).any()  # some points lie in the margin band


def test_the_margin_is_at_least_its_metres_on_the_ground() -> None:
    """A point 20 m outside a zone's edge (north or east) is inside the 25 m margin; one 30 m
    out is beyond it."""
    fences = _fences()
    at = int(np.flatnonzero(fences.ids == "um6p_campus")[0])
    north_edge, east_edge, lat0 = 32.246, -7.972, 32.235
    m_lat = 1 / 111_195.0
    m_lon = m_lat / np.cos(np.radians(lat0))
    lon = np.array([-7.98, -7.98, east_edge + 20 * m_lon, east_edge + 30 * m_lon])
    lat = np.array([north_edge + 20 * m_lat, north_edge + 30 * m_lat, lat0, lat0])
    assert fences.beyond_margin(lon, lat, [at])[:, 0].tolist() == [False, True, False, True]


def test_speed_limit_is_the_lowest_of_the_limited_zones_holding_the_point() -> None:
    """Each point's limit and its zone: the lowest limit among the limited zones holding it,
    NaN and -1 outside them all."""
    fences = _fences()
    lon, lat = _points()
    limit, zone = fences.speed_limit(lon, lat)
    for i in range(0, lon.size, 5):
        point = shapely.Point(lon[i], lat[i])
        holding = [
            (z.speed_limit_kmh, z.zone_id)
            for z in fences.zones
            if z.speed_limit_kmh is not None and shapely.from_wkt(z.polygon_wkt).contains(point)
        ]
        if not holding:
            assert np.isnan(limit[i]) and zone[i] == -1
        else:
            best = min(holding)
            assert limit[i] == best[0] and fences.ids[zone[i]] == best[1]
    assert np.isfinite(limit).any()
