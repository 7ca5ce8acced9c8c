"""The store and fleet analytics: schema and migrations, trips, distance, geofences, state."""

from fleet.errors import FleetError, MigrationError
from fleet.store import StoreOptions, UpgradeReport, open_pool, upgrade

__all__ = ["FleetError", "MigrationError", "StoreOptions", "UpgradeReport", "open_pool", "upgrade"]
