"""interop/ids.py: stable lower-case UUIDs for MDS, rotating keyed ids for GBFS."""

from __future__ import annotations

import re
import uuid

from interop import ids

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def test_mds_ids_are_stable_lower_case_uuid5s() -> None:
    """Each id is a version 5 UUID in lower case, the same for the same name, different for
    another vehicle, trip, event or fix, and not the same across kinds."""
    made = [
        ids.device_id("pogo", "m1"),
        ids.device_id("pogo", "m2"),
        ids.device_id("other", "m1"),
        ids.trip_id("pogo", "m1", 1000),
        ids.trip_id("pogo", "m1", 1001),
        ids.event_id("pogo", "m1", 1000, "trip_start"),
        ids.event_id("pogo", "m1", 1000, "trip_end"),
        ids.telemetry_id("pogo", "m1", 1000),
        ids.provider_id(),
    ]
    assert all(UUID.match(i) for i in made)
    assert len(set(made)) == len(made)
    assert ids.device_id("pogo", "m1") == str(uuid.uuid5(ids.NAMESPACE, "device/pogo/m1"))
    assert ids.trip_id("pogo", "m1", 1000) == ids.trip_id("pogo", "m1", 1000)


def test_gbfs_ids_rotate_with_the_trip_count_and_the_key() -> None:
    """Same vehicle, same trip count, same key: same id; any of them changed: another id,
    which contains neither the vehicle's name nor a UUID of it."""
    key = b"k" * 32
    base = ids.gbfs_vehicle_id(key, "pogo", "m1", 3)
    assert base == ids.gbfs_vehicle_id(key, "pogo", "m1", 3)
    others = {
        ids.gbfs_vehicle_id(key, "pogo", "m1", 4),
        ids.gbfs_vehicle_id(key, "pogo", "m2", 3),
        ids.gbfs_vehicle_id(b"j" * 32, "pogo", "m1", 3),
    }
    assert base not in others and len(others) == 3
    assert "m1" not in base and ids.device_id("pogo", "m1").replace("-", "") != base
    assert re.fullmatch(r"[0-9a-f]{32}", base)
