"""The store and fleet analytics: schema and migrations, trips, distance, geofences, state.

Trips from fixes, in steps: a :class:`Track` of many vehicles' fixes; ride intervals from ride
events (:func:`pair_ride_events`); :func:`segment` (the fix filter, then motion or ride trips);
:func:`trip_frame` (energy, odometer check, zones, CO2: every ``trips`` column);
:func:`build_trips` does all of it incrementally against the store.
"""

from fleet.errors import (
    FleetError,
    MigrationError,
    RulesError,
    StoreError,
    TrackError,
    TripBuildError,
)
from fleet.fixes import DROP_REASONS
from fleet.geofence import Zone, Zones, load_geojson
from fleet.rides import Rides, pair_ride_events
from fleet.rules import TripRules
from fleet.segmentation import Segmentation, TripArrays, segment
from fleet.store import (
    StoreOptions,
    UpgradeReport,
    latest_version,
    open_pool,
    refresh_daily,
    upgrade,
)
from fleet.track import Track
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
    "StoreError",
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
    "latest_version",
    "load_geojson",
    "open_pool",
    "pair_ride_events",
    "refresh_daily",
    "segment",
    "trip_frame",
    "upgrade",
]
