"""``/api/v1/alerts``: the fleet alerts the trip builder opened and cleared, newest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from city import queries
from city.auth import TokenAccess
from city.deps import Config, Connection
from city.errors import BadParameterError
from city.params import decode_cursor, encode_cursor, parse_rfc3339
from city.routers._shared import json_response
from city.schemas import AlertPage
from fleet.alerts import UNITS

__all__ = ["RECENT", "router"]

router = APIRouter(prefix="/api/v1", tags=["alerts"])

#: Without a window: the open alerts and those cleared this recently.
RECENT = timedelta(hours=24)

_WIRE_ID = r"^[A-Za-z0-9_-]{1,64}$"
Kind = Literal["offline", "low_battery", "geofence", "overspeed"]


@router.get("/alerts", response_model=AlertPage)
async def alerts(
    conn: Connection,
    config: Config,
    access: TokenAccess,
    kind: Annotated[Kind | None, Query()] = None,
    state: Annotated[Literal["open", "cleared"] | None, Query()] = None,
    vehicle: Annotated[str | None, Query(pattern=_WIRE_ID)] = None,
    fleet: Annotated[str | None, Query(pattern=_WIRE_ID)] = None,
    zone: Annotated[str | None, Query(pattern=r"^[a-z0-9_-]{1,64}$")] = None,
    from_: Annotated[
        str | None,
        Query(
            alias="from",
            description="Alerts open at some time in [from, to) (RFC 3339 with offset).",
            json_schema_extra={"format": "date-time"},
        ),
    ] = None,
    to: Annotated[
        str | None,
        Query(description="Window end, exclusive.", json_schema_extra={"format": "date-time"}),
    ] = None,
    limit: Annotated[int, Query(ge=1, description="Page size (the service caps it).")] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Fleet alerts (offline, low battery, geofence enter and exit, over-speed), newest opened
    first, ``limit`` at a time (pass ``next_cursor`` back as ``cursor``). Without ``from`` and
    ``to``: the open alerts and those cleared in the last 24 hours. Vehicle-level data: a
    bearer token is needed even when reading is open."""
    if limit > config.max_page_size:
        raise BadParameterError("limit", limit, f"at most {config.max_page_size}")
    if (from_ is None) != (to is None):
        missing = "to" if to is None else "from"
        raise BadParameterError(missing, None, "both from and to, or neither (open and recent)")
    if from_ is not None and to is not None:
        start: datetime = parse_rfc3339("from", from_)
        end: datetime | None = parse_rfc3339("to", to)
        if end is not None and start >= end:
            raise BadParameterError("from", from_, f"a time before to ({to})")
    else:
        start, end = datetime.now(UTC) - RECENT, None
    before = decode_cursor(cursor) if cursor is not None else None
    rows = await queries.list_alerts(
        conn,
        start,
        end,
        limit + 1,
        kind=kind,
        state=state,
        fleet=fleet,
        vehicle=vehicle,
        zone=zone,
        before=(before.start_ts, before.trip_id) if before else None,
    )
    page, more = rows[:limit], len(rows) > limit
    for row in page:
        row["unit"] = UNITS[row["kind"]]
    next_cursor = encode_cursor(page[-1]["opened_at"], page[-1]["alert_id"]) if more else None
    body = AlertPage.model_validate({"alerts": page, "next_cursor": next_cursor})
    return json_response(body.model_dump_json().encode())
