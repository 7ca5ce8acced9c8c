"""Who may see what (city/auth.py, city/privacy.py): trip-level data needs a token, rider
pseudonyms and distinct-rider counts below 10 are for the operator token only."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta

import httpx
import psycopg
import pytest

from tests.city.builders import t, trip, vehicle
from tests.city.conftest import OPERATOR, READ_TOKEN, WRITE_TOKEN

READ = {"Authorization": f"Bearer {READ_TOKEN}"}
WRITE = {"Authorization": f"Bearer {WRITE_TOKEN}"}
WINDOW = {"from": "2025-03-01T00:00:00Z", "to": "2025-03-02T00:00:00Z"}
SUMMARY = "/api/v1/mobility/summary"


def _riders(db: psycopg.Connection, n: int) -> None:
    v = vehicle(db)
    for i in range(n):
        trip(db, v, t("2025-03-01T06:00") + timedelta(minutes=30 * i), rider=f"p1_{i:064x}")


@pytest.mark.parametrize("path", ["/api/v1/trips", "/api/v1/vehicles", "/api/v1/vehicles/m001"])
def test_trip_level_data_needs_a_token_even_when_reading_is_open(
    db: psycopg.Connection, client: httpx.Client, path: str
) -> None:
    """Trips and vehicle positions answer 401 without a token while aggregates stay open."""
    _riders(db, 1)
    assert client.get(path, params=WINDOW).status_code == 401
    assert client.get(SUMMARY, params=WINDOW).status_code == 200
    assert client.get(path, params=WINDOW, headers=WRITE).status_code == 200


def test_only_the_operator_sees_rider_pseudonyms(
    db: psycopg.Connection, make_client: Callable[..., httpx.Client]
) -> None:
    """A trip page has no rider field for the read token; the operator token gets it."""
    _riders(db, 1)
    client = make_client(read_token=READ_TOKEN)
    public = client.get("/api/v1/trips", params=WINDOW, headers=READ).json()["trips"][0]
    assert "rider" not in public and public["distance_km"] > 0
    operator = client.get("/api/v1/trips", params=WINDOW, headers=OPERATOR).json()["trips"][0]
    assert operator["rider"] == f"p1_{0:064x}"


@pytest.mark.parametrize(("riders", "published"), [(9, None), (10, 10)])
def test_rider_counts_below_10_are_null_except_for_the_operator(
    db: psycopg.Connection, client: httpx.Client, riders: int, published: int | None
) -> None:
    """9 distinct riders are published as null in the summary, the time series, the live
    learning-city table and the CSV; 10 are published; the operator always gets the count.
    Asked in turn, the cached answers never cross from one caller to the other."""
    _riders(db, riders)
    for _ in range(2):  # the second round comes from the caches
        for headers, expected in (({}, published), (OPERATOR, riders), (WRITE, published)):
            summary = client.get(SUMMARY, params=WINDOW, headers=headers).json()
            assert summary["figures"]["riders"] == expected, headers
            series = client.get(
                "/api/v1/mobility/timeseries", params={**WINDOW, "bucket": "day"}, headers=headers
            ).json()
            assert series["points"][0]["riders"] == expected
            tables = client.get("/api/v1/learning-city", params=WINDOW, headers=headers).json()
            live = next(p for p in tables["programmes"] if p["programme_id"] == "pogo-live")
            people = next(i for i in live["indicators"] if i["indicator_id"] == "people")
            assert people["value"] == (None if expected is None else float(expected))
            text = client.get(
                "/report/figures.csv", params={**WINDOW, "bucket": "day"}, headers=headers
            ).text
            row = next(csv.DictReader(io.StringIO(text)))
            assert row["riders"] == ("" if expected is None else str(expected))


def test_the_report_and_the_openapi_document_say_so(
    db: psycopg.Connection, client: httpx.Client
) -> None:
    """The report shows "fewer than 10" and explains k-anonymity; the OpenAPI document
    describes the null riders and the operator-only rider field."""
    _riders(db, 3)
    page = client.get("/report", params=WINDOW).text
    assert 'data-figure="riders">fewer than 10<' in page
    assert "k-anonymity" in page and "k = 10" in page
    document = client.get("/openapi.json").text
    assert "k-anonymity, k = 10" in document
    assert "present only for the operator token" in document
