"""A fast path for repeated figure requests: whole answers served before routing.

The JSON figure endpoints (summary, time series, emissions) depend only on their query string
and on the trips table, so an answer the endpoint produced (status 200) is kept with the data
version it was computed at (``FIGURES_VERSION`` in the request's state, set by
:class:`city.cache.CachedFigures`). The same path and query string then gets the same bytes
back without parameter parsing, dependencies or a database connection, as long as the cache's
version reading is fresh (see :class:`city.cache.FiguresCache`) and equal.

Who asks is the request's one access decision (:class:`city.auth.CallerMiddleware`, which runs
before this): a caller that may not read goes through the application (which refuses it), and
an answer is kept and found under the caller's access as well as its path and query string, so
it is only ever served to a caller with the same access. Anything unusual (another method, a
stale version) goes through the application as usual.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from city.auth import caller_of, read_refusal
from city.cache import FIGURES_VERSION, FiguresCache
from city.config import ServiceConfig

__all__ = ["ResponseCache"]

CACHEABLE_PATHS = frozenset(
    {"/api/v1/mobility/summary", "/api/v1/mobility/timeseries", "/api/v1/emissions"}
)


class ResponseCache:
    """ASGI middleware serving the kept answers of :data:`CACHEABLE_PATHS`."""

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
        key = ("http", caller_of(scope).access, scope["path"], scope["query_string"])
        if self.cache.fresh() and self.cache.version is not None:
            found, body = self.cache.lookup(self.cache.version, key)
            if found:
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
        version = scope.get("state", {}).get(FIGURES_VERSION)
        if status == 200 and version is not None:
            self.cache.store(version, key, b"".join(chunks))


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
