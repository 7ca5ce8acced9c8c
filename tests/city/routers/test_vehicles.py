"""GET /api/v1/vehicles and /api/v1/vehicles/{id}: last position, state, SoC, last seen."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import psycopg
import pytest

from tests.city.builders import battery_health, point, state, t, trip, vehicle
from tests.city.conftest import READ_TOKEN


@pytest.fixture
def client(make_client: Callable[..., httpx.Client]) -> httpx.Client:
    """The service with a read token, asked with it: trip-level data needs a token."""
    client = make_client(read_token=READ_TOKEN)
    client.headers["Authorization"] = f"Bearer {READ_TOKEN}"
    return client


def test_vehicles_show_state_position_soc_and_last_seen(
    db: psycopg.Connection, client: httpx.Client
) -> None:
    """A vehicle the trip builder placed shows its vehicle_state; one it has not placed yet
    shows its latest telemetry point and no state."""
    a = vehicle(db, "m001")
    state(db, a, "charging", soc_pct=35.5, last_seen=t("2025-03-01T12:00"), lat=32.23)
    b = vehicle(db, "m002")
    point(db, b, t("2025-03-01T09:00"), lat=32.20, soc_pct=90)
    point(db, b, t("2025-03-01T10:00"), lat=32.21, soc_pct=88)

    response = client.get("/api/v1/vehicles")

    assert response.status_code == 200
    by_id = {v["vehicle"]: v for v in response.json()["vehicles"]}
    assert by_id["m001"]["state"] == "charging"
    assert by_id["m001"]["soc_pct"] == pytest.approx(35.5)
    assert by_id["m001"]["lat"] == pytest.approx(32.23)
    assert by_id["m001"]["last_seen"] == "2025-03-01T12:00:00Z"
    assert by_id["m002"]["state"] is None
    assert by_id["m002"]["lat"] == pytest.approx(32.21)
    assert by_id["m002"]["soc_pct"] == pytest.approx(88)
    assert by_id["m002"]["last_seen"] == "2025-03-01T10:00:00Z"


def test_vehicles_filter_by_state_and_fleet(db: psycopg.Connection, client: httpx.Client) -> None:
    """state= and fleet= narrow the list."""
    state(db, vehicle(db, "m001"), "riding")
    state(db, vehicle(db, "m002"), "parked")
    state(db, vehicle(db, "m001", fleet="other"), "riding")
    riding = client.get("/api/v1/vehicles", params={"state": "riding"}).json()["vehicles"]
    assert sorted((v["fleet"], v["vehicle"]) for v in riding) == [
        ("benguerir", "m001"),
        ("other", "m001"),
    ]
    other = client.get("/api/v1/vehicles", params={"fleet": "other"}).json()["vehicles"]
    assert [v["vehicle"] for v in other] == ["m001"]


def test_one_vehicle_by_id(db: psycopg.Connection, client: httpx.Client) -> None:
    """/vehicles/{id} returns the vehicle; an unknown id is 404; an id in two fleets needs
    fleet= (422 naming fleet), and with it answers."""
    state(db, vehicle(db, "m001"), "parked", soc_pct=12)
    vehicle(db, "m002")
    vehicle(db, "m002", fleet="other")
    one = client.get("/api/v1/vehicles/m001")
    assert one.status_code == 200
    assert one.json()["soc_pct"] == pytest.approx(12)
    assert client.get("/api/v1/vehicles/m999").status_code == 404
    ambiguous = client.get("/api/v1/vehicles/m002")
    assert ambiguous.status_code == 422
    assert ambiguous.json()["detail"][0]["loc"] == ["query", "fleet"]
    chosen = client.get("/api/v1/vehicles/m002", params={"fleet": "other"})
    assert chosen.status_code == 200 and chosen.json()["fleet"] == "other"


@pytest.mark.parametrize(
    ("url", "params", "parameter"),
    [
        ("/api/v1/vehicles", {"state": "flying"}, "state"),
        ("/api/v1/vehicles", {"fleet": "bad fleet!"}, "fleet"),
        ("/api/v1/vehicles/bad%20id", {}, "vehicle_id"),
    ],
)
def test_vehicles_refuse_bad_parameters(
    client: httpx.Client, url: str, params: dict[str, str], parameter: str
) -> None:
    """An unknown state or a malformed id gets 422 naming the parameter."""
    response = client.get(url, params=params)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == parameter


def test_one_vehicle_shows_its_riding_behaviour(
    db: psycopg.Connection, client: httpx.Client
) -> None:
    """/vehicles/{id} sums harsh braking and acceleration over the vehicle's counted trips
    (per 100 km too), leaving out trips built before events were counted; a vehicle without
    trips shows zeros and no rate; the list leaves riding out."""
    key = vehicle(db, "m001")
    trip(db, key, t("2026-11-20T08:00:00Z"), km=4.0, harsh=(2, 1))
    trip(db, key, t("2026-11-20T09:00:00Z"), km=6.0, harsh=(1, 0))
    trip(db, key, t("2026-11-20T10:00:00Z"), km=50.0)  # not counted: left out
    trip(db, vehicle(db, "m002"), t("2026-11-20T08:00:00Z"), km=5.0, harsh=(7, 7))
    riding = client.get("/api/v1/vehicles/m001").json()["riding"]
    assert riding["trips"] == 2
    assert riding["distance_km"] == pytest.approx(10.0)
    assert (riding["harsh_braking"], riding["harsh_acceleration"]) == (3, 1)
    assert riding["harsh_braking_per_100_km"] == pytest.approx(30.0)
    assert riding["harsh_acceleration_per_100_km"] == pytest.approx(10.0)
    vehicle(db, "m003")
    none = client.get("/api/v1/vehicles/m003").json()["riding"]
    assert none["trips"] == 0 and none["harsh_braking_per_100_km"] is None
    assert "riding" not in client.get("/api/v1/vehicles").json()["vehicles"][0]


def test_one_vehicle_shows_its_battery_health(db: psycopg.Connection, client: httpx.Client) -> None:
    """/vehicles/{id} gives the battery state of health against the rated capacity, with its
    95 % interval, samples and method; an estimate still waiting for samples has a null
    SoH; a vehicle the builder never counted has none; the list leaves it out."""
    battery_health(db, vehicle(db, "m001"), capacity_kwh=1.7, rated_kwh=2.0, stderr_kwh=0.01)
    battery_health(db, vehicle(db, "m002"), capacity_kwh=None, stderr_kwh=None, samples=2)
    vehicle(db, "m003")
    health = client.get("/api/v1/vehicles/m001").json()["battery_health"]
    assert health["soh_pct"] == pytest.approx(85.0)
    assert health["capacity_kwh"] == pytest.approx(1.7)
    assert health["rated_kwh"] == pytest.approx(2.0)
    assert health["soh_ci95_pct"] == pytest.approx([84.02, 85.98])
    assert (health["samples"], health["method"]) == (40, "awtls-plett-2011")
    waiting = client.get("/api/v1/vehicles/m002").json()["battery_health"]
    assert waiting["soh_pct"] is None and waiting["soh_ci95_pct"] is None
    assert waiting["samples"] == 2
    assert client.get("/api/v1/vehicles/m003").json()["battery_health"] is None
    assert "battery_health" not in client.get("/api/v1/vehicles").json()["vehicles"][0]
