"""GET /api/v1/alerts: open and recent fleet alerts, filtered, in pages, behind a token."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest

from tests.city.builders import alert, t, vehicle, zone
from tests.city.conftest import READ_TOKEN

WINDOW = {"from": "2025-03-01T00:00:00Z", "to": "2025-03-02T00:00:00Z"}


@pytest.fixture
def client(make_client: Callable[..., httpx.Client]) -> httpx.Client:
    """The service with a read token, asked with it."""
    client = make_client(read_token=READ_TOKEN)
    client.headers["Authorization"] = f"Bearer {READ_TOKEN}"
    return client


@pytest.fixture
def make(make_client: Callable[..., httpx.Client]) -> Callable[..., httpx.Client]:
    return make_client


def _ids(client: httpx.Client, **params: str) -> list[int]:
    response = client.get("/api/v1/alerts", params=params)
    assert response.status_code == 200, response.text
    return [a["alert_id"] for a in response.json()["alerts"]]


def test_without_a_window_open_and_recently_cleared_alerts_newest_first(
    db: psycopg.Connection, client: httpx.Client
) -> None:
    """No window: every open alert, however old, and those cleared in the last day, newest
    opened first, with vehicle, zone, value and unit; older cleared ones are left out."""
    zone(db, "campus", "UM6P campus")
    v = vehicle(db, "m042")
    now = datetime.now(UTC)
    old_open = alert(db, v, "offline", now - timedelta(days=30), value=1800, threshold=1800)
    recent = alert(db, v, "geofence", now - timedelta(hours=3), now - timedelta(hours=2), "campus")
    alert(db, v, "low_battery", now - timedelta(days=3), now - timedelta(days=2))
    body = client.get("/api/v1/alerts").json()
    assert [a["alert_id"] for a in body["alerts"]] == [recent, old_open]
    first, second = body["alerts"]
    assert (first["kind"], first["state"], first["zone_id"], first["zone_name"]) == (
        "geofence", "cleared", "campus", "UM6P campus",
    )  # fmt: skip
    assert (second["state"], second["vehicle"], second["fleet"]) == ("open", "m042", "benguerir")
    assert (second["value"], second["threshold"], second["unit"]) == (1800, 1800, "s")
    assert body["next_cursor"] is None


def test_filters_by_kind_state_vehicle_zone_and_window(
    db: psycopg.Connection, client: httpx.Client
) -> None:
    """kind, state, vehicle, fleet and zone narrow the list; a window keeps the alerts open at
    some time inside it."""
    zone(db, "campus")
    a, b = vehicle(db, "m001"), vehicle(db, "m002")
    before = alert(db, a, "low_battery", t("2025-02-27T08:00"), t("2025-03-01T09:00"))
    inside = alert(db, b, "overspeed", t("2025-03-01T10:00"), t("2025-03-01T10:05"), "campus")
    still = alert(db, a, "offline", t("2025-03-01T22:00"))
    alert(db, a, "low_battery", t("2025-02-20T08:00"), t("2025-02-21T09:00"))  # ended before
    alert(db, b, "offline", t("2025-03-02T00:00"))  # opened at `to`: outside
    assert _ids(client, **WINDOW) == [still, inside, before]
    assert _ids(client, **WINDOW, kind="low_battery") == [before]
    assert _ids(client, **WINDOW, state="open") == [still]
    assert _ids(client, **WINDOW, state="cleared") == [inside, before]
    assert _ids(client, **WINDOW, vehicle="m002") == [inside]
    assert _ids(client, **WINDOW, zone="campus") == [inside]
    assert _ids(client, **WINDOW, fleet="other") == []


def test_pages_newest_first_each_alert_once(db: psycopg.Connection, client: httpx.Client) -> None:
    """limit=2 over five alerts gives pages of 2, 2, 1, newest first, each alert once."""
    v = vehicle(db)
    opened = [t("2025-03-01T01:00") + timedelta(hours=i) for i in range(5)]
    ids = [alert(db, v, "offline", at, at + timedelta(minutes=30)) for at in opened]
    seen: list[int] = []
    cursor = None
    while True:
        params = {**WINDOW, "limit": "2"} | ({"cursor": cursor} if cursor else {})
        body = client.get("/api/v1/alerts", params=params).json()
        seen += [a["alert_id"] for a in body["alerts"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"kind": "fire"}, "kind"),
        ({"state": "closed"}, "state"),
        ({"vehicle": "m 1"}, "vehicle"),
        ({"zone": "Campus Zone"}, "zone"),
        ({"limit": "0"}, "limit"),
        ({"limit": "100000"}, "limit"),
        ({"cursor": "forged"}, "cursor"),
        ({"from": "2025-03-01T00:00:00Z"}, "to"),
        ({"to": "2025-03-01T00:00:00Z"}, "from"),
        ({"from": "yesterday", "to": "2025-03-01T00:00:00Z"}, "from"),
        ({"from": "2025-03-02T00:00:00Z", "to": "2025-03-01T00:00:00Z"}, "from"),
    ],
)
def test_bad_parameters_get_422_naming_them(
    client: httpx.Client, params: dict[str, str], parameter: str
) -> None:
    """An unknown kind or state, malformed ids, a bad page or cursor and half or inverted
    windows get 422 whose loc names the parameter."""
    response = client.get("/api/v1/alerts", params=params)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", parameter]


def test_alerts_need_a_token_even_when_reading_is_open(
    db: psycopg.Connection, make: Callable[..., httpx.Client]
) -> None:
    """Alerts name vehicles and places: without a bearer token 401 even with no read token
    set; an unknown token 401; a read token 200."""
    client = make()
    assert client.get("/api/v1/alerts").status_code == 401
    client.headers["Authorization"] = "Bearer not-a-token-of-ours"
    assert client.get("/api/v1/alerts").status_code == 401
    client = make(read_token=READ_TOKEN)
    client.headers["Authorization"] = f"Bearer {READ_TOKEN}"
    assert client.get("/api/v1/alerts").status_code == 200
