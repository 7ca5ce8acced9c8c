"""A Benguerir-shaped synthetic street graph between the city's named zones.

The zones come from ``fleet/data/benguerir_zones.geojson`` (the same polygons the trip builder
uses), read as data. The graph is a jittered grid of streets (about 280 m blocks) kept where
the town is: around the zones, plus the boulevard that joins UM6P's campus on the west side to
the city centre and the railway station on the east. The boulevard is a 60 km/h road, the
north-south avenue through the centre 50 km/h, the campus lanes 30 km/h, other streets 40 km/h.
Each charging station is a node of its own inside its polygon. Routes are the quickest paths
(travel time, plus a penalty per junction), precomputed for every pair of nodes.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib.resources import files

import numpy as np
import numpy.typing as npt
import shapely

__all__ = [
    "LAT0",
    "LON0",
    "Network",
    "Zones",
    "load_zones",
    "street_network",
    "to_lonlat",
    "to_xy",
]

LAT0 = 32.2390
LON0 = -7.9560
_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LON = 111_320.0 * float(np.cos(np.radians(LAT0)))

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


def to_xy(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[F64, F64]:
    """WGS84 degrees to local metres east and north of the town's reference point."""
    x = (np.asarray(lon, dtype=np.float64) - LON0) * _M_PER_DEG_LON
    y = (np.asarray(lat, dtype=np.float64) - LAT0) * _M_PER_DEG_LAT
    return x, y


