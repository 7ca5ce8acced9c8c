"""Geofences: the vectorised lookup against the obvious per-point loop."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from fleet import FleetError, Zone, Zones, load_geojson


def slow_zone(zones: list[Zone], lon: float, lat: float) -> str | None:
    """The obvious way: each zone in sort order, the first whose polygon contains the point."""
    for zone in sorted(zones, key=lambda z: (z.sort, z.zone_id)):
        if shapely.from_wkt(zone.polygon_wkt).contains(shapely.Point(lon, lat)):
            return zone.zone_id
    return None


def test_vectorised_lookup_equals_the_per_point_loop() -> None:
    """Over 3,000 random points around Benguerir (inside, outside, on charging stations
    nested in larger zones), the STRtree + contains_xy path names the same zone as the loop."""
    zones = load_geojson()
    rng = np.random.default_rng(4)
    lon = rng.uniform(-8.0, -7.92, 3000)
    lat = rng.uniform(32.21, 32.27, 3000)
    # Points on the three charging stations, inside larger zones.
    lon[:30] = np.repeat([-7.98, -7.954, -7.932], 10) + rng.normal(0, 2e-4, 30)
    lat[:30] = np.repeat([32.236, 32.238, 32.241], 10) + rng.normal(0, 2e-4, 30)
    fast = Zones(zones).zone_ids(lon, lat)
    slow = [slow_zone(zones, x, y) for x, y in zip(lon.tolist(), lat.tolist(), strict=True)]
    assert fast.tolist() == slow
    assert {"charging_campus", "charging_centre", "charging_station", None} <= set(slow)


def test_lowest_sort_wins_where_zones_overlap() -> None:
    """A charging station inside the campus names the station (lower sort)."""
    zones = Zones(load_geojson())
    assert zones.zone_ids([-7.98], [32.236]).tolist() == ["charging_campus"]
    assert zones.zone_ids([-7.985], [32.23]).tolist() == ["um6p_campus"]


def test_missing_positions_have_no_zone() -> None:
    """NaN coordinates give no zone rather than an error."""
    zones = Zones(load_geojson())
    assert zones.zone_ids([np.nan], [32.236]).tolist() == [None]


def test_a_zone_that_is_not_a_polygon_is_refused() -> None:
    """A zone whose WKT is a point raises FleetError naming the zone."""
    with pytest.raises(FleetError, match="lamp"):
        Zones([Zone("lamp", "Lamp", "x", "POINT (0 0)", 1)])


def test_seeded_zones_table_matches_the_geojson(db: object) -> None:
    """Migration 0020 seeded the zones table with the GeoJSON's polygons and sort order."""
    rows = db.execute("SELECT zone_id, sort, polygon_wkt FROM zones ORDER BY sort").fetchall()  # type: ignore[attr-defined]
    expected = sorted(load_geojson(), key=lambda z: z.sort)
    assert [(r[0], r[1]) for r in rows] == [(z.zone_id, z.sort) for z in expected]
    for row, zone in zip(rows, expected, strict=True):
        assert shapely.from_wkt(row[2]).equals(shapely.from_wkt(zone.polygon_wkt))
