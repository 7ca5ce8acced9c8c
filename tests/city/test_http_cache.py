"""The fast path for figure requests (city/http_cache.py): kept answers, keyed by who may see
them, and plain requests answered before routing, byte for byte as the endpoints answer."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from starlette.types import ASGIApp, Receive, Scope, Send

from city import ServiceConfig
from city.auth import CallerMiddleware, caller_of
from city.cache import FIGURES_VERSION, FiguresCache
from city.http_cache import ResponseCache
from city.tripindex import load_index
from tests.city.builders import t, trip, vehicle
from tests.city.conftest import OPERATOR, READ_TOKEN, WRITE_TOKEN

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


def _requests(rng: np.random.Generator) -> list[str]:
    """Figure requests: random windows over the trips' months, every bucket and group (and the
    defaults), every profile (and none, and a blank one), and bad ones (an empty or reversed
    window, a repeated parameter, an unknown bucket or profile, too many hourly buckets, a
    missing end)."""
    base = datetime(2025, 2, 20, tzinfo=UTC)
    urls = []
    for _ in range(30):
        a = base + timedelta(seconds=int(rng.integers(50 * 86400)))
        b = a + timedelta(seconds=int(rng.integers(1, 40 * 86400)))
        window = f"from={a:%Y-%m-%dT%H:%M:%SZ}&to={b:%Y-%m-%dT%H:%M:%S}%2B00:00"
        bucket = rng.choice(["&bucket=day", "&bucket=week", "&bucket=month", ""])
        group = rng.choice(["&group_by=day", "&group_by=month", "&group_by=year", ""])
        profile = rng.choice(["", "&profile=stored", "&profile=city-calibrated", "&profile="])
        urls += [
            f"/api/v1/mobility/summary?{window}",
            f"/api/v1/mobility/timeseries?{window}{bucket}",
            f"/api/v1/emissions?{window}{group}{profile}",
        ]
    whole = "from=2025-02-01T00:00:00Z&to=2025-05-01T00:00:00Z"
    return [
        *urls,
        f"/api/v1/mobility/summary?{whole}&extra=1",
        "/api/v1/mobility/summary?from=2025-03-02T00:00:00Z&to=2025-03-01T00:00:00Z",
        "/api/v1/mobility/summary?from=2025-03-01T00:00:00Z&to=2025-03-01T00:00:00Z",
        f"/api/v1/mobility/summary?{whole}&from=2025-03-01T00:00:00Z",
        "/api/v1/mobility/summary?from=2025-03-01T00:00:00Z",
        f"/api/v1/mobility/timeseries?{whole}&bucket=fortnight",
        f"/api/v1/mobility/timeseries?{whole}&bucket=hour",
        f"/api/v1/mobility/timeseries?{whole}&bucket=",
        f"/api/v1/emissions?{whole}&profile=nope",
        f"/api/v1/emissions?{whole}&profile={'x' * 80}",
        f"/api/v1/emissions?{whole}&group_by=week",
        "/api/v1/emissions?from=2020-01-01T00:00:00Z&to=2035-01-01T00:00:00Z&group_by=day",
    ]


def test_answers_before_routing_equal_the_endpoints_answers(
    db: psycopg.Connection, make_client: Callable[..., httpx.Client]
) -> None:
    """For random windows, buckets, groups and profiles, anonymous and operator, the answers
    given before routing are byte for byte the endpoints' own (a service keeping no answers
    routes every request), and a bad request gets the endpoint's error from both."""
    rng = np.random.default_rng(41)
    keys = [vehicle(db, f"h{i}") for i in range(5)]
    for k in range(150):
        trip(
            db,
            keys[k % 5],
            datetime(2025, 2, 25, tzinfo=UTC) + timedelta(minutes=int(rng.integers(60 * 24 * 60))),
            km=float(rng.uniform(1, 9)),
            rider=None if k % 9 == 0 else f"h{int(rng.integers(40))}",
            energy_kwh=None if k % 4 == 0 else float(rng.uniform(0.05, 0.5)),
        )
    fast = make_client(cache_check_interval_s=3600)
    routed = make_client(cache_entries=0)
    for headers in ({}, OPERATOR):
        for url in _requests(rng):
            a, b = fast.get(url, headers=headers), routed.get(url, headers=headers)
            assert (a.status_code, a.content) == (b.status_code, b.content), url
            assert a.headers["content-type"] == b.headers["content-type"], url


