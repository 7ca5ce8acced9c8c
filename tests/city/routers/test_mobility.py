"""GET /api/v1/mobility/summary and /timeseries over trips stored in a real database."""

from __future__ import annotations

import httpx
import psycopg
import pytest

from tests.city.builders import t, trip, vehicle
from tests.city.conftest import OPERATOR

WINDOW = {"from": "2025-03-01T00:00:00Z", "to": "2025-03-04T00:00:00Z"}


def test_summary_counts_the_trips_that_start_in_the_half_open_window(
    db: psycopg.Connection, client: httpx.Client
) -> None:
    """Trips starting at `from` count, trips starting at `to` do not; km, riders, vehicles,
    energy and CO2 avoided are sums and distinct counts of the stored trips."""
    a, b = vehicle(db, "m001"), vehicle(db, "m002")
    trip(db, a, t("2025-03-01T00:00"), km=4.0, rider="r1", energy_kwh=0.2)
    trip(db, a, t("2025-03-02T09:00"), km=6.0, rider="r2", energy_kwh=0.3)
    trip(db, b, t("2025-03-03T23:59:59"), km=2.0, rider="r1", energy_kwh=None)
    trip(db, b, t("2025-03-04T00:00"), km=100.0, rider="r9")  # at `to`: outside
    trip(db, b, t("2025-02-28T23:59:59"), km=100.0, rider="r8")  # before `from`: outside

    response = client.get("/api/v1/mobility/summary", params=WINDOW)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["window"] == {"start": "2025-03-01T00:00:00Z", "end": "2025-03-04T00:00:00Z"}
    figures = body["figures"]
    assert figures["trips"] == 3
    assert figures["distance_km"] == pytest.approx(12.0)
    assert figures["riders"] is None  # 2 distinct riders: below k = 10, not published
    exact = client.get("/api/v1/mobility/summary", params=WINDOW, headers=OPERATOR)
    assert exact.json()["figures"]["riders"] == 2
    assert figures["vehicles_active"] == 2
    assert figures["energy_kwh"] == pytest.approx(0.5)
    assert figures["trips_without_energy"] == 1
    assert figures["co2_avoided_kg"] == pytest.approx(0.150 * 12.0)


def test_summary_of_an_empty_window_is_zero(client: httpx.Client) -> None:
    """A window with no trips answers zeros, not an error."""
    response = client.get("/api/v1/mobility/summary", params=WINDOW)
    assert response.status_code == 200
    assert response.json()["figures"]["trips"] == 0
    assert response.json()["figures"]["distance_km"] == 0


def test_summary_accepts_offsets_and_converts_to_utc(
    db: psycopg.Connection, client: httpx.Client
) -> None:
    """`from` with a +01:00 offset is the same instant as the UTC time an hour earlier."""
    trip(db, vehicle(db), t("2025-03-01T00:30"))
    response = client.get(
        "/api/v1/mobility/summary",
        params={"from": "2025-03-01T01:00:00+01:00", "to": "2025-03-01T02:00:00+01:00"},
    )
    assert response.json()["window"]["start"] == "2025-03-01T00:00:00Z"
    assert response.json()["figures"]["trips"] == 1


