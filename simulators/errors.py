"""Errors of the simulators."""

from __future__ import annotations

__all__ = ["PublishError", "ScenarioError", "SimulatorError"]


class SimulatorError(Exception):
    """Root of the ``simulators`` package's errors."""


class ScenarioError(SimulatorError):
    """A scenario parameter is out of range or inconsistent (the message names it)."""

    def __init__(self, parameter: str, value: object, expected: str) -> None:
        self.parameter = parameter
        self.value = value
        self.expected = expected
        super().__init__(f"{parameter} is {value!r}; expected {expected}")


class PublishError(SimulatorError):
    """The broker could not be reached, refused the connection, or stopped acknowledging; or
    a topic to publish on breaks the contract (an invalid root or vehicle id)."""
