"""Errors of the store and the fleet analytics."""

from __future__ import annotations

__all__ = [
    "DeviceError",
    "FleetError",
    "MigrationError",
    "RulesError",
    "StoreError",
    "TelemetryWriteError",
    "TrackError",
    "TripBuildError",
]


class FleetError(Exception):
    """Root of the ``fleet`` package's errors."""


class MigrationError(FleetError):
    """The schema cannot be upgraded: an applied migration file changed, or files are misnamed."""


class StoreError(FleetError):
    """The store cannot be used as configured: TimescaleDB is required but unusable, is a
    version with a known silent-loss bug, or is in the database while the setting says off."""


class RulesError(FleetError):
    """A trip rule (``TripRules``) or an emissions setting is outside its documented bounds."""


class TelemetryWriteError(FleetError):
    """A history write found points the database neither stored nor holds (rows silently
    dropped, as TimescaleDB before 2.18.1 does): the chunk is rolled back."""


class TrackError(FleetError):
    """Arrays handed to the segmentation have mismatched shapes or are not in
    (vehicle, time) order."""


class TripBuildError(FleetError):
    """The trip builder cannot run: the schema is missing or older than the builder needs."""


class DeviceError(FleetError):
    """A device registry operation names a device that is not there (or not active), one
    already registered, or an id that breaks ``[A-Za-z0-9_-]{1,64}``."""
