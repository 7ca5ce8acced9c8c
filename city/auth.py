"""Who asks: one access decision per request, from its bearer token.

:class:`CallerMiddleware` decides once, before routing, from the ``Authorization`` header
(:func:`decide`), and keeps the :class:`Caller` in the request's state. Everything that
depends on who asks reads that one decision: the routers' :data:`ReadAccess` and
:data:`WriteAccess` dependencies, the fast path of kept answers (:mod:`city.http_cache`) and
the figure cache (:mod:`city.cache`), whose every key holds the caller's access, so an answer
kept for one caller is only ever served to a caller with the same access.

Who may see what:

- aggregates (summary, time series, emissions, learning city, the report) need no token
  unless a read token is set;
- trip-level data (trips, vehicle positions) needs a token, read, write or operator
  (:data:`TokenAccess`);
- editing programme tables needs the write token;
- only the operator token (``POGO_API_OPERATOR_TOKEN``) sees rider pseudonyms and exact
  distinct-rider counts below :data:`city.privacy.K_ANONYMITY`; ``operator`` is an access of
  its own, so the caches keep its answers apart.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from city.config import ServiceConfig
from city.errors import AuthenticationError, ForbiddenError

__all__ = [
    "Access",
    "Caller",
    "CallerMiddleware",
    "ReadAccess",
    "TokenAccess",
    "WriteAccess",
    "caller_of",
    "decide",
    "read_refusal",
    "require_read",
    "require_token",
    "require_write",
]

Access = Literal["anonymous", "read", "write", "operator"]

_CALLER = "caller"  # the request-state key holding the request's Caller

# Declares the bearer scheme in the OpenAPI document; the decision itself is decide()'s.
_bearer = HTTPBearer(
    auto_error=False,
    description="POGO_API_READ_TOKEN, POGO_API_WRITE_TOKEN or POGO_API_OPERATOR_TOKEN",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


@dataclass(frozen=True)
class Caller:
    """The access of the request's bearer token.

    Attributes
    ----------
    access : {"anonymous", "read", "write", "operator"}
        ``anonymous`` without a bearer token (or with another scheme).
    refused : str or None
        Why the token was refused (a bearer token that is not one of this service's): every
        endpoint that needs access answers 401 with it.
    """

    access: Access
    refused: str | None = None


def _same(given: str, expected: str | None) -> bool:
    return expected is not None and hmac.compare_digest(given.encode(), expected.encode())


def decide(config: ServiceConfig, authorization: str | None) -> Caller:
    """The caller an ``Authorization`` header value makes (the HTTP bearer scheme's parsing:
    a header without a credential, or of another scheme, is no token)."""
    scheme, token = get_authorization_scheme_param(authorization)
    if not (authorization and scheme and token) or scheme.lower() != "bearer":
        return Caller("anonymous")
    if _same(token, config.operator_token):
        return Caller("operator")
    if _same(token, config.write_token):
        return Caller("write")
    if _same(token, config.read_token):
        return Caller("read")
    return Caller("anonymous", refused="the bearer token is not a token of this service")


class CallerMiddleware:
    """ASGI middleware: decides every HTTP request's :class:`Caller`, once, before anything
    else sees the request, and keeps it in the request state."""

    def __init__(self, app: ASGIApp, config: ServiceConfig) -> None:
        self.app = app
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            header = Headers(scope=scope).get("authorization")
            scope.setdefault("state", {})[_CALLER] = decide(self.config, header)
        await self.app(scope, receive, send)


def caller_of(scope: Scope) -> Caller:
    """The request's decided caller (anonymous for a scope the middleware did not see)."""
    caller: Caller = scope.get("state", {}).get(_CALLER, Caller("anonymous"))
    return caller


def read_refusal(config: ServiceConfig, caller: Caller) -> str | None:
    """Why ``caller`` may not read (the 401's detail), or None when it may."""
    if caller.refused is not None:
        return caller.refused
    if caller.access == "anonymous" and config.read_token is not None:
        return "reading needs a bearer token (POGO_API_READ_TOKEN is set)"
    return None


async def require_read(request: Request, credentials: Credentials) -> Access:
    """Let the request read: anyone, or a read or write token when a read token is set."""
    config: ServiceConfig = request.app.state.config
    caller = caller_of(request.scope)
    refusal = read_refusal(config, caller)
    if refusal is not None:
        raise AuthenticationError(refusal)
    return caller.access


async def require_token(request: Request, credentials: Credentials) -> Access:
    """Let the request read trip-level data (trips, vehicle positions): any token of this
    service, even when reading aggregates is open."""
    caller = caller_of(request.scope)
    if caller.refused is not None:
        raise AuthenticationError(caller.refused)
    if caller.access == "anonymous":
        raise AuthenticationError("trip-level data needs a bearer token (read, write or operator)")
    return caller.access


async def require_write(request: Request, credentials: Credentials) -> Access:
    """Let the request edit: the write token only."""
    config: ServiceConfig = request.app.state.config
    if config.write_token is None:
        raise ForbiddenError("editing is off: the operator has not set POGO_API_WRITE_TOKEN")
    caller = caller_of(request.scope)
    if caller.refused is not None:
        raise AuthenticationError(caller.refused)
    if caller.access == "anonymous":
        raise AuthenticationError("editing needs the write bearer token")
    if caller.access != "write":
        raise ForbiddenError("this token may read but not edit")
    return caller.access


ReadAccess = Annotated[Access, Depends(require_read)]
TokenAccess = Annotated[Access, Depends(require_token)]
WriteAccess = Annotated[Access, Depends(require_write)]