def test_plain_requests_are_answered_without_routing(db: psycopg.Connection, db_url: str) -> None:
    """With a fresh version reading and the index at that version, a plain summary, time
    series or emissions request never reaches the application behind the fast path; a bad
    one, or any once the reading is stale, does (and the application answers it)."""
    v = vehicle(db)
    trip(db, v, t("2025-03-01T08:00"), rider="a")
    trip(db, v, t("2025-03-01T09:00"), rider="b")
    config, cache = ServiceConfig(dsn=db_url), fresh_cache(db_url)
    routed: list[str] = []

    async def application(scope: Scope, receive: Receive, send: Send) -> None:
        routed.append(scope["path"])
        await send({"type": "http.response.start", "status": 418, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    app = CallerMiddleware(ResponseCache(application, config=config, cache=cache), config=config)
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(db_url, open=False)  # never opened
    window = "from=2025-03-01T00:00:00Z&to=2025-03-02T00:00:00Z"

    async def get(url: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=_with_state(app, {"pool": pool}))
        async with httpx.AsyncClient(transport=transport, base_url="http://city") as client:
            return await client.get(url)

    summary = asyncio.run(get(f"/api/v1/mobility/summary?{window}"))
    assert summary.status_code == 200 and summary.json()["figures"]["trips"] == 2
    series = asyncio.run(get(f"/api/v1/mobility/timeseries?{window}&bucket=hour"))
    assert [p["trips"] for p in series.json()["points"]][8:10] == [1, 1]
    report = asyncio.run(get(f"/api/v1/emissions?{window}&group_by=day&profile=stored"))
    assert report.json()["totals"]["trips"] == 2
    assert routed == []
    assert asyncio.run(get(f"/api/v1/mobility/timeseries?{window}&bucket=year")).status_code == 418
    assert routed == ["/api/v1/mobility/timeseries"]
    cache.checked_at = float("-inf")  # stale: the application reads the version again
    assert asyncio.run(get(f"/api/v1/mobility/summary?{window}&x=1")).status_code == 418
    assert routed[-1] == "/api/v1/mobility/summary"


def fresh_cache(db_url: str) -> FiguresCache:
    """A figures cache holding the stored trips' index, its version just read."""
    cache = FiguresCache(db_url, check_interval_s=3600)
    cache.index = load_index(db_url)
    cache.saw(cache.index.version, time.monotonic())
    return cache


def test_a_stale_reading_is_read_again_before_the_fast_path(
    db: psycopg.Connection, db_url: str
) -> None:
    """Once the version reading is stale, plain requests read it again (one reading shared
    by the requests of that moment) and are still answered without routing while nothing
    changed; after a change the index is older than the version and the application answers."""
    v = vehicle(db)
    trip(db, v, t("2025-03-01T08:00"), rider="a")
    config, cache = ServiceConfig(dsn=db_url), fresh_cache(db_url)
    routed: list[str] = []
    readings: list[int] = []
    read = cache._read

    async def counted(pool: AsyncConnectionPool[Any]) -> int | None:
        readings.append(1)
        return await read(pool)

    cache._read = counted  # type: ignore[method-assign]

    async def application(scope: Scope, receive: Receive, send: Send) -> None:
        routed.append(scope["path"])
        await send({"type": "http.response.start", "status": 418, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    app = CallerMiddleware(ResponseCache(application, config=config, cache=cache), config=config)

    async def scenario() -> tuple[list[int], list[str], int]:
        async with AsyncConnectionPool(
            db_url, min_size=1, max_size=2, kwargs={"row_factory": dict_row, "autocommit": True}
        ) as pool:
            transport = httpx.ASGITransport(app=_with_state(app, {"pool": pool}))
            async with httpx.AsyncClient(transport=transport, base_url="http://city") as client:
                cache.checked_at = float("-inf")
                answers = await asyncio.gather(*(client.get(f"{URL}&n={i}") for i in range(20)))
                routed_before = list(routed)
                trip(db, v, t("2025-03-01T09:00"), rider="b")
                cache.checked_at = float("-inf")
                after = await client.get(URL)
        return [a.json()["figures"]["trips"] for a in answers], routed_before, after.status_code

    trips, routed_before, status = asyncio.run(scenario())
    assert trips == [1] * 20 and routed_before == []
    assert len(readings) == 2  # one for the twenty stale requests, one after the change
    assert status == 418 and routed == ["/api/v1/mobility/summary"]


def _with_state(app: ASGIApp, state: dict[str, Any]) -> ASGIApp:
    """``app`` with the lifespan's state in every request's scope, as uvicorn gives it."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        scope.setdefault("state", {}).update(state)
        await app(scope, receive, send)

    return wrapped
