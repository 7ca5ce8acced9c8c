"""The assembled service: its OpenAPI document, and a schemathesis fuzzing pass over it."""

from __future__ import annotations

from datetime import timedelta

import httpx
import psycopg
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from city import BackgroundServer
from tests.city.builders import state, t, trip, vehicle, zone
from tests.city.conftest import WRITE_TOKEN

ENDPOINTS = {
    ("get", "/api/v1/mobility/summary"),
    ("get", "/api/v1/mobility/timeseries"),
    ("get", "/api/v1/emissions"),
    ("get", "/api/v1/learning-city"),
    ("get", "/api/v1/learning-city/changes"),
    ("get", "/api/v1/learning-city/{programme_id}/indicators/{indicator_id}"),
    ("put", "/api/v1/learning-city/{programme_id}/indicators/{indicator_id}"),
    ("patch", "/api/v1/learning-city/{programme_id}/indicators/{indicator_id}"),
    ("get", "/api/v1/vehicles"),
    ("get", "/api/v1/vehicles/{vehicle_id}"),
    ("get", "/api/v1/trips"),
    ("get", "/report"),
    ("get", "/report/figures.csv"),
    ("get", "/report/learning-city.csv"),
    ("get", "/metrics"),
    ("get", "/healthz"),
    ("get", "/readyz"),
}


def test_openapi_document_describes_every_endpoint(client: httpx.Client) -> None:
    """/openapi.json lists every endpoint of DESIGN.md with its parameters: the windows'
    `from` and `to` as date-times, the bucket and group enums, the bearer scheme."""
    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.")
    operations = {(m, p) for p, item in document["paths"].items() for m in item}
    assert operations >= ENDPOINTS
    summary = document["paths"]["/api/v1/mobility/summary"]["get"]
    names = {p["name"]: p for p in summary["parameters"]}
    assert names["from"]["required"] and names["to"]["required"]
    assert names["from"]["schema"]["format"] == "date-time"
    series = document["paths"]["/api/v1/mobility/timeseries"]["get"]
    bucket = next(p for p in series["parameters"] if p["name"] == "bucket")
    assert bucket["schema"]["enum"] == ["hour", "day", "week", "month"]
    assert "HTTPBearer" in document["components"]["securitySchemes"]


BOTH_MODES = pytest.mark.parametrize(
    "mode", [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
)


def _fuzzing(examples: int) -> settings:
    """Hypothesis settings of a fuzzing pass: reproducible, no deadline, no example database."""
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )


@pytest.fixture
def fuzzed_server(db_url: str) -> BackgroundServer:
    """A served database with a few vehicles, zones and trips, so reads return rows."""
    with psycopg.connect(db_url, autocommit=True) as db:
        zone(db, "campus")
        for i in range(3):
            v = vehicle(db, f"m00{i}")
            state(db, v, "riding" if i else "charging", soc_pct=15 + 30 * i)
            for k in range(5):
                trip(db, v, t("2025-03-01T08:00") + timedelta(hours=7 * k + i),
                     start_zone="campus" if k % 2 else None)  # fmt: skip
    from city import ServiceConfig
    from pogo.embedded import free_port

    return BackgroundServer(
        ServiceConfig(dsn=db_url, write_token=WRITE_TOKEN, pool_size=2), port=free_port()
    )


@pytest.mark.slow
@BOTH_MODES
def test_schemathesis_finds_no_server_error(
    fuzzed_server: BackgroundServer, mode: schemathesis.GenerationMode
) -> None:
    """Requests generated from the OpenAPI document, valid and invalid, with the write token
    so edits run too, never get a 5xx; answers to valid requests match their schema."""
    checks = [not_a_server_error]
    if mode is schemathesis.GenerationMode.POSITIVE:
        checks.append(response_schema_conformance)
    with fuzzed_server as server:
        schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
        headers = {"Authorization": f"Bearer {WRITE_TOKEN}"}
        fuzzed: list[str] = []
        for result in schema.get_all_operations():
            operation = result.ok()

            @_fuzzing(12)
            @given(case=operation.as_strategy(generation_mode=mode))
            def call(case: schemathesis.Case) -> None:
                response = case.call(base_url=server.url, headers=headers)
                case.validate_response(response, checks=checks, headers=headers)

            try:
                call()
            except Unsatisfiable:
                # Nothing to make invalid (no parameter, no body: /healthz, /metrics, ...).
                assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label
                continue
            fuzzed.append(operation.label)
    assert len(fuzzed) >= (16 if mode is schemathesis.GenerationMode.POSITIVE else 10), fuzzed


@pytest.mark.slow
@BOTH_MODES
def test_schemathesis_bodies_reach_a_stored_indicator(
    fuzzed_server: BackgroundServer, mode: schemathesis.GenerationMode
) -> None:
    """PUT and PATCH bodies generated from the OpenAPI document, sent to a stored indicator
    with its current ETag so that they get past the preconditions: valid bodies are stored
    (200, matching the schema), invalid ones get a 4xx, none a 5xx."""
    url = "/api/v1/learning-city/youth-platform/indicators/trainers"
    checks = [not_a_server_error]
    if mode is schemathesis.GenerationMode.POSITIVE:
        checks.append(response_schema_conformance)
    statuses: list[int] = []
    with fuzzed_server as server, httpx.Client(base_url=server.url) as http:
        schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
        auth = {"Authorization": f"Bearer {WRITE_TOKEN}"}
        for result in schema.get_all_operations():
            operation = result.ok()
            if (
                operation.method.upper() not in ("PUT", "PATCH")
                or "indicators" not in operation.path
            ):
                continue

            @_fuzzing(25)
            @given(case=operation.as_strategy(generation_mode=mode))
            def call(case: schemathesis.Case) -> None:
                case.path_parameters = {
                    "programme_id": "youth-platform",
                    "indicator_id": "trainers",
                }
                tag = http.get(url).headers["etag"]
                headers = {**auth, "If-Match": tag}
                case.headers = {
                    k: v
                    for k, v in (case.headers or {}).items()
                    if k.lower() not in ("if-match", "if-none-match")
                }
                response = case.call(base_url=server.url, headers=headers)
                statuses.append(response.status_code)
                case.validate_response(response, checks=checks, headers=headers)

            call()
    assert statuses and all(s < 500 for s in statuses), statuses
    if mode is schemathesis.GenerationMode.POSITIVE:
        assert statuses.count(200) >= 10, statuses  # valid bodies were stored
    else:
        assert sum(400 <= s < 500 for s in statuses) >= 10, statuses
