"""GET /gbfs/*.json: the public GBFS 3.0 feed, valid against the pinned gbfs-json-schema v3.0
and the cross-file rules, on a simulated day and on small built cases."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
import shapely

from tests.city.builders import point, state, t, trip, vehicle
from tests.fixtures.simulated_day import Simulated
from tests.interop.schemas import errors, gbfs_validator, require_schemas

FILES = ("gbfs", "system_information", "vehicle_types", "vehicle_status", "geofencing_zones")


def _get(client: httpx.Client, name: str) -> dict[str, Any]:
    response = client.get(f"/gbfs/{name}.json", headers={"Authorization": ""})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    return body


def test_every_file_is_valid_gbfs_3_0(simulated: Simulated) -> None:
    """Each file of the simulated day's feed validates against its pinned GBFS 3.0 schema,
    with the envelope's RFC 3339 last_updated and integer ttl."""
    require_schemas()
    for name in FILES:
        body = _get(simulated.client, name)
        assert errors(gbfs_validator(name), body) == [], name
        assert body["version"] == "3.0"
        datetime.fromisoformat(body["last_updated"])  # RFC 3339 with an offset
        assert isinstance(body["ttl"], int)


def test_the_feed_follows_the_cross_file_rules(simulated: Simulated) -> None:
    """gbfs.json names every file at a URL that answers it; every vehicle's type is in
    vehicle_types; its range is its SoC's share of the type's range and its fuel 0-1; ids are
    unique; the system states the city's time zone."""
    client = simulated.client
    feeds = {f["name"]: f["url"] for f in _get(client, "gbfs")["data"]["feeds"]}
    assert set(feeds) == set(FILES)
    for name, url in feeds.items():
        assert url.startswith("http://") and url.endswith(f"/gbfs/{name}.json")
        assert httpx.get(url, timeout=30).status_code == 200
    types = {
        v["vehicle_type_id"]: v for v in _get(client, "vehicle_types")["data"]["vehicle_types"]
    }
    assert {v["form_factor"] for v in types.values()} == {"moped"}
    assert {v["propulsion_type"] for v in types.values()} == {"electric"}
    vehicles = _get(client, "vehicle_status")["data"]["vehicles"]
    assert vehicles, "the simulated day ends with vehicles parked or charging"
    assert len({v["vehicle_id"] for v in vehicles}) == len(vehicles)
    for v in vehicles:
        kind = types[v["vehicle_type_id"]]
        assert 0 <= v["current_fuel_percent"] <= 1
        expected = kind["max_range_meters"] * v["current_fuel_percent"]
        assert v["current_range_meters"] == pytest.approx(expected, rel=0.01, abs=50)
        assert v["current_range_meters"] <= kind["max_range_meters"]
    system = _get(client, "system_information")["data"]
    assert system["timezone"] == "Africa/Casablanca"
    assert system["feed_contact_email"] == "fleet@example.org"


def test_gbfs_validator_finds_nothing(simulated: Simulated) -> None:
    """The PyPI gbfs-validator (MobilityData's rules, in Python), pointed at the running service
    as a free-floating system, reports no error in any file."""
    require_schemas()
    from gbfs_validator import validate_feed

    report = validate_feed(f"{simulated.client.base_url}/gbfs/gbfs.json", freefloating=True)
    notices = [
        (f["file"], e)
        for f in report["files"]
        if f.get("hasErrors")
        for e in (f.get("errors") or [])
    ]
    assert report["summary"]["version"]["validated"] == "3.0"
    found = {f["file"] for f in report["files"] if f.get("exists")}
    assert found == {f"{name}.json" for name in FILES}
    assert not report["summary"]["hasErrors"], notices


def test_the_feed_is_public(simulated: Simulated) -> None:
    """The feed needs no token, even when reading the API does (a read token is set)."""
    response = httpx.get(f"{simulated.client.base_url}/gbfs/vehicle_status.json", timeout=30)
    assert response.status_code == 200
    assert httpx.get(f"{simulated.client.base_url}/mds/vehicles", timeout=30).status_code == 401


def _ids(client: httpx.Client) -> list[str]:
    return [v["vehicle_id"] for v in _get(client, "vehicle_status")["data"]["vehicles"]]


def test_no_vehicle_on_a_rental_is_published(
    db: psycopg.Connection, make_service: Callable[..., httpx.Client]
) -> None:
    """Only parked and charging vehicles are published; one riding, one parked with an open
    ride (its last ride event a ride_start), and one parked that moved since its last stored
    trip (a trip the builder has not closed yet) are not; charging is published disabled."""
    when = t("2025-03-01T12:00")
    keys = {name: vehicle(db, name) for name in ("parked", "riding", "open", "moved", "plug")}
    for name, key in keys.items():
        state(db, key, "riding" if name == "riding" else "parked", last_seen=when)
        trip(db, key, t("2025-03-01T08:00"))
    db.execute(
        "UPDATE vehicle_state SET state = 'charging' WHERE vehicle_key = %s", (keys["plug"],)
    )
    db.execute(
        "INSERT INTO vehicle_events (vehicle_key, ts, type, received_at) VALUES (%s, %s, %s, %s)",
        (keys["open"], t("2025-03-01T11:00"), "ride_start", when),
    )
    db.execute(
        "INSERT INTO telemetry (vehicle_key, ts, lat, lon, speed_kmh, received_at)"
        " VALUES (%s, %s, 32.24, -7.95, 25.0, %s)",
        (keys["moved"], t("2025-03-01T11:30"), when),
    )
    client = make_service()
    vehicles = _get(client, "vehicle_status")["data"]["vehicles"]
    assert sorted(v["is_disabled"] for v in vehicles) == [False, True]


