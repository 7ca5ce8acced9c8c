"""MDS 2.0 Provider objects from our rows: pure functions, no HTTP.

Units as MDS 2.0.2 wants them (``data-types.md``): timestamps in integer milliseconds since the
epoch, distances in whole metres, durations in whole seconds, speeds in metres per second,
battery as an integer percent; ids are lower-case UUIDs (:mod:`interop.ids`).

Every vehicle is a ``moped`` (a seated, fully motorised vehicle for urban traffic: what our
electric motorcycles are) with ``propulsion_types`` ``["electric"]``, in the ``micromobility``
mode.

Extension fields (documented in ``docs/interop.md``; MDS has no energy or CO2): each trip
carries ``energy_kwh`` (the battery energy the trip used, measured from its state of charge,
null where it could not be), ``energy_measured``, ``co2_baseline_kg``, ``co2_electricity_kg``,
``co2_avoided_kg`` and ``co2_methodology`` (the version of the methodology profile that computed
them).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from interop.ids import device_id, telemetry_id, trip_id

__all__ = [
    "MEDIA_TYPE",
    "PROPULSION",
    "REPORT_MEDIA_TYPE",
    "VEHICLE_TYPE",
    "VERSION",
    "gps",
    "telemetry",
    "trips",
    "vehicles",
]

VERSION = "2.0.2"
#: The media type of every JSON answer, with the major.minor version (``general-information``).
MEDIA_TYPE = "application/vnd.mds+json;version=2.0"
REPORT_MEDIA_TYPE = "text/vnd.mds+csv;version=2.0"
VEHICLE_TYPE = "moped"
PROPULSION = ("electric",)


def _number(value: Any) -> float | None:
    if value is None:
        return None
    out = float(value)
    return out if math.isfinite(out) else None


def _percent(soc_pct: Any) -> int | None:
    """An integer percent 0-100, or None when unknown."""
    soc = _number(soc_pct)
    return None if soc is None else min(100, max(0, round(soc)))


def gps(
    lat: float, lon: float, speed_kmh: float | None = None, heading_deg: float | None = None
) -> dict[str, Any]:
    """An MDS GPS object; speed in m/s, heading in degrees, each only when reported."""
    out: dict[str, Any] = {"lat": round(float(lat), 7), "lng": round(float(lon), 7)}
    speed = _number(speed_kmh)
    if speed is not None:
        out["speed"] = round(speed / 3.6, 2)
    heading = _number(heading_deg)
    if heading is not None:
        out["heading"] = round(heading % 360.0, 1)
    return out


def trip_uuid(row: dict[str, Any], start_key: str = "start_ms") -> str:
    """The ``trip_id`` of a row holding ``fleet``, ``vehicle`` and the trip's start (ms)."""
    return trip_id(row["fleet"], row["vehicle"], int(row[start_key]))


def trips(rows: Sequence[dict[str, Any]], provider: str) -> list[dict[str, Any]]:
    """MDS trips (with the energy and CO2 extension fields) from :func:`hour_trips` rows."""
    out = []
    for row in rows:
        energy = _number(row["energy_kwh"])
        out.append(
            {
                "provider_id": provider,
                "device_id": device_id(row["fleet"], row["vehicle"]),
                "trip_id": trip_uuid(row),
                # trip_type is left out: the MDS 2.0.2 text makes it one enumerated string
                # (modes/micromobility.md), the pinned schema an array of at most one; a
                # value that satisfies one breaks the other, and the field is optional.
                "start_time": int(row["start_ms"]),
                "end_time": int(row["end_ms"]),
                "start_location": gps(row["start_lat"], row["start_lon"]),
                "end_location": gps(row["end_lat"], row["end_lon"]),
                "duration": round(float(row["duration_s"])),
                "distance": round(float(row["distance_km"]) * 1000.0),
                "energy_kwh": None if energy is None else round(energy, 4),
                "energy_measured": bool(row["energy_measured"]),
                "co2_baseline_kg": _kg(row["co2_baseline_kg"]),
                "co2_electricity_kg": _kg(row["co2_electricity_kg"]),
                "co2_avoided_kg": _kg(row["co2_avoided_kg"]),
                "co2_methodology": row["methodology"],
            }
        )
    return out


def _kg(value: Any) -> float | None:
    kg = _number(value)
    return None if kg is None else round(kg, 5)


def vehicles(rows: Sequence[dict[str, Any]], provider: str) -> list[dict[str, Any]]:
    """MDS vehicles from :func:`mds_vehicles` rows. ``battery_capacity`` is in mAh in MDS and
    we know only kWh (not the pack's voltage), so it is left out ("required if available")."""
    return [
        {
            "device_id": device_id(row["fleet"], row["vehicle"]),
            "provider_id": provider,
            # The id painted on the vehicle: the one it has on the wire.
            "vehicle_id": row["vehicle"],
            "vehicle_type": VEHICLE_TYPE,
            "propulsion_types": list(PROPULSION),
        }
        for row in rows
    ]


def telemetry(rows: Sequence[dict[str, Any]], provider: str) -> list[dict[str, Any]]:
    """MDS telemetry from fix rows (``fleet``, ``vehicle``, ``t_ms``, ``lat``, ``lon``,
    ``speed_kmh``, ``heading_deg``, ``soc_pct``, ``trip_start_ms`` None outside a trip)."""
    out = []
    for row in rows:
        point: dict[str, Any] = {
            "device_id": device_id(row["fleet"], row["vehicle"]),
            "provider_id": provider,
            "telemetry_id": telemetry_id(row["fleet"], row["vehicle"], int(row["t_ms"])),
            "timestamp": int(row["t_ms"]),
            "trip_ids": None if row["trip_start_ms"] is None else [trip_uuid(row, "trip_start_ms")],
            "journey_id": None,  # micromobility trips are point to point: no journeys
            "location": gps(row["lat"], row["lon"], row["speed_kmh"], row["heading_deg"]),
        }
        battery = _percent(row["soc_pct"])
        if battery is not None:
            point["battery_percent"] = battery
        out.append(point)
    return out
