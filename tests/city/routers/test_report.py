"""The city report page (/report) and its CSV exports."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import httpx
import psycopg
import pytest

from tests.city.builders import t, trip, vehicle


@pytest.fixture
def month_of_trips(db: psycopg.Connection) -> None:
    """Ten days of March 2025 with 1..10 trips of 5 km on day i."""
    v = vehicle(db)
    for day in range(10):
        for k in range(day + 1):
            trip(db, v, t("2025-03-01T06:00") + timedelta(days=day, minutes=20 * k), km=5.0,
                 rider=f"r{k}")  # fmt: skip


def test_report_page_shows_figures_charts_tables_and_methodology(
    month_of_trips: None, client: httpx.Client
) -> None:
    """Without a window the page covers all stored trips: key figures, three SVG charts (trips,
    km, CO2 avoided) with one bar per day, the programme tables, the methodology in words and
    links to the CSV exports; its stylesheet is served by the service itself."""
    response = client.get("/report")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert re.search(r'data-figure="trips">55<', page)
    assert re.search(r'data-figure="distance_km">275<', page)
    assert re.search(r'data-figure="riders">10<', page)
    for figure in ("trips", "distance", "co2"):
        chart = re.search(rf'<svg class="chart" data-figure="{figure}".*?</svg>', page, re.S)
        assert chart, figure
        assert chart.group(0).count('class="bar"') == 10
    assert 'data-programme="youth-platform"' in page
    assert 'data-programme="pogo-live"' in page
    assert "Second-Chance School" in page
    assert "How the figures are made" in page
    assert "/report/figures.csv?" in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in page
    css = re.search(r'href="([^"]+report\.css)"', page)
    assert css and client.get(css.group(1)).status_code == 200


def test_report_page_without_trips_says_so(client: httpx.Client) -> None:
    """An empty store gives a page that says no trips are stored yet, still with the tables."""
    response = client.get("/report")
    assert response.status_code == 200
    assert "No trips are stored yet" in response.text
    assert 'data-programme="second-chance-school"' in response.text


def test_report_page_refuses_a_bad_window(client: httpx.Client) -> None:
    """A bad `from` on the page is 422 naming it, like the API."""
    response = client.get("/report", params={"from": "soon", "to": "2025-03-02T00:00:00Z"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "from"]


def test_figures_csv_has_the_same_figures_as_the_page(
    month_of_trips: None, client: httpx.Client
) -> None:
    """The CSV export has one row per day with trips, km and CO2 avoided adding up to the
    page's totals and to the summary endpoint."""
    response = client.get(
        "/report/figures.csv",
        params={"from": "2025-03-01T00:00:00Z", "to": "2025-03-11T00:00:00Z", "bucket": "day"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 10
    assert [int(r["trips"]) for r in rows] == list(range(1, 11))
    assert sum(float(r["distance_km"]) for r in rows) == pytest.approx(275.0)
    assert sum(float(r["co2_avoided_kg"]) for r in rows) == pytest.approx(275.0 * 0.150)
    assert rows[0]["bucket_start"] == "2025-03-01T00:00:00+00:00"


def test_learning_city_csv_lists_every_indicator(
    month_of_trips: None, client: httpx.Client
) -> None:
    """The programme tables as CSV: one row per indicator, the live POGO rows included."""
    rows = list(csv.DictReader(io.StringIO(client.get("/report/learning-city.csv").text)))
    keyed = {(r["programme_id"], r["indicator_id"]): r for r in rows}
    assert keyed[("youth-platform", "young-people")]["qualifier"] == "more than"
    assert float(keyed[("pogo-live", "trips")]["value"]) == 55
    assert keyed[("second-chance-school", "students")]["value"] == "359.0"
