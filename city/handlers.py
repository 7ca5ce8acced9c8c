"""The HTTP answers of the package's errors, in FastAPI's validation-error shape."""

from __future__ import annotations

import psycopg
import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout

from city.errors import AuthenticationError, BadParameterError, ForbiddenError, NotFoundError

__all__ = ["install_handlers"]

log = structlog.get_logger("city")

#: How long a client should wait before asking again while the database is away.
RETRY_AFTER_S = 5


async def _bad_parameter(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BadParameterError)  # registered for this class only
    detail = [{"loc": [exc.where, exc.parameter], "msg": str(exc), "type": "bad_parameter"}]
    return JSONResponse({"detail": detail}, status_code=422)


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=404)


async def _unauthenticated(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(
        {"detail": str(exc)}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
    )


async def _forbidden(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=403)


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    # One line in the log, without the query or its parameters; the client learns only that
    # the database is away and when to try again.
    log.warning("database_unavailable", path=request.url.path, error=type(exc).__name__)
    return JSONResponse(
        {"detail": "the database is unavailable; try again later"},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def install_handlers(app: FastAPI) -> None:
    """Answer the package's errors with 422, 404, 401 and 403, and a database away with 503."""
    app.add_exception_handler(BadParameterError, _bad_parameter)
    app.add_exception_handler(NotFoundError, _not_found)
    app.add_exception_handler(AuthenticationError, _unauthenticated)
    app.add_exception_handler(ForbiddenError, _forbidden)
    app.add_exception_handler(psycopg.OperationalError, _database_unavailable)
    app.add_exception_handler(PoolTimeout, _database_unavailable)
