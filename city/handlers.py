"""The HTTP answers of the package's errors, in FastAPI's validation-error shape."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from city.errors import AuthenticationError, BadParameterError, ForbiddenError, NotFoundError

__all__ = ["install_handlers"]


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


def install_handlers(app: FastAPI) -> None:
    """Answer the package's errors with 422, 404, 401 and 403."""
    app.add_exception_handler(BadParameterError, _bad_parameter)
    app.add_exception_handler(NotFoundError, _not_found)
    app.add_exception_handler(AuthenticationError, _unauthenticated)
    app.add_exception_handler(ForbiddenError, _forbidden)
