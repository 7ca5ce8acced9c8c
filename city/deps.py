"""Dependencies the routers share: the service's configuration and a pooled connection.

Every dependency of the service is an ``async def`` that does not block: FastAPI runs a plain
``def`` dependency in a worker thread, a thread hop per request and per dependency that cost
the figure endpoints more than computing their figures.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from psycopg_pool import AsyncConnectionPool

from city.auth import caller_of
from city.cache import CachedFigures, FiguresCache
from city.config import ServiceConfig
from city.queries import Conn

__all__ = ["Config", "Connection", "Figures", "Pool", "connection", "figures"]


async def _config(request: Request) -> ServiceConfig:
    config: ServiceConfig = request.app.state.config
    return config


def _pool(request: Request) -> AsyncConnectionPool[Conn]:
    pool: AsyncConnectionPool[Conn] = request.state.pool
    return pool


async def _pool_dependency(request: Request) -> AsyncConnectionPool[Conn]:
    return _pool(request)


async def connection(request: Request) -> AsyncIterator[Conn]:
    """A connection from the lifespan's pool, returned when the request ends."""
    async with _pool(request).connection() as conn:
        yield conn


async def figures(request: Request) -> AsyncIterator[CachedFigures]:
    """The request's figures, through the service's cache, for the request's caller; the
    connection, if one was needed, goes back to the pool when the request ends."""
    cache: FiguresCache = request.app.state.figures_cache
    async with contextlib.AsyncExitStack() as stack:
        state = request.scope.setdefault("state", {})
        yield CachedFigures(_pool(request), cache, stack, caller_of(request.scope).access, state)


Config = Annotated[ServiceConfig, Depends(_config)]
Pool = Annotated[AsyncConnectionPool[Conn], Depends(_pool_dependency)]
Connection = Annotated[Conn, Depends(connection)]
Figures = Annotated[CachedFigures, Depends(figures)]
