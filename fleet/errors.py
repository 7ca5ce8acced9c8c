"""Errors of the store and the fleet analytics."""

from __future__ import annotations

__all__ = ["FleetError", "MigrationError"]


class FleetError(Exception):
    """Root of the ``fleet`` package's errors."""


class MigrationError(FleetError):
    """The schema cannot be upgraded: an applied migration file changed, or files are misnamed."""
