"""A fast path for the figure requests: answers given before routing.

The JSON figure endpoints (summary, time series, emissions) depend only on their query string,
on who asks and on the trips table, so:

- an answer the endpoint produced (status 200) is kept with the data version it was computed
  at (``FIGURES_VERSION`` in the request's state, set by :class:`city.cache.CachedFigures`),
  and the same path and query string then gets the same bytes back;
- a request not kept yet whose parameters are plain (each known one given at most once, each
  valid) is answered from the trip index by the endpoint's own answer function
  (:func:`city.routers.mobility.summary_json`, :func:`~city.routers.mobility.timeseries_json`,
  :func:`city.routers.emissions.emissions_json`) after the same checks, without routing,
  parameter validation or dependencies, which cost several times the figures themselves.

Both only while the cache's version reading is fresh and the index holds that version (see
:class:`city.cache.FiguresCache`): the fast path never touches the database. Anything else (a
bad or repeated parameter, a stale version, another method, a caller that may not read) goes
through the application as usual, which answers it, errors included.

Who asks is the request's one access decision (:class:`city.auth.CallerMiddleware`, which runs
before this): an answer is kept and found under the caller's access as well as its path and
query string, so it is only ever served to a caller with the same access.
"""

from __future__ import annotations

import contextlib
from typing import Any, get_args
from urllib.parse import parse_qsl

import psycopg
from psycopg_pool import PoolTimeout
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from city.auth import Access, caller_of, read_refusal
from city.cache import FIGURES_VERSION, CachedFigures, FiguresCache
from city.config import ServiceConfig
from city.errors import CityError
from city.params import Bucket, GroupBy, check_buckets, checked_window
from city.routers.emissions import chosen_profile, emissions_json
from city.routers.mobility import summary_json, timeseries_json

__all__ = ["ResponseCache"]

SUMMARY = "/api/v1/mobility/summary"
TIMESERIES = "/api/v1/mobility/timeseries"
EMISSIONS = "/api/v1/emissions"
CACHEABLE_PATHS = frozenset({SUMMARY, TIMESERIES, EMISSIONS})

_PARAMETERS = {
    SUMMARY: frozenset({"from", "to"}),
    TIMESERIES: frozenset({"from", "to", "bucket"}),
    EMISSIONS: frozenset({"from", "to", "group_by", "profile"}),
}
_BUCKETS: dict[str, Bucket] = {name: name for name in get_args(Bucket)}
_GROUPS: dict[str, GroupBy] = {name: name for name in get_args(GroupBy)}
_PROFILE_MAX_LENGTH = 64  # the endpoint's Query(max_length=...)


class ResponseCache:
    """ASGI middleware answering :data:`CACHEABLE_PATHS` before routing (see the module)."""

    def __init__(self, app: ASGIApp, config: ServiceConfig, cache: FiguresCache) -> None:
        self.app = app
        self.cache = cache
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or scope["path"] not in CACHEABLE_PATHS
            or not self.cache.enabled
            or read_refusal(self.config, caller_of(scope)) is not None
        ):
            await self.app(scope, receive, send)
            return
        access = caller_of(scope).access
        key = ("http", access, scope["path"], scope["query_string"])
        version = await self._version(scope)
        if self.cache.fresh() and version is not None:
            found, body = self.cache.lookup(version, key)
            if found:
                await _send_json(send, body)
                return
            body = await self._direct(scope, access, version)
            if body is not None:
                self.cache.store(version, key, body)
                await _send_json(send, body)
                return
        status = 0
        chunks: list[bytes] = []

        async def keep(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, keep)
        answered_at = scope.get("state", {}).get(FIGURES_VERSION)
        if status == 200 and answered_at is not None:
            self.cache.store(answered_at, key, b"".join(chunks))

    async def _version(self, scope: Scope) -> int | None:
        """The data version, read again (one reading shared by every request that finds it
        stale meanwhile) when the last reading is not fresh. Without this, every request of
        the moment after each ``check_interval_s`` went the application's whole way: on two
        simulated years and 50 clients, a third of the requests. None when the database did
        not answer: the application answers then, in its own words."""
        pool = scope.get("state", {}).get("pool")
        if self.cache.fresh() or pool is None or self.cache.check_interval_s <= 0:
            return self.cache.version  # (0: never fresh, the application reads it each time)
        try:
            return await self.cache.current(pool)
        except (psycopg.OperationalError, PoolTimeout):
            return None

    async def _direct(self, scope: Scope, access: Access, version: int) -> bytes | None:
        """The endpoint's answer computed without routing, or None when the request is not
        plain or the index does not hold ``version`` (the application answers it then)."""
        pool = scope.get("state", {}).get("pool")
        query = _plain_query(scope["query_string"], _PARAMETERS[scope["path"]])
        if pool is None or query is None or "from" not in query or "to" not in query:
            return None
        if self.cache.current_index() is None:
            return None
        path = scope["path"]
        async with contextlib.AsyncExitStack() as stack:
            figs = CachedFigures(pool, self.cache, stack, access, version=version)
            try:
                win = checked_window(self.config, query["from"], query["to"])
                if path == SUMMARY:
                    return await summary_json(figs, win)
                if path == TIMESERIES:
                    bucket = _BUCKETS.get(query.get("bucket", "day"))
                    if bucket is None:
                        return None
                    check_buckets(self.config, win, "bucket", bucket)
                    return await timeseries_json(figs, win, bucket)
                group_by = _GROUPS.get(query.get("group_by", "month"))
                profile = query.get("profile")
                if group_by is None or len(profile or "") > _PROFILE_MAX_LENGTH:
                    return None
                chosen = chosen_profile(self.config, profile)
                check_buckets(self.config, win, "group_by", group_by)
                return await emissions_json(figs, win, group_by, chosen)
            except CityError:
                return None  # a bad parameter: the endpoint answers it, in its own words


def _plain_query(raw: bytes, known: frozenset[str]) -> dict[str, str] | None:
    """The known parameters of a query string (decoded as Starlette does), or None when one
    of them is given more than once."""
    query: dict[str, str] = {}
    for name, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        if name in known:
            if name in query:
                return None
            query[name] = value
    return query


async def _send_json(send: Send, body: Any) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
