"""/healthz, /readyz and /metrics."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.city.builders import alert, battery_health, state, t, trip, vehicle


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_read_the_fleet_figures_from_the_database_at_scrape_time(
    db: psycopg.Connection, client: httpx.Client
) -> None:
    """Gauges by state, low battery, and trip, km and CO2 counters follow the database
    between two scrapes, with no restart."""
    before = _samples(client.get("/metrics").text)
    assert before[("pogo_trips_total", ())] == 0
    assert before[("pogo_vehicles", (("state", "riding"),))] == 0

    a, b, c = vehicle(db, "m001"), vehicle(db, "m002"), vehicle(db, "m003")
    state(db, a, "riding", soc_pct=80)
    state(db, b, "riding", soc_pct=10)
    state(db, c, "charging", soc_pct=5)
    trip(db, a, t("2025-03-01T08:00"), km=4.0)
    trip(db, b, t("2025-03-01T09:00"), km=6.0)

    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = _samples(response.text)
    assert after[("pogo_vehicles", (("state", "riding"),))] == 2
    assert after[("pogo_vehicles", (("state", "charging"),))] == 1
    assert after[("pogo_vehicles", (("state", "offline"),))] == 0
    assert after[("pogo_vehicles_low_battery", ())] == 2
    assert after[("pogo_trips_total", ())] == 2
    assert after[("pogo_trip_distance_km_total", ())] == pytest.approx(10.0)
    assert after[("pogo_co2_avoided_kg_total", ())] == pytest.approx(1.5)
    assert after[("pogo_service_database_up", ())] == 1


def test_healthz_answers(client: httpx.Client) -> None:
    """/healthz is 200 while the process runs."""
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_is_ready_on_a_migrated_database(client: httpx.Client) -> None:
    """On a database at the code's latest migration /readyz is 200 and says so."""
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["schema_version"] == body["expected_version"] > 0


def test_readyz_is_not_ready_on_a_database_without_the_schema(
    empty_db_url: str, make_client: Callable[..., httpx.Client]
) -> None:
    """Reachable but never migrated: /readyz is 503 with schema_version null; /metrics still
    answers, reporting the database unreadable instead of failing the scrape."""
    client = make_client(dsn=empty_db_url)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["database"] is True
    assert response.json()["schema_version"] is None
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert _samples(metrics.text)[("pogo_service_database_up", ())] == 0


def test_readyz_is_not_ready_behind_the_latest_migration(
    db: psycopg.Connection, client: httpx.Client
) -> None:
    """A schema missing the newest migration is not ready (the service would read columns
    that are not there yet)."""
    db.execute(
        "DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations)"
    )
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["schema_version"] < response.json()["expected_version"]


def test_metrics_count_open_alerts_by_kind_and_waiting_deliveries(
    db: psycopg.Connection, client: httpx.Client
) -> None:
    """pogo_alerts_open{kind} counts the open alerts of each kind (every kind shown, cleared
    ones not counted) and pogo_alert_deliveries_waiting the undelivered outbox rows, read
    at each scrape."""
    v = vehicle(db)
    opened = alert(db, v, "offline", t("2025-03-01T08:00"))
    alert(db, v, "low_battery", t("2025-03-01T08:00"))
    alert(db, v, "low_battery", t("2025-02-01T08:00"), t("2025-02-02T08:00"))
    db.execute(
        "INSERT INTO alert_deliveries (delivery_id, alert_id, transition, body)"
        " VALUES (gen_random_uuid(), %s, 'opened', '{}')",
        (opened,),
    )
    got = _samples(client.get("/metrics").text)
    assert got[("pogo_alerts_open", (("kind", "offline"),))] == 1
    assert got[("pogo_alerts_open", (("kind", "low_battery"),))] == 1
    assert got[("pogo_alerts_open", (("kind", "geofence"),))] == 0
    assert got[("pogo_alerts_open", (("kind", "overspeed"),))] == 0
    assert got[("pogo_alert_deliveries_waiting", ())] == 1


def test_metrics_count_vehicles_by_battery_health_bucket(
    db: psycopg.Connection, client: httpx.Client
) -> None:
    """pogo_vehicles_battery_health{bucket} counts the vehicles in each state-of-health
    bucket (every bucket shown, an estimate above 100 % in 90+), vehicles without an
    estimate as unknown, read at each scrape."""
    for name, capacity in (("m1", 1.3), ("m2", 1.5), ("m3", 1.62), ("m4", 2.05), ("m5", None)):
        battery_health(db, vehicle(db, name), capacity_kwh=capacity, rated_kwh=2.0)
    vehicle(db, "m6")
    got = _samples(client.get("/metrics").text)
    buckets = {"0-70": 1, "70-80": 1, "80-90": 1, "90+": 1, "unknown": 2}
    for bucket, count in buckets.items():
        assert got[("pogo_vehicles_battery_health", (("bucket", bucket),))] == count
