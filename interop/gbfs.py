"""GBFS 3.0 documents from our vehicles and zones: pure functions, no HTTP.

The feed is a free-floating system (no stations): ``gbfs.json`` (discovery),
``system_information.json``, ``vehicle_types.json``, ``vehicle_status.json`` and
``geofencing_zones.json``. Each document is the GBFS envelope (``last_updated`` RFC 3339,
``ttl`` seconds, ``version`` "3.0") around its ``data``.

Rules this module applies (GBFS 3.0, ``gbfs.md``):

- every vehicle is of ``form_factor`` ``moped`` and ``propulsion_type`` ``electric``; one
  vehicle type per battery capacity, whose ``max_range_meters`` is the capacity divided by the
  fleet's consumption per km (:func:`range_m`);
- ``current_fuel_percent`` is the state of charge as a fraction 0-1, ``current_range_meters``
  the same fraction of the type's range;
- a vehicle on a rental is not published (the caller leaves it out: see
  :func:`interop.queries.gbfs_vehicles`), and its ``vehicle_id`` is rotated after every trip
  (:func:`interop.ids.gbfs_vehicle_id`);
- zones are published as MultiPolygons wound by the right-hand rule (RFC 7946), with rules that
  allow riding everywhere: the operator restricts nothing, and the zones say where the service
  is and where its charging stations are.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from shapely.geometry.polygon import orient

from interop.ids import gbfs_vehicle_id

__all__ = [
    "FEEDS",
    "VERSION",
    "System",
    "discovery",
    "geofencing_zones",
    "range_m",
    "system_information",
    "vehicle_status",
    "vehicle_type_id",
    "vehicle_types",
]

VERSION = "3.0"
#: The files this feed publishes, in discovery order.
FEEDS = (
    "system_information",
    "vehicle_types",
    "vehicle_status",
    "geofencing_zones",
)
#: Seconds before each document changes: vehicles move, the rest hardly ever.
TTL_S = {"gbfs": 3600, "system_information": 3600, "vehicle_types": 3600, "geofencing_zones": 3600}
STATUS_TTL_S = 60

_RULES_ALLOW_ALL = {
    "ride_start_allowed": True,
    "ride_end_allowed": True,
    "ride_through_allowed": True,
}


@dataclass(frozen=True)
class System:
    """What ``system_information.json`` says of the system.

    Attributes
    ----------
    system_id : str
        Globally unique id of the system.
    name, operator : str
        What a rider sees.
    timezone : str
        The city's IANA time zone.
    feed_contact_email : str
        Where the feed's consumers report problems.
    language : str
        The language of the texts (BCP 47).
    """

    system_id: str
    name: str
    operator: str
    timezone: str
    feed_contact_email: str
    language: str = "en"


def _text(value: str, language: str) -> list[dict[str, str]]:
    return [{"text": value, "language": language}]


def _rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _envelope(data: dict[str, Any], last_updated: datetime, ttl: int) -> dict[str, Any]:
    return {
        "last_updated": _rfc3339(last_updated),
        "ttl": int(ttl),
        "version": VERSION,
        "data": data,
    }


def discovery(base_url: str, now: datetime) -> dict[str, Any]:
    """``gbfs.json``: the URL of every file of the feed under ``base_url`` (ending in ``/``)."""
    feeds = [{"name": "gbfs", "url": f"{base_url}gbfs.json"}]
    feeds += [{"name": name, "url": f"{base_url}{name}.json"} for name in FEEDS]
    return _envelope({"feeds": feeds}, now, TTL_S["gbfs"])


def system_information(system: System, now: datetime) -> dict[str, Any]:
    """``system_information.json``."""
    data = {
        "system_id": system.system_id,
        "languages": [system.language],
        "name": _text(system.name, system.language),
        "operator": _text(system.operator, system.language),
        # Riding is possible at any hour: the vehicles are not locked away at night.
        "opening_hours": "24/7",
        "feed_contact_email": system.feed_contact_email,
        "timezone": system.timezone,
    }
    return _envelope(data, now, TTL_S["system_information"])


def range_m(
    battery_kwh: ArrayLike, kwh_per_km: float, soc_pct: ArrayLike = 100.0
) -> NDArray[np.float64]:
    """How far a vehicle goes on its charge, in metres.

    Parameters
    ----------
    battery_kwh : array_like of float, shape (n,)
        Usable capacity, kWh.
    kwh_per_km : float
        The fleet's consumption, kWh per km (> 0).
    soc_pct : array_like of float, shape (n,) or scalar, default 100
        State of charge, %; NaN gives 0.

    Returns
    -------
    ndarray of float64, shape (n,)
        ``battery_kwh * soc_pct / 100 / kwh_per_km * 1000``, rounded down to whole metres.

    Examples
    --------
    >>> range_m([2.3], 0.0584).tolist()
    [39383.0]
    >>> range_m([2.3, 2.3], 0.0584, [50.0, float("nan")]).tolist()
    [19691.0, 0.0]
    """
    if not kwh_per_km > 0:
        raise ValueError(f"kwh_per_km is {kwh_per_km!r}; expected a consumption above 0")
    capacity = np.asarray(battery_kwh, dtype=np.float64)
    soc = np.clip(np.nan_to_num(np.asarray(soc_pct, dtype=np.float64), nan=0.0), 0.0, 100.0)
    # Floor to whole metres, not below a float's rounding of an exact figure (2.3 / 0.05).
    return np.floor(capacity * soc / 100.0 / kwh_per_km * 1000.0 + 1e-6)


def vehicle_type_id(battery_kwh: float) -> str:
    """One vehicle type per battery capacity, named by it in watt-hours: ``moped-2300wh``."""
    return f"moped-{round(battery_kwh * 1000)}wh"


def vehicle_types(
    capacities_kwh: Sequence[float], kwh_per_km: float, language: str, now: datetime
) -> dict[str, Any]:
    """``vehicle_types.json``: one electric moped type per distinct battery capacity."""
    distinct = sorted({round(float(c), 3) for c in capacities_kwh})
    ranges = range_m(distinct, kwh_per_km)
    types = [
        {
            "vehicle_type_id": vehicle_type_id(kwh),
            "form_factor": "moped",
            "propulsion_type": "electric",
            "rider_capacity": 1,
            "max_range_meters": float(r),
            "name": _text(f"Electric motorcycle ({kwh:g} kWh)", language),
        }
        for kwh, r in zip(distinct, ranges.tolist(), strict=True)
    ]
    return _envelope({"vehicle_types": types}, now, TTL_S["vehicle_types"])


def vehicle_status(
    rows: Sequence[dict[str, Any]], key: bytes, kwh_per_km: float, now: datetime
) -> dict[str, Any]:
    """``vehicle_status.json`` for the vehicles to publish.

    Parameters
    ----------
    rows : sequence of dict
        One per vehicle to publish (none on a rental): ``fleet``, ``vehicle``, ``trips`` (trips
        made so far), ``lat``, ``lon``, ``soc_pct`` (None when unknown), ``battery_kwh``,
        ``disabled`` (bool: charging, or a fault since its last trip), ``last_seen``.
    key : bytes
        The secret of the rotating ids.
    kwh_per_km : float
        The fleet's consumption.
    now : datetime
    """
    capacity = np.array([float(r["battery_kwh"]) for r in rows], dtype=np.float64)
    soc = np.array(
        [np.nan if r["soc_pct"] is None else float(r["soc_pct"]) for r in rows], dtype=np.float64
    )
    ranges = range_m(capacity, kwh_per_km, soc).tolist()
    fraction = (np.clip(soc, 0.0, 100.0) / 100.0).round(3).tolist()
    vehicles = []
    for row, metres, fuel in zip(rows, ranges, fraction, strict=True):
        vehicle: dict[str, Any] = {
            "vehicle_id": gbfs_vehicle_id(key, row["fleet"], row["vehicle"], int(row["trips"])),
            "lat": round(float(row["lat"]), 6),
            "lon": round(float(row["lon"]), 6),
            "is_reserved": False,
            "is_disabled": bool(row["disabled"]),
            "vehicle_type_id": vehicle_type_id(float(row["battery_kwh"])),
            "last_reported": _rfc3339(row["last_seen"]),
            "current_range_meters": metres,
        }
        if fuel == fuel:  # a known state of charge
            vehicle["current_fuel_percent"] = fuel
        vehicles.append(vehicle)
    # The order must not give away which vehicle is which: sort by the opaque id.
    vehicles.sort(key=lambda v: v["vehicle_id"])
    return _envelope({"vehicles": vehicles}, now, STATUS_TTL_S)


def geofencing_zones(
    zones: Sequence[dict[str, Any]], language: str, now: datetime
) -> dict[str, Any]:
    """``geofencing_zones.json`` from zone rows (``zone_id``, ``name``, ``polygon_wkt``)."""
    features = []
    for zone in zones:
        geom = shapely.from_wkt(zone["polygon_wkt"])
        polygons = list(geom.geoms) if isinstance(geom, shapely.MultiPolygon) else [geom]
        wound = shapely.MultiPolygon([orient(p, sign=1.0) for p in polygons])
        features.append(
            {
                "type": "Feature",
                "geometry": json.loads(shapely.to_geojson(wound)),
                "properties": {
                    "name": _text(str(zone["name"]), language),
                    "rules": [dict(_RULES_ALLOW_ALL)],
                },
            }
        )
    data = {
        "geofencing_zones": {"type": "FeatureCollection", "features": features},
        "global_rules": [dict(_RULES_ALLOW_ALL)],
    }
    return _envelope(data, now, TTL_S["geofencing_zones"])
