"""Assembles the city service: lifespan (the pool), routers, error handlers, static files."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import psycopg
import structlog
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry
from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from city._gauges import GaugeReader
from city.auth import CallerMiddleware
from city.cache import FiguresCache
from city.config import ServiceConfig
from city.handlers import install_handlers
from city.headers import SecurityHeaders
from city.http_cache import ResponseCache
from city.metrics import new_registry
from city.routers import (
    alerts,
    emissions,
    gbfs,
    learning_city,
    mds,
    mobility,
    operations,
    report,
    trips,
    vehicles,
)
from fleet import latest_version

__all__ = ["create_app"]

log = structlog.get_logger("city")

#: How long the service's start waits for the database before it serves not-ready.
STARTUP_PROBE_S = 5
#: How long a request waits for a database connection before it answers 503.
POOL_WAIT_S = 5


async def _database_answers(dsn: str) -> bool:
    try:
        connection = await AsyncConnection.connect(dsn, connect_timeout=STARTUP_PROBE_S)
    except psycopg.OperationalError:
        return False
    await connection.close()
    return True


def create_app(config: ServiceConfig, registry: CollectorRegistry | None = None) -> FastAPI:
    """The city service for ``config``.

    The connection pool is opened by the app's lifespan and lives in its state; ``registry``
    (a fresh one by default) holds the fleet collector that ``/metrics`` exposes.
    """
    reader = GaugeReader(config.low_battery_pct)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        pool: AsyncConnectionPool[AsyncConnection[DictRow]] = AsyncConnectionPool(
            config.dsn,
            min_size=1,
            max_size=config.pool_size,
            kwargs={"row_factory": dict_row, "autocommit": True},
            connection_class=AsyncConnection[DictRow],
            name="city",
            open=False,
            # A request waits this long for a connection, then answers 503 (database away).
            timeout=POOL_WAIT_S,
        )
        # The service starts whether or not the database answers: /readyz and data requests
        # answer 503 until it does, while the pool keeps trying in the background.
        if not await _database_answers(config.dsn):
            log.warning(
                "database_unreachable",
                detail="serving; /readyz answers 503 until the database answers "
                "(check POGO_DATABASE_URL)",
            )
        await pool.open(wait=False)
        reader.pool = pool
        log.info("service_started", pool_size=config.pool_size)
        try:
            yield {"pool": pool}
        finally:
            reader.pool = None
            await pool.close()
            log.info("service_stopped")

    app = FastAPI(
        title="POGO city service",
        version="1.0.0",
        summary="Benguerir's POGO mobility figures beside the learning-city programme tables.",
        lifespan=lifespan,
        # FastAPI's /docs and /redoc pages load their scripts from a CDN; the service serves
        # nothing that needs another host, so only the OpenAPI document itself is published.
        docs_url=None,
        redoc_url=None,
        # Starlette's limit: a declared Content-Length over it is refused before anything is
        # read, a streamed body as soon as the count passes it (413, before authentication:
        # FastAPI reads a body before it solves the route's dependencies).
        max_body_size=config.max_body_bytes,
    )
    app.state.config = config
    app.state.expected_schema_version = latest_version()
    figures_cache = FiguresCache(config.dsn, config.cache_entries, config.cache_check_interval_s)
    app.state.figures_cache = figures_cache
    if registry is None:
        registry = new_registry(reader)
    else:
        from city.metrics import FleetCollector

        registry.register(FleetCollector(reader))
    app.state.registry = registry
    install_handlers(app)
    app.add_middleware(ResponseCache, config=config, cache=figures_cache)
    # Before the kept answers: who asks is decided once per request.
    app.add_middleware(CallerMiddleware, config=config)
    # Added last, so outermost: the cached fast path's answers get the headers too.
    app.add_middleware(SecurityHeaders)
    for module in (
        mobility,
        emissions,
        learning_city,
        vehicles,
        trips,
        alerts,
        report,
        operations,
        mds,
        gbfs,
    ):
        app.include_router(module.router)
    app.mount(
        "/static",
        StaticFiles(directory=Path(__file__).resolve().parent / "static"),
        name="static",
    )
    return app
