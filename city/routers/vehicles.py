"""``/api/v1/vehicles``: last position, state, SoC and last-seen time of each vehicle."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from city import queries
from city.auth import TokenAccess
from city.deps import Connection
from city.errors import BadParameterError, NotFoundError
from city.schemas import VehicleDetail, VehicleList

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/vehicles", tags=["vehicles"])

_WIRE_ID = r"^[A-Za-z0-9_-]{1,64}$"
FleetParam = Annotated[str | None, Query(pattern=_WIRE_ID, description="Fleet id on the wire.")]


@router.get("", response_model=VehicleList)
async def vehicles(
    conn: Connection,
    access: TokenAccess,
    fleet: FleetParam = None,
    state: Annotated[Literal["riding", "parked", "charging", "offline"] | None, Query()] = None,
) -> VehicleList:
    """Every vehicle: last position, state, state of charge, last seen (positions are
    trip-level data: a bearer token is needed even when reading is open). Vehicles the trip
    builder has not placed yet show their last telemetry point and no state."""
    rows = await queries.list_vehicles(conn, fleet=fleet, state=state)
    return VehicleList.model_validate({"vehicles": rows})


@router.get("/{vehicle_id}", response_model=VehicleDetail)
async def vehicle(
    vehicle_id: Annotated[str, Path(pattern=_WIRE_ID, description="Vehicle id on the wire.")],
    conn: Connection,
    access: TokenAccess,
    fleet: FleetParam = None,
) -> VehicleDetail:
    """One vehicle, with its riding behaviour (harsh braking and acceleration over its
    trips) and its battery state of health; give ``fleet`` when two fleets use the same
    vehicle id."""
    rows = await queries.list_vehicles(conn, fleet=fleet, vehicle=vehicle_id)
    if not rows:
        raise NotFoundError("vehicle", vehicle_id if fleet is None else f"{fleet}/{vehicle_id}")
    if len(rows) > 1:
        fleets = ", ".join(r["fleet"] for r in rows)
        raise BadParameterError("fleet", None, f"one of {fleets} (the id is in several fleets)")
    row = rows[0]
    riding = await queries.vehicle_riding(conn, row["fleet"], row["vehicle"])
    health = await queries.vehicle_battery_health(conn, row["fleet"], row["vehicle"])
    if health is not None:
        low, high = health.pop("soh_low_pct"), health.pop("soh_high_pct")
        health["soh_ci95_pct"] = None if low is None or high is None else (low, high)
    return VehicleDetail.model_validate({**row, "riding": riding, "battery_health": health})
