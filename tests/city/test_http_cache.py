"""The fast path for repeated figure requests (city/http_cache.py): kept answers, keyed by who
may see them."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import httpx
import psycopg
from starlette.types import ASGIApp, Receive, Scope, Send

from city import ServiceConfig
from city.auth import CallerMiddleware, caller_of
from city.cache import FIGURES_VERSION, FiguresCache
from city.http_cache import ResponseCache
from tests.city.builders import t, trip, vehicle
from tests.city.conftest import READ_TOKEN, WRITE_TOKEN

URL = "/api/v1/mobility/summary?from=2025-03-01T00:00:00Z&to=2025-03-02T00:00:00Z"


def test_repeated_requests_get_the_same_answer_until_trips_change(
    db: psycopg.Connection, make_client: Callable[..., httpx.Client]
) -> None:
    """The same query string gets byte-identical answers; once the check interval has passed
    after a write to trips, the answer changes."""
    client = make_client(cache_check_interval_s=0.3)
    v = vehicle(db)
    trip(db, v, t("2025-03-01T08:00"))
    first = client.get(URL)
    again = client.get(URL)
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert again.headers["content-type"] == "application/json"
    trip(db, v, t("2025-03-01T09:00"))
    time.sleep(0.4)
    assert client.get(URL).json()["figures"]["trips"] == 2


def test_the_fast_path_keeps_the_read_token_rule(
    db: psycopg.Connection, make_client: Callable[..., httpx.Client]
) -> None:
    """With a read token, a cached answer goes only to a request bearing the read or the
    write token; no token or a wrong one gets 401 even right after a cached answer."""
    client = make_client(read_token=READ_TOKEN, cache_check_interval_s=60)
    trip(db, vehicle(db), t("2025-03-01T08:00"))
    read = {"Authorization": f"Bearer {READ_TOKEN}"}
    assert client.get(URL, headers=read).status_code == 200
    assert client.get(URL, headers=read).status_code == 200
    assert client.get(URL).status_code == 401
    assert client.get(URL, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get(URL, headers={"Authorization": "Basic eDp5"}).status_code == 401
    write = {"Authorization": f"Bearer {WRITE_TOKEN}"}
    assert client.get(URL, headers=write).json()["figures"]["trips"] == 1


def test_errors_are_never_kept(make_client: Callable[..., httpx.Client]) -> None:
    """A 422 answer is not kept: the same bad query gets the full error each time."""
    client = make_client(cache_check_interval_s=60)
    bad = "/api/v1/mobility/summary?from=nope&to=2025-03-02T00:00:00Z"
    for _ in range(2):
        response = client.get(bad)
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["query", "from"]


def _who_asks_app(config: ServiceConfig, cache: FiguresCache) -> ASGIApp:
    """The service's two middlewares, in the service's order, around an endpoint whose answer
    depends on who asks (as the privacy rules will make the figures do)."""

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        scope["state"][FIGURES_VERSION] = cache.version
        body = json.dumps({"access": caller_of(scope).access}).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    return CallerMiddleware(ResponseCache(endpoint, config=config, cache=cache), config=config)


def test_a_kept_answer_is_never_served_to_a_caller_of_other_access() -> None:
    """An answer kept for one caller is served again to a caller with the same access, and
    never to one with other access: each access level gets the answer computed for it."""
    config = ServiceConfig(
        dsn="postgresql://unused", read_token=READ_TOKEN, write_token=WRITE_TOKEN
    )
    cache = FiguresCache(config.dsn, check_interval_s=3600)
    cache.saw(7, time.monotonic())
    app = _who_asks_app(config, cache)
    read = {"Authorization": f"Bearer {READ_TOKEN}"}
    write = {"Authorization": f"Bearer {WRITE_TOKEN}"}

    async def ask() -> list[tuple[int, str]]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://city") as client:
            answers = []
            for headers in (read, write, read, write, {"Authorization": "Bearer nope"}):
                r = await client.get(URL, headers=headers)
                answers.append((r.status_code, r.json().get("access", "")))
            return answers

    answers = asyncio.run(ask())
    assert answers[:4] == [(200, "read"), (200, "write"), (200, "read"), (200, "write")]
    assert cache.hits == 2  # the third and fourth answers were kept ones, each its own
    assert len(cache.entries) == 2
    # A refused token goes past what was kept to the application (which answers 401 there)
    # and its answer is not kept.
    assert answers[4] == (200, "anonymous")
    assert cache.hits == 2 and len(cache.entries) == 2
