"""The store and fleet analytics: schema and migrations, trips, distance, geofences, state."""

from fleet.errors import (
    FleetError,
    MigrationError,
    RulesError,
    TrackError,
    TripBuildError,
)
from fleet.geofence import Zone, Zones, load_geojson
from fleet.rules import TripRules
from fleet.segmentation import (
    DROP_REASONS,
    Rides,
    Segmentation,
    Track,
    TripArrays,
    pair_ride_events,
    segment,
)
from fleet.store import StoreOptions, UpgradeReport, open_pool, upgrade
from fleet.trips import BuildReport, Co2Method, TripFrame, build_trips, trip_frame

__all__ = [
    "DROP_REASONS",
    "BuildReport",
    "Co2Method",
    "FleetError",
    "MigrationError",
    "Rides",
    "RulesError",
    "Segmentation",
    "StoreOptions",
    "Track",
    "TrackError",
    "TripArrays",
    "TripBuildError",
    "TripFrame",
    "TripRules",
    "UpgradeReport",
    "Zone",
    "Zones",
    "build_trips",
    "load_geojson",
    "open_pool",
    "pair_ride_events",
    "segment",
    "trip_frame",
    "upgrade",
]
