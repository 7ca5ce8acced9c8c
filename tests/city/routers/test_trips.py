"""GET /api/v1/trips: filtered by time, vehicle and zone, in pages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import httpx
import psycopg
import pytest

from tests.city.builders import t, trip, vehicle, zone
from tests.city.conftest import READ_TOKEN

WINDOW = {"from": "2025-03-01T00:00:00Z", "to": "2025-03-02T00:00:00Z"}


@pytest.fixture
def client(make_client: Callable[..., httpx.Client]) -> httpx.Client:
    """The service with a read token, asked with it: trip-level data needs a token."""
    client = make_client(read_token=READ_TOKEN)
    client.headers["Authorization"] = f"Bearer {READ_TOKEN}"
    return client


def test_trips_pages_through_the_window_in_start_order(
    db: psycopg.Connection, client: httpx.Client
) -> None:
    """limit=2 over five trips gives pages of 2, 2, 1 in start order, each trip once, the
    last page without next_cursor; trips at `to` are outside."""
    v = vehicle(db)
    ids = [trip(db, v, t("2025-03-01T08:00") + timedelta(hours=i)) for i in range(5)]
    trip(db, v, t("2025-03-02T00:00"))  # at `to`

    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params = {**WINDOW, "limit": "2"} | ({"cursor": cursor} if cursor else {})
        response = client.get("/api/v1/trips", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        seen.extend(tr["trip_id"] for tr in body["trips"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == ids
    assert pages == 3


def test_trips_filter_by_vehicle_and_zone(db: psycopg.Connection, client: httpx.Client) -> None:
    """vehicle= keeps that vehicle's trips; zone= keeps trips starting or ending in it."""
    zone(db, "campus")
    zone(db, "centre")
    a, b = vehicle(db, "m001"), vehicle(db, "m002")
    ta = trip(db, a, t("2025-03-01T08:00"), start_zone="campus", end_zone="centre")
    tb = trip(db, b, t("2025-03-01T09:00"), start_zone="centre", end_zone="campus")
    tc = trip(db, b, t("2025-03-01T10:00"), start_zone="centre", end_zone="centre")

    def ids(**params: str) -> list[int]:
        response = client.get("/api/v1/trips", params={**WINDOW, **params})
        assert response.status_code == 200, response.text
        return [tr["trip_id"] for tr in response.json()["trips"]]

    assert ids(vehicle="m002") == [tb, tc]
    assert ids(zone="campus") == [ta, tb]
    assert ids(zone="centre", vehicle="m001") == [ta]
    assert ids(vehicle="m001", fleet="other") == []
    first = client.get("/api/v1/trips", params={**WINDOW, "vehicle": "m001"}).json()["trips"][0]
    assert first["fleet"] == "benguerir" and first["start_zone"] == "campus"
    assert first["distance_km"] == pytest.approx(4.6)


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({**WINDOW, "limit": "100000"}, "limit"),
        ({**WINDOW, "limit": "0"}, "limit"),
        ({**WINDOW, "cursor": "not-a-cursor"}, "cursor"),
        ({**WINDOW, "zone": "Campus Zone"}, "zone"),
        ({**WINDOW, "vehicle": "m 1"}, "vehicle"),
        ({"from": "2025-03-01T00:00:00Z", "to": "nope"}, "to"),
        ({"from": "2025-03-02T00:00:00Z", "to": "2025-03-01T00:00:00Z"}, "from"),
    ],
)
def test_trips_refuse_bad_parameters(
    client: httpx.Client, params: dict[str, str], parameter: str
) -> None:
    """A page size over the cap or under 1, a forged cursor, malformed ids and bad windows
    get 422 naming the parameter."""
    response = client.get("/api/v1/trips", params=params)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", parameter]
