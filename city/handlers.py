"""The HTTP answers of the package's errors, in FastAPI's validation-error shape."""

from __future__ import annotations

import math
from typing import Any

import psycopg
import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout

from city.config import ServiceConfig
from city.errors import (
    AuthenticationError,
    BadParameterError,
    ForbiddenError,
    NotFoundError,
    PreconditionFailedError,
    PreconditionRequiredError,
)
from interop import BadPeriodError, NotAcceptableError

__all__ = ["install_handlers"]

log = structlog.get_logger("city")

#: How long a client should wait before asking again while the database is away.
RETRY_AFTER_S = 5


async def _bad_parameter(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BadParameterError)  # registered for this class only
    detail = [{"loc": [exc.where, exc.parameter], "msg": str(exc), "type": "bad_parameter"}]
    return JSONResponse({"detail": detail}, status_code=422)


async def _bad_period(request: Request, exc: Exception) -> JSONResponse:
    # MDS's error shape (models/response/error_bad_param.yaml) and its status, 400.
    assert isinstance(exc, BadPeriodError)  # registered for this class only
    body = {
        "error": "bad_param",
        "error_description": str(exc),
        "error_details": [exc.parameter],
    }
    return JSONResponse(body, status_code=400)


async def _not_acceptable(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=406)


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=404)


async def _unauthenticated(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(
        {"detail": str(exc)}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
    )


async def _forbidden(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=403)


async def _precondition_required(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=428)


async def _precondition_failed(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PreconditionFailedError)  # registered for this class only
    headers = {"ETag": exc.etag} if exc.etag else None
    return JSONResponse({"detail": str(exc)}, status_code=412, headers=headers)


async def _too_large(request: Request, exc: Exception) -> JSONResponse:
    config: ServiceConfig = request.app.state.config
    detail = (
        f"the request body is over the service's limit of {config.max_body_bytes} bytes "
        "(POGO_API_MAX_BODY_BYTES)"
    )
    return JSONResponse({"detail": detail}, status_code=413)


def _json_safe(value: Any) -> Any:
    """``value`` with what JSON cannot carry spelled out: NaN and infinities as text, lone
    surrogates escaped (a request may hold both; its error must still be sent)."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_json_safe(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    # FastAPI's own answer, with the rejected input made sendable: its default handler fails
    # (500) on a NaN, an infinity or a lone surrogate that it echoes back.
    assert isinstance(exc, RequestValidationError)  # registered for this class only
    return JSONResponse({"detail": _json_safe(jsonable_encoder(exc.errors()))}, status_code=422)


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
    """Answer the package's errors with 422, 404, 401, 403, 412 and 428, MDS's with 400 and
    406, a body over the limit
    with 413, and a database away with 503."""
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(BadParameterError, _bad_parameter)
    app.add_exception_handler(NotFoundError, _not_found)
    app.add_exception_handler(BadPeriodError, _bad_period)
    app.add_exception_handler(NotAcceptableError, _not_acceptable)
    app.add_exception_handler(AuthenticationError, _unauthenticated)
    app.add_exception_handler(ForbiddenError, _forbidden)
    app.add_exception_handler(PreconditionRequiredError, _precondition_required)
    app.add_exception_handler(PreconditionFailedError, _precondition_failed)
    app.add_exception_handler(413, _too_large)
    app.add_exception_handler(psycopg.OperationalError, _database_unavailable)
    app.add_exception_handler(PoolTimeout, _database_unavailable)
