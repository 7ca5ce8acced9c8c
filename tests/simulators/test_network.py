"""simulators/network.py: the Benguerir-shaped street graph between the named zones."""

from __future__ import annotations

import itertools

import numpy as np

from simulators.network import load_zones, street_network, to_lonlat, to_xy


def test_zones_are_the_shared_geofences() -> None:
    """The zones are read from fleet/data/benguerir_zones.geojson, ordered by sort."""
    zones = load_zones()
    assert zones.ids[:3] == ("charging_campus", "charging_centre", "charging_station")
    assert {"um6p_campus", "city_centre", "railway_station"} <= set(zones.ids)
    # A charging station inside the campus is named by the station (the lower sort).
    station = zones.polygons[0].centroid
    assert zones.names(zones.locate([station.x], [station.y]))[0] == "charging_campus"


def test_graph_spans_the_town_and_is_connected() -> None:
    """Every pair of junctions is joined; every named zone has junctions; UM6P is west."""
    net = street_network()
    assert np.isfinite(net.length).all()
    zones = net.zones
    for index, zone_id in enumerate(zones.ids):
        assert (net.zone == index).any(), zone_id
    campus = net.lon[net.zone == zones.ids.index("um6p_campus")].mean()
    station = net.lon[net.zone == zones.ids.index("railway_station")].mean()
    assert campus < station
    assert abs(net.lat.mean() - 32.24) < 0.01 and abs(net.lon.mean() + 7.955) < 0.02


def test_speed_limits_and_charging_nodes() -> None:
    """Streets run at 25 to 60 km/h, with a 60 km/h boulevard; each charging station is a
    node inside its polygon."""
    net = street_network()
    limits = np.unique(np.round(net.speed_ms[net.speed_ms > 0] * 3.6))
    assert limits.min() >= 25 and limits.max() == 60
    for node, zone_id in zip(net.charging, net.zones.ids[:3], strict=True):
        assert net.zones.ids[net.zone[node]] == zone_id
    assert net.signal.any()


def test_paths_follow_edges() -> None:
    """Every hop of a quickest path is a street, and its length is the path's length."""
    net = street_network()
    rng = np.random.default_rng(0)
    origin = rng.integers(0, net.size, 50)
    dest = rng.integers(0, net.size, 50)
    nodes, offsets = net.paths(origin, dest)
    for k in range(50):  # a check per path, in a test
        path = nodes[offsets[k] : offsets[k + 1]]
        assert path[0] == origin[k] and path[-1] == dest[k]
        hops = list(itertools.pairwise(path))
        assert all(net.speed_ms[a, b] > 0 for a, b in hops)
        length = sum(np.hypot(net.x[b] - net.x[a], net.y[b] - net.y[a]) for a, b in hops)
        assert abs(length - net.length[origin[k], dest[k]]) < 1e-6


def test_projection_round_trip() -> None:
    """Local metres and degrees convert both ways."""
    lon, lat = to_lonlat(*to_xy([-7.95, -7.98], [32.24, 32.23]))
    assert np.allclose(lon, [-7.95, -7.98]) and np.allclose(lat, [32.24, 32.23])
