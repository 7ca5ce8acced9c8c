"""Which alerts open and clear (fleet/alerts/evaluation.py), on tracks built in memory."""

from __future__ import annotations

import numpy as np

from fleet import Track, load_geojson
from fleet.alerts import (
    KINDS,
    AlertRules,
    AlertZone,
    Fences,
    OpenAlerts,
    Transitions,
    evaluate_fixes,
)

RULES = AlertRules()
EDGE_LON = -7.972  # the UM6P campus's east edge
LAT = 32.235
M_LON = 1 / 111_195.0 / np.cos(np.radians(LAT))


def _fences() -> Fences:
    return Fences(
        [AlertZone(z.zone_id, z.name, z.polygon_wkt, z.zone_id == "um6p_campus")
         for z in load_geojson()],
        RULES.geofence_margin_m,
    )  # fmt: skip


def _evaluate(
    track: Track, open_rows: list[tuple[int, int, str, str | None, int]] | None = None
) -> Transitions:
    vehicles = np.unique(track.vehicle)
    now = int(track.t_ms.max()) + 1000
    return evaluate_fixes(
        track, np.ones(len(track), bool), vehicles, np.full(vehicles.size, -1), now,
        OpenAlerts.from_rows(open_rows or []), _fences(), AlertRules(max_age_s=1e9),
    )  # fmt: skip


def test_jitter_across_a_zone_edge_opens_once_and_never_flaps() -> None:
    """A unit parked on the campus's edge, its fixes jittering 10 m either side for an hour:
    one geofence alert opens, and it never clears (10 m out is inside the 25 m margin)."""
    rng = np.random.default_rng(5)
    n = 720
    lon = EDGE_LON + rng.uniform(-10, 10, n) * M_LON
    track = Track.from_arrays(np.ones(n, np.int64), np.arange(n) * 5000, np.full(n, LAT), lon)
    out = _evaluate(track)
    assert [KINDS[k] for k in out.kind] == ["geofence"]
    assert out.opened.tolist() == [True]


def test_many_vehicles_are_evaluated_at_once_each_on_its_own_fixes() -> None:
    """Four vehicles in one track: the one whose SoC stays low opens low battery, the one
    whose alert is open and charges clears it; two low fixes at the end of one vehicle and one
    at the start of the next are not three in a row (a run never crosses vehicles)."""
    n = 10
    soc = np.concatenate([np.full(n, 60.0), np.full(n, 60.0), np.full(n, 50.0), np.full(n, 15.0)])
    soc[n - 2 : n] = 15.0  # vehicle 1's last two fixes...
    soc[2 * n] = 15.0  # ...and vehicle 3's first
    vehicle = np.repeat([1, 2, 3, 4], n)
    t = np.tile(np.arange(n) * 5000, 4)
    track = Track.from_arrays(vehicle, t, np.full(4 * n, 32.30), np.full(4 * n, -7.90), soc_pct=soc)
    out = _evaluate(track, open_rows=[(9, 2, "low_battery", None, 0)])
    got = sorted(zip(out.vehicle.tolist(), out.opened.tolist(), strict=True))
    assert got == [(2, False), (4, True)]
