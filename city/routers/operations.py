"""``/healthz``, ``/readyz`` and ``/metrics`` for operators."""

from __future__ import annotations

import asyncio

import psycopg
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from psycopg_pool import PoolTimeout

from city import queries
from city.deps import Pool
from city.schemas import Health, Readiness

__all__ = ["router"]

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process answers (it does not look at the database)."""
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
async def readyz(request: Request, pool: Pool) -> JSONResponse:
    """Ready when the database answers and its schema is at the version this code ships."""
    expected: int = request.app.state.expected_schema_version
    version: int | None = None
    reachable = False
    try:
        async with asyncio.timeout(5), pool.connection(timeout=5) as conn:
            version = await queries.schema_version(conn)
            reachable = True
    except (psycopg.Error, PoolTimeout, TimeoutError):
        reachable = False
    ready = reachable and version == expected
    body = Readiness(
        status="ready" if ready else "not ready",
        database=reachable,
        schema_version=version,
        expected_version=expected,
    )
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text"}},
)
def metrics(request: Request) -> Response:
    """Prometheus exposition: the fleet gauges, read from the database at this scrape."""
    registry: CollectorRegistry = request.app.state.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