def to_lonlat(x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[F64, F64]:
    """Local metres back to WGS84 degrees (longitude, latitude)."""
    lon = np.asarray(x, dtype=np.float64) / _M_PER_DEG_LON + LON0
    lat = np.asarray(y, dtype=np.float64) / _M_PER_DEG_LAT + LAT0
    return lon, lat


@dataclass(frozen=True)
class Zones:
    """The named zones, ordered by ``sort`` (the first that contains a point names it)."""

    ids: tuple[str, ...]
    kinds: tuple[str, ...]
    polygons: tuple[shapely.Polygon, ...]

    def locate(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Index of the zone of each point (lowest ``sort`` containing it), -1 for none."""
        lon = np.asarray(lon, dtype=np.float64)
        lat = np.asarray(lat, dtype=np.float64)
        found = np.full(lon.shape, -1, dtype=np.int64)
        for index in range(len(self.ids) - 1, -1, -1):  # a loop over the 9 zones, not points
            inside = shapely.contains_xy(self.polygons[index], lon, lat)
            found[inside] = index
        return found

    def names(self, index: npt.ArrayLike) -> npt.NDArray[np.str_]:
        """Zone ids for :meth:`locate`'s indexes ('' for none)."""
        table = np.array([*self.ids, ""], dtype="U32")
        return table[np.asarray(index)]  # type: ignore[no-any-return]


@functools.cache
def load_zones() -> Zones:
    """The zones of ``fleet/data/benguerir_zones.geojson``, sorted by their ``sort``."""
    text = (files("fleet") / "data" / "benguerir_zones.geojson").read_text(encoding="utf-8")
    features = sorted(json.loads(text)["features"], key=lambda f: f["properties"]["sort"])
    polygons = []
    for feature in features:
        polygon = shapely.geometry.shape(feature["geometry"])
        shapely.prepare(polygon)
        polygons.append(polygon)
    return Zones(
        ids=tuple(f["properties"]["zone_id"] for f in features),
        kinds=tuple(f["properties"]["kind"] for f in features),
        polygons=tuple(polygons),
    )


@dataclass(frozen=True)
class Network:
    """The street graph and its all-pairs quickest paths.

    ``x``/``y`` are node positions in local metres; ``lon``/``lat`` the same in degrees;
    ``zone`` each node's zone index (:class:`Zones` order, -1 outside every zone);
    ``speed_ms[i, j]`` the speed limit of edge i->j (0 where there is none);
    ``length[i, j]`` the length in metres of the quickest path i->j; ``next_hop[i, j]`` the
    node after i on it; ``signal`` whether a node has traffic lights;
    ``charging`` the node of each charging station.
    """

    x: F64
    y: F64
    lon: F64
    lat: F64
    zone: I64
    speed_ms: F64
    length: F64
    next_hop: npt.NDArray[np.int32]
    signal: npt.NDArray[np.bool_]
    charging: I64
    zones: Zones

    @property
    def size(self) -> int:
        """Number of nodes."""
        return int(self.x.size)

    def paths(self, origin: I64, dest: I64) -> tuple[I64, I64]:
        """Node sequences of the quickest paths origin->dest, for many pairs at once.

        Returns ``(nodes, offsets)``: path ``k`` is ``nodes[offsets[k]:offsets[k + 1]]``,
        from its origin to its destination inclusive (one node when they are equal).
        The walk advances every path one hop per step (a loop over hops, not over paths).
        """
        origin = np.asarray(origin, dtype=np.int64)
        dest = np.asarray(dest, dtype=np.int64)
        steps = [origin]
        current = origin
        while True:
            active = current != dest
            if not active.any():
                break
            current = np.where(active, self.next_hop[current, dest], current).astype(np.int64)
            steps.append(np.where(active, current, -1))
        table = np.stack(steps, axis=1)  # (paths, hops + 1), -1 after arrival
        valid = table >= 0
        counts = valid.sum(axis=1)
        offsets = np.zeros(origin.size + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        return table[valid].astype(np.int64), offsets


def _floyd_warshall(cost: F64, length: F64) -> tuple[F64, npt.NDArray[np.int32]]:
    """All-pairs quickest paths over ``cost``; returns (path lengths, next hops)."""
    n = cost.shape[0]
    dist = cost.copy()
    plen = length.copy()
    next_hop = np.where(np.isfinite(cost), np.arange(n)[None, :], -1).astype(np.int32)
    np.fill_diagonal(dist, 0.0)
    np.fill_diagonal(plen, 0.0)
    np.fill_diagonal(next_hop, np.arange(n, dtype=np.int32))
    for k in range(n):  # Floyd-Warshall: a loop over pivot nodes, vectorised over pairs
        via = dist[:, k : k + 1] + dist[k : k + 1, :]
        better = via < dist - 1e-9
        if better.any():
            dist = np.where(better, via, dist)
            plen = np.where(better, plen[:, k : k + 1] + plen[k : k + 1, :], plen)
            next_hop = np.where(better, next_hop[:, k : k + 1], next_hop)
    return plen, next_hop


@functools.cache
def street_network(spacing_m: float = 280.0, seed: int = 20240601) -> Network:
    """Build (once per process) the Benguerir street graph; fixed, independent of scenarios."""
    zones = load_zones()
    rng = np.random.default_rng(seed)
    town = shapely.union_all([p.buffer(0.0035) for p in zones.polygons])
    boulevard_lat = 32.2385
    corridor = shapely.box(-7.990, boulevard_lat - 0.0030, -7.930, boulevard_lat + 0.0030)
    town = shapely.union(town, corridor)
    minx, miny, maxx, maxy = town.bounds
    x0, y0 = to_xy(minx, miny)
    x1, y1 = to_xy(maxx, maxy)
    gx = np.arange(float(x0), float(x1) + 1, spacing_m)
    gy = np.arange(float(y0), float(y1) + 1, spacing_m)
    grid_col, grid_row = np.meshgrid(np.arange(gx.size), np.arange(gy.size))
    col, row = grid_col.ravel(), grid_row.ravel()
    px, py = gx[col], gy[row]
    lon, lat = to_lonlat(px, py)
    keep = shapely.contains_xy(town, lon, lat)
    # The boulevard row and the centre's avenue column carry the fast traffic.
    by = float(to_xy(LON0, boulevard_lat)[1])
    boulevard_row = int(np.argmin(np.abs(gy - by)))
    avenue_col = int(np.argmin(np.abs(gx - float(to_xy(-7.9545, LAT0)[0]))))
    index = -np.ones((gy.size, gx.size), dtype=np.int64)
    index[row[keep], col[keep]] = np.arange(int(keep.sum()))
    px, py, row, col = px[keep], py[keep], row[keep], col[keep]
    # Jitter the junctions a little (not on the boulevard, which runs straight).
    jitter = rng.uniform(-spacing_m * 0.12, spacing_m * 0.12, size=(2, px.size))
    on_boulevard = row == boulevard_row
    px = px + jitter[0]
    py = py + np.where(on_boulevard, 0.0, jitter[1])
    n_grid = px.size

    # Charging stations: one node each, at the centre of its polygon.
    charging_ids = [i for i, kind in enumerate(zones.kinds) if kind == "charging"]
    cx, cy = [], []
    for zi in charging_ids:
        c = zones.polygons[zi].centroid
        ccx, ccy = to_xy(c.x, c.y)
        cx.append(float(ccx))
        cy.append(float(ccy))
    px = np.concatenate([px, np.array(cx)])
    py = np.concatenate([py, np.array(cy)])
    n = px.size
    speed = np.zeros((n, n), dtype=np.float64)
    kmh = 40.0

    def link(a: I64, b: I64, limit_kmh: F64 | float) -> None:
        speed[a, b] = np.asarray(limit_kmh) / 3.6
        speed[b, a] = np.asarray(limit_kmh) / 3.6

    lon_all, lat_all = to_lonlat(px, py)
    on_campus = shapely.contains_xy(
        zones.polygons[zones.ids.index("um6p_campus")], lon_all, lat_all
    )
    for drow, dcol in ((0, 1), (1, 0)):  # east and north neighbours
        nr, nc = row + drow, col + dcol
        ok = (nr < gy.size) & (nc < gx.size)
        a = np.flatnonzero(ok)
        b = index[nr[ok], nc[ok]]
        has = b >= 0
        a, b = a[has], b[has]
        limit = np.full(a.size, kmh)
        limit[on_campus[a] & on_campus[b]] = 30.0
        if drow == 0:
            limit[(row[a] == boulevard_row)] = 60.0
        else:
            limit[(col[a] == avenue_col)] = 50.0
        # A few blocks have no through street (dead walls, a park, a wadi).
        closed = rng.random(a.size) < 0.07
        closed &= limit == kmh
        link(a[~closed], b[~closed], limit[~closed])
    # Each charging station joins its two nearest junctions.
    for k in range(len(charging_ids)):
        node = n_grid + k
        d = np.hypot(px[:n_grid] - px[node], py[:n_grid] - py[node])
        for near in np.argsort(d)[:2]:
            link(np.array([node]), np.array([near]), 25.0)

    lengths = np.hypot(px[:, None] - px[None, :], py[:, None] - py[None, :])
    junction_penalty_s = 6.0
    with np.errstate(divide="ignore"):
        cost = np.where(
            speed > 0, lengths / np.where(speed > 0, speed, 1.0) + junction_penalty_s, np.inf
        )
    edge_len = np.where(speed > 0, lengths, np.inf)
    plen, next_hop = _floyd_warshall(cost, edge_len)
    # Keep the largest connected part (closures may cut off a corner).
    reach = np.isfinite(plen)
    main = int(np.argmax(reach.sum(axis=1)))
    connected = reach[main] & reach[:, main]
    if not connected.all():
        keep_idx = np.flatnonzero(connected)
        remap = -np.ones(n, dtype=np.int64)
        remap[keep_idx] = np.arange(keep_idx.size)
        px, py = px[keep_idx], py[keep_idx]
        speed = speed[np.ix_(keep_idx, keep_idx)]
        plen = plen[np.ix_(keep_idx, keep_idx)]
        next_hop = remap[next_hop[np.ix_(keep_idx, keep_idx)]].astype(np.int32)
        charging_nodes = remap[n_grid + np.arange(len(charging_ids))]
        is_boulevard = np.concatenate([on_boulevard, np.zeros(len(charging_ids), bool)])[keep_idx]
    else:
        charging_nodes = n_grid + np.arange(len(charging_ids), dtype=np.int64)
        is_boulevard = np.concatenate([on_boulevard, np.zeros(len(charging_ids), bool)])
    lon_all, lat_all = to_lonlat(px, py)
    degree = (speed > 0).sum(axis=1)
    fast = (speed > 45 / 3.6).sum(axis=1)
    signal = (degree >= 4) & ((fast >= 2) | is_boulevard) & (fast < degree)
    return Network(
        x=px,
        y=py,
        lon=lon_all,
        lat=lat_all,
        zone=zones.locate(lon_all, lat_all),
        speed_ms=speed,
        length=plen,
        next_hop=next_hop,
        signal=signal,
        charging=np.asarray(charging_nodes, dtype=np.int64),
        zones=zones,
    )
