"""Errors of the MDS and GBFS mappings; the routers answer each with its status."""

from __future__ import annotations

__all__ = ["BadPeriodError", "InteropError", "NotAcceptableError"]


class InteropError(Exception):
    """Root of the ``interop`` package's errors."""


class BadPeriodError(InteropError):
    """An hour, month or timestamp parameter is missing or malformed (MDS answers 400).

    The message names the parameter, the bad value and what was expected.
    """

    def __init__(self, parameter: str, value: object, expected: str) -> None:
        self.parameter = parameter
        self.value = value
        self.expected = expected
        super().__init__(f"{parameter} is {value!r}; expected {expected}")


class NotAcceptableError(InteropError):
    """The ``Accept`` header asks for a version of MDS this service does not serve (406)."""
