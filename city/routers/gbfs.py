"""``/gbfs/``: the public GBFS 3.0 feed (no token: trip planners and maps read it).

The documents are :mod:`interop.gbfs`'s; this module reads their rows and answers them.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response

import emissions
from city.deps import Config, Connection
from fleet.rules import TripRules
from interop import gbfs
from interop import queries as q
from interop.ids import provider_id

__all__ = ["router"]

router = APIRouter(prefix="/gbfs", tags=["gbfs"])

#: The fleet's consumption is measured over the trips of this period.
CONSUMPTION_PERIOD = timedelta(days=30)
_DEFAULTS = TripRules()


def _json(document: dict[str, Any]) -> Response:
    return Response(orjson.dumps(document), media_type="application/json")


def _key(request: Request) -> bytes:
    """The configured key of the rotating ids, or one made at the first request and kept for
    the life of the process."""
    configured: bytes | None = request.app.state.config.gbfs_vehicle_key
    if configured is not None:
        return configured
    state = request.app.state
    if getattr(state, "gbfs_vehicle_key", None) is None:
        state.gbfs_vehicle_key = secrets.token_bytes(32)
    key: bytes = state.gbfs_vehicle_key
    return key


async def _kwh_per_km(conn: q.Conn, now: datetime) -> float:
    measured = await q.consumption(conn, now - CONSUMPTION_PERIOD)
    if measured is not None:
        return measured
    return float(emissions.get_profile(emissions.DEFAULT_PROFILE).assumed_energy.value)


@router.get("/gbfs.json", summary="GBFS 3.0 discovery")
async def discovery(request: Request) -> Response:
    """The feed's files and their URLs."""
    base = str(request.url_for("discovery")).removesuffix("gbfs.json")
    return _json(gbfs.discovery(base, datetime.now(UTC)))


@router.get("/system_information.json", summary="GBFS 3.0 system information")
async def system_information(config: Config) -> Response:
    """The system: its id, name, operator, time zone and the feed's contact."""
    system = gbfs.System(
        system_id=config.mds_provider_id or provider_id(),
        name="POGO electric motorcycles, Benguerir",
        operator="POGO",
        timezone=config.city_timezone,
        feed_contact_email=config.gbfs_contact_email,
    )
    return _json(gbfs.system_information(system, datetime.now(UTC)))


@router.get("/vehicle_types.json", summary="GBFS 3.0 vehicle types")
async def vehicle_types(conn: Connection) -> Response:
    """One electric moped type per battery capacity, with its range."""
    now = datetime.now(UTC)
    capacities = [c or _DEFAULTS.default_battery_kwh for c in await q.vehicle_capacities(conn)]
    kwh_per_km = await _kwh_per_km(conn, now)
    return _json(gbfs.vehicle_types(capacities, kwh_per_km, "en", now))


@router.get("/vehicle_status.json", summary="GBFS 3.0 vehicle status")
async def vehicle_status(request: Request, conn: Connection) -> Response:
    """The vehicles a rider could find: not on a rental, with rotating ids."""
    now = datetime.now(UTC)
    rows = await q.gbfs_vehicles(conn, _DEFAULTS.moving_speed_kmh)
    for row in rows:
        row["battery_kwh"] = row["battery_kwh"] or _DEFAULTS.default_battery_kwh
    kwh_per_km = await _kwh_per_km(conn, now)
    return _json(gbfs.vehicle_status(rows, _key(request), kwh_per_km, now))


@router.get("/geofencing_zones.json", summary="GBFS 3.0 geofencing zones")
async def geofencing_zones(conn: Connection) -> Response:
    """Our zones, with rules that allow riding everywhere."""
    return _json(gbfs.geofencing_zones(await q.zones(conn), "en", datetime.now(UTC)))
