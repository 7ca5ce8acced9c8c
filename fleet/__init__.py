"""The store and fleet analytics: schema and migrations, the telemetry write path, trips,
distance, geofences, state.

Points and events enter the store through :mod:`fleet.telemetry` (:func:`stage_points`,
:func:`write_points`, :func:`write_events`, :func:`write_history`), for the ingester and the
backfill alike.

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
    TelemetryWriteError,
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
    refresh_daily,
    upgrade,
)
from fleet.telemetry import (
    AlreadyStored,
    Events,
    HistoryChunk,
    HistoryReport,
    PointsWritten,
    StagedPoints,
    Vehicles,
    create_staging,
    register_vehicles,
    stage_points,
    write_events,
    write_history,
    write_points,
)
from fleet.track import Track
from fleet.trips import BuildReport, Co2Method, TripFrame, build_trips, trip_frame

__all__ = [
    "DROP_REASONS",
    "AlreadyStored",
    "BuildReport",
    "Co2Method",
    "Events",
    "FleetError",
    "HistoryChunk",
    "HistoryReport",
    "MigrationError",
    "PointsWritten",
    "Rides",
    "RulesError",
    "Segmentation",
    "StagedPoints",
    "StoreError",
    "StoreOptions",
    "TelemetryWriteError",
    "Track",
    "TrackError",
    "TripArrays",
    "TripBuildError",
    "TripFrame",
    "TripRules",
    "UpgradeReport",
    "Vehicles",
    "Zone",
    "Zones",
    "build_trips",
    "create_staging",
    "latest_version",
    "load_geojson",
    "pair_ride_events",
    "refresh_daily",
    "register_vehicles",
    "segment",
    "stage_points",
    "trip_frame",
    "upgrade",
    "write_events",
    "write_history",
    "write_points",
]