def test_vehicle_id_rotates_after_every_trip_only(
    db: psycopg.Connection, make_service: Callable[..., httpx.Client]
) -> None:
    """A parked vehicle keeps its id from one read to the next, gets a new one after a trip,
    and its ids give neither its name nor the previous id away; another key gives other ids."""
    key = vehicle(db, "m001")
    state(db, key, "parked", last_seen=t("2025-03-01T12:00"))
    trip(db, key, t("2025-03-01T08:00"))
    client = make_service()
    first = _ids(client)
    assert first == _ids(client)
    trip(db, key, t("2025-03-01T10:00"))
    second = _ids(client)
    assert len(first) == len(second) == 1 and first != second
    assert "m001" not in first[0] and first[0] not in second[0]
    other = make_service(gbfs_vehicle_key=b"another-key-0123456789abcdef012345")
    assert _ids(other) != second


def test_ranges_come_from_the_battery_and_the_measured_consumption(
    db: psycopg.Connection, make_service: Callable[..., httpx.Client]
) -> None:
    """max_range_meters is capacity / measured kWh per km (0.27 kWh over 4.6 km trips, recent
    ones), one type per capacity; current_range_meters is the SoC's share of it."""
    now = datetime.now(UTC)
    small, big = vehicle(db, "m001", battery_kwh=2.0), vehicle(db, "m002", battery_kwh=3.0)
    for key in (small, big):
        trip(db, key, now - timedelta(days=2), km=4.6, energy_kwh=0.27)
        state(db, key, "parked", soc_pct=50.0, last_seen=now - timedelta(hours=1))
    client = make_service()
    types = _get(client, "vehicle_types")["data"]["vehicle_types"]
    per_km = 0.27 / 4.6
    assert {v["vehicle_type_id"]: v["max_range_meters"] for v in types} == {
        "moped-2000wh": pytest.approx(2.0 / per_km * 1000, abs=1),
        "moped-3000wh": pytest.approx(3.0 / per_km * 1000, abs=1),
    }
    status = _get(client, "vehicle_status")["data"]["vehicles"]
    assert sorted(v["current_range_meters"] for v in status) == [
        pytest.approx(1.0 / per_km * 1000, abs=1),
        pytest.approx(1.5 / per_km * 1000, abs=1),
    ]
    assert {v["current_fuel_percent"] for v in status} == {0.5}


def test_zones_are_published_wound_by_the_right_hand_rule(
    db: psycopg.Connection, make_service: Callable[..., httpx.Client]
) -> None:
    """Every zone of the zones table is a feature (a MultiPolygon, exterior rings counter-
    clockwise, as RFC 7946 wants) named as in the table, and riding is allowed everywhere."""
    db.execute(
        "INSERT INTO zones (zone_id, name, kind, polygon_wkt) VALUES ('cw', 'Clockwise', 'x',"
        " 'POLYGON((-7.96 32.23, -7.96 32.25, -7.94 32.25, -7.94 32.23, -7.96 32.23))')"
    )
    data = _get(make_service(), "geofencing_zones")["data"]
    stored = db.execute("SELECT name FROM zones").fetchall()
    features = data["geofencing_zones"]["features"]
    assert sorted(f["properties"]["name"][0]["text"] for f in features) == sorted(
        r[0] for r in stored
    )
    for feature in features:
        geom = shapely.geometry.shape(feature["geometry"])
        assert geom.geom_type == "MultiPolygon"
        assert all(p.exterior.is_ccw for p in geom.geoms)
    allowed = {"ride_start_allowed": True, "ride_end_allowed": True, "ride_through_allowed": True}
    assert data["global_rules"] == [allowed]


def test_a_vehicle_without_a_state_of_charge_has_no_fuel_percent(
    db: psycopg.Connection, make_service: Callable[..., httpx.Client]
) -> None:
    """An unknown SoC gives no current_fuel_percent and a range of 0, still valid GBFS."""
    require_schemas()
    key = vehicle(db)
    state(db, key, "parked", last_seen=t("2025-03-01T12:00"))
    db.execute("UPDATE vehicle_state SET soc_pct = NULL")
    point(db, key, t("2025-03-01T11:00"))
    body = _get(make_service(), "vehicle_status")
    (only,) = body["data"]["vehicles"]
    assert "current_fuel_percent" not in only and only["current_range_meters"] == 0
    assert errors(gbfs_validator("vehicle_status"), body) == []