@pytest.mark.parametrize(
    ("bucket", "count", "first", "second"),
    [
        ("day", 3, "2025-03-01T00:00:00Z", "2025-03-02T00:00:00Z"),
        ("week", 2, "2025-02-24T00:00:00Z", "2025-03-03T00:00:00Z"),  # 1 March: a Saturday
        ("month", 1, "2025-03-01T00:00:00Z", None),
    ],
)
def test_timeseries_buckets_in_utc_with_empty_buckets(
    db: psycopg.Connection,
    client: httpx.Client,
    bucket: str,
    count: int,
    first: str,
    second: str | None,
) -> None:
    """Buckets start at UTC day, Monday or month boundaries; buckets without trips are
    present with zeros; bucket sums equal the summary."""
    v = vehicle(db)
    trip(db, v, t("2025-03-01T10:00"), km=3.0)
    trip(db, v, t("2025-03-03T10:00"), km=5.0, rider="r2")

    response = client.get("/api/v1/mobility/timeseries", params={**WINDOW, "bucket": bucket})

    assert response.status_code == 200, response.text
    points = response.json()["points"]
    assert len(points) == count
    assert points[0]["bucket_start"] == first
    if second:
        assert points[1]["bucket_start"] == second
    if bucket == "day":
        assert points[1]["trips"] == 0  # 2 March: an empty bucket, present
    assert sum(p["trips"] for p in points) == 2
    assert sum(p["distance_km"] for p in points) == pytest.approx(8.0)


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"from": "yesterday", "to": "2025-03-02T00:00:00Z"}, "from"),
        ({"from": "2025-03-01T00:00:00Z", "to": "2025-03-02"}, "to"),
        ({"from": "2025-03-01T00:00:00", "to": "2025-03-02T00:00:00Z"}, "from"),  # no offset
        ({"from": "2025-02-30T00:00:00Z", "to": "2025-03-02T00:00:00Z"}, "from"),
        ({"from": "2025-03-02T00:00:00Z", "to": "2025-03-01T00:00:00Z"}, "from"),  # after
        ({"from": "2025-03-01T00:00:00Z", "to": "2025-03-01T00:00:00Z"}, "from"),  # empty
        ({"from": "2000-01-01T00:00:00Z", "to": "2025-03-01T00:00:00Z"}, "to"),  # too large
        ({"to": "2025-03-01T00:00:00Z"}, "from"),  # missing
    ],
)
def test_summary_refuses_bad_windows_naming_the_parameter(
    client: httpx.Client, params: dict[str, str], parameter: str
) -> None:
    """Unparseable times, `from` not before `to`, a window over the service's limit and a
    missing bound get 422 with the parameter named in the detail."""
    response = client.get("/api/v1/mobility/summary", params=params)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail[0]["loc"] == ["query", parameter]
    if "msg" in detail[0] and detail[0]["type"] == "bad_parameter":
        assert detail[0]["msg"].startswith(parameter)


def test_timeseries_refuses_an_unknown_bucket(client: httpx.Client) -> None:
    """bucket=minute is not a bucket: 422 naming `bucket`."""
    response = client.get("/api/v1/mobility/timeseries", params={**WINDOW, "bucket": "minute"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "bucket"]


def test_timeseries_refuses_too_many_buckets(make_client: object) -> None:
    """Ten years by day is more buckets than the service returns: 422 naming the window's
    end and suggesting a coarser bucket; the same window by month is fine."""
    client = make_client()  # type: ignore[operator]
    params = {"from": "2015-01-01T00:00:00Z", "to": "2025-01-01T00:00:00Z"}
    response = client.get("/api/v1/mobility/timeseries", params={**params, "bucket": "day"})
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["loc"] == ["query", "to"]
    assert "bucket" in detail["msg"]
    ok = client.get("/api/v1/mobility/timeseries", params={**params, "bucket": "month"})
    assert ok.status_code == 200
    assert len(ok.json()["points"]) == 120


def test_timeseries_by_hour_covers_a_day_in_24_buckets(
    db: psycopg.Connection, client: httpx.Client
) -> None:
    """A short window by hour: 24 UTC hours, each trip in the hour it starts, empty hours
    included, the same totals as the summary."""
    v = vehicle(db)
    trip(db, v, t("2025-03-01T07:10"), km=2.0, rider="a")
    trip(db, v, t("2025-03-01T07:50"), km=3.0, rider="b")
    trip(db, v, t("2025-03-01T18:05"), km=4.0, rider="a")
    day = {"from": "2025-03-01T00:00:00Z", "to": "2025-03-02T00:00:00Z"}
    response = client.get("/api/v1/mobility/timeseries", params={**day, "bucket": "hour"})
    assert response.status_code == 200, response.text
    buckets = response.json()["points"]
    assert len(buckets) == 24
    by_hour = {b["bucket_start"][11:13]: b for b in buckets}
    assert by_hour["07"]["trips"] == 2
    assert by_hour["07"]["distance_km"] == pytest.approx(5.0)
    assert by_hour["07"]["riders"] is None  # 2 distinct riders: below k = 10, not published
    exact = client.get(
        "/api/v1/mobility/timeseries", params={**day, "bucket": "hour"}, headers=OPERATOR
    )
    assert {b["bucket_start"][11:13]: b for b in exact.json()["points"]}["07"]["riders"] == 2
    assert by_hour["18"]["trips"] == 1
    assert sum(b["trips"] for b in buckets) == 3
    summary = client.get("/api/v1/mobility/summary", params=day).json()["figures"]
    assert sum(b["distance_km"] for b in buckets) == pytest.approx(summary["distance_km"])
