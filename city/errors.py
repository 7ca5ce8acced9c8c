"""Errors of the city service; ``city.handlers`` turns each into its HTTP answer."""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "BadParameterError",
    "CityError",
    "ForbiddenError",
    "NotFoundError",
    "PreconditionFailedError",
    "PreconditionRequiredError",
]


class CityError(Exception):
    """Root of the ``city`` package's errors."""


class BadParameterError(CityError):
    """A request parameter is malformed or out of bounds (answered 422).

    The message names the parameter, the bad value and what was expected.
    """

    def __init__(self, parameter: str, value: object, expected: str, where: str = "query") -> None:
        self.parameter = parameter
        self.value = value
        self.expected = expected
        self.where = where
        super().__init__(f"{parameter} is {value!r}; expected {expected}")


class NotFoundError(CityError):
    """The vehicle, programme or indicator a request names does not exist (answered 404)."""

    def __init__(self, what: str, key: str) -> None:
        self.what = what
        self.key = key
        super().__init__(f"no {what} {key!r}")


class AuthenticationError(CityError):
    """A bearer token is needed and is missing or unknown (answered 401)."""


class ForbiddenError(CityError):
    """The token is known but lacks the right asked for, e.g. a read token editing (403)."""


class PreconditionRequiredError(CityError):
    """An edit came without ``If-Match`` (or ``If-None-Match: *`` to create) (answered 428)."""


class PreconditionFailedError(CityError):
    """An edit's ``If-Match`` names an older version, or ``If-None-Match: *`` an indicator
    that exists (answered 412): someone else changed it since it was read."""

    def __init__(self, message: str, etag: str | None) -> None:
        self.etag = etag
        super().__init__(message)
