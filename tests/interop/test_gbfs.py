"""interop/gbfs.py: ranges, vehicle types and the vehicle list, as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from interop.gbfs import discovery, range_m, vehicle_status, vehicle_type_id, vehicle_types

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)


def test_range_is_capacity_over_consumption() -> None:
    """2.3 kWh at 0.0584 kWh/km goes 39.38 km; half charged, half as far; unknown SoC, 0."""
    got = range_m([2.3, 2.3, 2.3], 0.0584, [100.0, 50.0, np.nan])
    assert got.tolist() == [39383.0, 19691.0, 0.0]
    with pytest.raises(ValueError, match="kwh_per_km"):
        range_m([2.3], 0.0)


def test_one_vehicle_type_per_capacity() -> None:
    """Two capacities (one given twice) make two moped types, named by their watt-hours."""
    types = vehicle_types([2.3, 3.0, 2.3], 0.05, "en", NOW)["data"]["vehicle_types"]
    assert [t["vehicle_type_id"] for t in types] == ["moped-2300wh", "moped-3000wh"]
    assert [t["max_range_meters"] for t in types] == [46000.0, 60000.0]
    assert vehicle_type_id(2.3) == "moped-2300wh"


def test_vehicles_are_listed_by_their_opaque_id() -> None:
    """The list's order follows the ids, not the vehicles' names (it must not identify them),
    fuel is the SoC as 0-1 and the range its share of the type's."""
    rows = [
        {
            "fleet": "pogo",
            "vehicle": f"m{i}",
            "trips": i,
            "lat": 32.24,
            "lon": -7.95,
            "soc_pct": 40.0 + i,
            "battery_kwh": 2.0,
            "disabled": False,
            "last_seen": NOW,
        }
        for i in range(5)
    ]
    vehicles = vehicle_status(rows, b"k" * 32, 0.05, NOW)["data"]["vehicles"]
    ids = [v["vehicle_id"] for v in vehicles]
    assert ids == sorted(ids)
    assert sorted(v["current_fuel_percent"] for v in vehicles) == [0.4, 0.41, 0.42, 0.43, 0.44]
    assert sorted(v["current_range_meters"] for v in vehicles)[0] == 16000.0


def test_discovery_lists_every_file() -> None:
    """gbfs.json names itself and the four files under the base URL."""
    feeds = discovery("http://x/gbfs/", NOW)["data"]["feeds"]
    assert [f["url"] for f in feeds] == [
        f"http://x/gbfs/{n}.json"
        for n in (
            "gbfs",
            "system_information",
            "vehicle_types",
            "vehicle_status",
            "geofencing_zones",
        )
    ]
