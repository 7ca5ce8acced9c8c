"""Bearer tokens: reading needs none unless a read token is set; editing needs the write token."""

from __future__ import annotations

import hmac
from typing import Annotated, Literal

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from city.config import ServiceConfig
from city.errors import AuthenticationError, ForbiddenError

__all__ = ["Access", "ReadAccess", "WriteAccess", "require_read", "require_write"]

Access = Literal["anonymous", "read", "write"]

_bearer = HTTPBearer(auto_error=False, description="POGO_API_READ_TOKEN or POGO_API_WRITE_TOKEN")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _same(given: str, expected: str | None) -> bool:
    return expected is not None and hmac.compare_digest(given.encode(), expected.encode())


def _access(config: ServiceConfig, credentials: HTTPAuthorizationCredentials | None) -> Access:
    if credentials is None:
        return "anonymous"
    token = credentials.credentials
    if _same(token, config.write_token):
        return "write"
    if _same(token, config.read_token):
        return "read"
    raise AuthenticationError("the bearer token is not a token of this service")


def require_read(request: Request, credentials: Credentials) -> Access:
    """Let the request read: anyone, or a read or write token when a read token is set."""
    config: ServiceConfig = request.app.state.config
    access = _access(config, credentials)
    if access == "anonymous" and config.read_token is not None:
        raise AuthenticationError("reading needs a bearer token (POGO_API_READ_TOKEN is set)")
    return access


def require_write(request: Request, credentials: Credentials) -> Access:
    """Let the request edit: the write token only."""
    config: ServiceConfig = request.app.state.config
    if config.write_token is None:
        raise ForbiddenError("editing is off: the operator has not set POGO_API_WRITE_TOKEN")
    access = _access(config, credentials)
    if access == "anonymous":
        raise AuthenticationError("editing needs the write bearer token")
    if access != "write":
        raise ForbiddenError("this token may read but not edit")
    return access


ReadAccess = Annotated[Access, Depends(require_read)]
WriteAccess = Annotated[Access, Depends(require_write)]
