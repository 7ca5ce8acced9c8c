"""GET /api/v1/learning-city, edits with the write token, and the change log."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import psycopg
import pytest

from tests.city.builders import t, trip, vehicle
from tests.city.conftest import OPERATOR, READ_TOKEN, WRITE_TOKEN

WRITE = {"Authorization": f"Bearer {WRITE_TOKEN}"}
READ = {"Authorization": f"Bearer {READ_TOKEN}"}
TRAINERS = "/api/v1/learning-city/youth-platform/indicators/trainers"


def _tables(body: dict[str, object]) -> dict[str, dict[str, object]]:
    return {p["programme_id"]: p for p in body["programmes"]}  # type: ignore[attr-defined]


def _indicators(table: dict[str, object]) -> dict[str, dict[str, object]]:
    return {i["indicator_id"]: i for i in table["indicators"]}  # type: ignore[attr-defined]


def test_learning_city_returns_every_programme_table_seeded_from_the_citys_figures(
    client: httpx.Client,
) -> None:
    """The first migration seeded the FACTS.md tables: youth platform, second-chance school,
    inclusive education, cultural centre (empty), community spaces, Educatec, and POGO as the
    city reported it; each indicator carries value, qualifier, unit, period and source."""
    response = client.get("/api/v1/learning-city")
    assert response.status_code == 200, response.text
    tables = _tables(response.json())
    assert {
        "pogo",
        "pogo-live",
        "youth-platform",
        "second-chance-school",
        "inclusive-education",
        "cultural-centre",
        "community-spaces",
        "rhamna-educatec",
    } <= set(tables)
    youth = _indicators(tables["youth-platform"])
    assert youth["young-people"]["value"] == 1000
    assert youth["young-people"]["qualifier"] == "more than"
    assert youth["trainers"]["value"] == 45 and youth["trainers"]["qualifier"] is None
    assert youth["workshops"]["qualifier"] == "more than"
    school = _indicators(tables["second-chance-school"])
    assert (school["centres"]["value"], school["students"]["value"]) == (3, 359)
    assert _indicators(tables["inclusive-education"])["integration-rate"]["unit"] == "%"
    assert tables["cultural-centre"]["indicators"] == []
    pogo = _indicators(tables["pogo"])
    assert pogo["people"]["value"] == 15000 and pogo["people"]["period"] == "two years"
    assert pogo["co2-avoided"]["unit"] == "t CO2"
    for table in tables.values():
        for indicator in table["indicators"]:  # type: ignore[attr-defined]
            assert indicator["source"], indicator


def test_live_table_sits_beside_the_reported_one_in_the_same_shape(
    db: psycopg.Connection, client: httpx.Client
) -> None:
    """The live POGO table (people, km, trips, CO2 avoided in tonnes) is measured from the
    stored trips, has the same indicator ids and units as the city's reported table, and
    follows it in the list."""
    v = vehicle(db)
    trip(db, v, t("2025-03-01T08:00"), km=4.0, rider="a")
    trip(db, v, t("2025-03-02T08:00"), km=6.0, rider="b")
    trip(db, v, t("2025-03-03T08:00"), km=10.0, rider="a")

    body = client.get("/api/v1/learning-city").json()

    ids = [p["programme_id"] for p in body["programmes"]]
    assert ids.index("pogo-live") == ids.index("pogo") + 1
    tables = _tables(body)
    live, reported = _indicators(tables["pogo-live"]), _indicators(tables["pogo"])
    assert set(live) == set(reported)
    assert {k: v["unit"] for k, v in live.items()} == {k: v["unit"] for k, v in reported.items()}
    assert live["people"]["value"] is None  # 2 distinct riders: below k = 10
    exact = client.get("/api/v1/learning-city", headers=OPERATOR).json()
    assert _indicators(_tables(exact)["pogo-live"])["people"]["value"] == 2
    assert live["trips"]["value"] == 3
    assert live["km"]["value"] == pytest.approx(20.0)
    assert live["co2-avoided"]["value"] == pytest.approx(0.150 * 20 / 1000)
    assert body["window"] == {"start": "2025-03-01T00:00:00Z", "end": "2025-03-04T00:00:00Z"}
    assert tables["pogo-live"]["live"] is True and tables["pogo"]["live"] is False

    windowed = client.get(
        "/api/v1/learning-city",
        params={"from": "2025-03-02T00:00:00Z", "to": "2025-03-03T00:00:00Z"},
    ).json()
    assert _indicators(_tables(windowed)["pogo-live"])["trips"]["value"] == 1


def test_learning_city_refuses_half_a_window(client: httpx.Client) -> None:
    """`from` without `to` is a 422 naming `to`."""
    response = client.get("/api/v1/learning-city", params={"from": "2025-03-01T00:00:00Z"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "to"]


def test_put_with_the_write_token_edits_and_keeps_the_change(client: httpx.Client) -> None:
    """PUT with the write token replaces the indicator; the change log keeps who, when, the
    old value and the new one; the next read shows the new figure."""
    body = {
        "label": "Trainers",
        "value": 52,
        "unit": "people",
        "period": "2024",
        "source": "Youth platform annual report 2024",
        "editor": "steering-committee secretary",
    }
    tag = client.get(TRAINERS).headers["etag"]
    response = client.put(TRAINERS, json=body, headers={**WRITE, "If-Match": tag})
    assert response.status_code == 200, response.text
    assert response.json()["value"] == 52
    assert response.json()["updated_by"] == "steering-committee secretary"

    tables = _tables(client.get("/api/v1/learning-city").json())
    assert _indicators(tables["youth-platform"])["trainers"]["value"] == 52

    changes = client.get("/api/v1/learning-city/changes").json()["changes"]
    assert len(changes) == 1
    change = changes[0]
    assert change["changed_by"] == "steering-committee secretary"
    assert change["changed_at"]
    assert change["old_value"]["value"] == 45
    assert change["new_value"]["value"] == 52
    assert change["new_value"]["period"] == "2024"


def test_put_creates_an_indicator_in_the_empty_cultural_centre_table(
    client: httpx.Client,
) -> None:
    """The empty cultural-centre table takes a new indicator; its change has no old value."""
    url = "/api/v1/learning-city/cultural-centre/indicators/plays"
    body = {"label": "Plays staged", "value": 12, "unit": "plays", "editor": "centre director"}
    create = {**WRITE, "If-None-Match": "*"}
    assert client.put(url, json=body, headers=create).status_code == 200
    tables = _tables(client.get("/api/v1/learning-city").json())
    assert _indicators(tables["cultural-centre"])["plays"]["value"] == 12
    change = client.get("/api/v1/learning-city/changes").json()["changes"][0]
    assert change["old_value"] is None


def test_patch_changes_only_the_given_fields(client: httpx.Client) -> None:
    """PATCH keeps the fields it does not name, and logs old and new."""
    tag = client.get(TRAINERS).headers["etag"]
    response = client.patch(
        TRAINERS,
        json={"value": 47, "editor": "platform coordinator"},
        headers={**WRITE, "If-Match": tag},
    )
    assert response.status_code == 200, response.text
    indicator = response.json()
    assert indicator["value"] == 47
    assert indicator["label"] == "Trainers"
    assert indicator["source"].startswith("City of Benguerir")
    change = client.get(
        "/api/v1/learning-city/changes", params={"programme": "youth-platform"}
    ).json()["changes"][0]
    assert (change["old_value"]["value"], change["new_value"]["value"]) == (45, 47)


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Bearer wrong"}, 401), (READ, 403)],
)
def test_editing_needs_the_write_token(
    make_client: Callable[..., httpx.Client], headers: dict[str, str], status: int
) -> None:
    """No token or an unknown one gets 401 (with WWW-Authenticate: Bearer); the read token
    gets 403; nothing is changed or logged."""
    client = make_client(read_token=READ_TOKEN)
    response = client.patch(TRAINERS, json={"value": 1, "editor": "x"}, headers=headers)
    assert response.status_code == status, response.text
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"
    assert client.get("/api/v1/learning-city/changes", headers=READ).json()["changes"] == []


def test_editing_is_off_without_a_write_token(make_client: Callable[..., httpx.Client]) -> None:
    """With no POGO_API_WRITE_TOKEN configured every edit is 403, whatever the token."""
    client = make_client(write_token=None)
    response = client.patch(TRAINERS, json={"value": 1, "editor": "x"}, headers=WRITE)
    assert response.status_code == 403
    assert "POGO_API_WRITE_TOKEN" in response.json()["detail"]


def test_reading_needs_a_token_only_when_a_read_token_is_set(
    make_client: Callable[..., httpx.Client],
) -> None:
    """Open reading by default; with a read token, no token is 401 and either token reads."""
    assert make_client().get("/api/v1/learning-city").status_code == 200
    guarded = make_client(read_token=READ_TOKEN)
    assert guarded.get("/api/v1/learning-city").status_code == 401
    assert guarded.get("/api/v1/learning-city", headers=READ).status_code == 200
    assert guarded.get("/api/v1/learning-city", headers=WRITE).status_code == 200
    assert guarded.get("/api/v1/vehicles").status_code == 401
    assert guarded.get("/healthz").status_code == 200  # operations stay open


@pytest.mark.parametrize(
    ("method", "url", "body", "status", "field"),
    [
        ("put", "/api/v1/learning-city/no-such/indicators/x", {"label": "x", "value": 1,
         "editor": "e"}, 404, None),
        ("patch", "/api/v1/learning-city/youth-platform/indicators/none", {"value": 1,
         "editor": "e"}, 404, None),
        ("patch", TRAINERS, {"value": 1}, 422, "editor"),
        ("patch", TRAINERS, {"label": None, "editor": "e"}, 422, "label"),
        ("patch", TRAINERS, {"qualifier": "roughly", "editor": "e"}, 422, "qualifier"),
        ("put", TRAINERS, {"label": "x", "value": "NaN", "editor": "e"}, 422, "value"),
        ("put", TRAINERS, {"label": "x\u0000", "value": 1, "editor": "e"}, 422, "label"),
        ("put", "/api/v1/learning-city/Bad%20Id/indicators/x", {"label": "x", "value": 1,
         "editor": "e"}, 422, "programme_id"),
    ],
)  # fmt: skip
def test_bad_edits_are_refused(
    client: httpx.Client,
    method: str,
    url: str,
    body: dict[str, object],
    status: int,
    field: str | None,
) -> None:
    """Unknown programmes or indicators get 404; a missing editor, a null label, an unknown
    qualifier, a non-finite value, text PostgreSQL cannot store and a malformed id get 422
    naming the field."""
    response = client.request(method, url, json=body, headers=WRITE)
    assert response.status_code == status, response.text
    if field is not None:
        assert field in response.json()["detail"][0]["loc"]
    assert client.get("/api/v1/learning-city/changes").json()["changes"] == []
