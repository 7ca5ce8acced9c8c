"""``/api/v1/trips``: trips filtered by time, vehicle and zone, in pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from city import queries
from city.auth import TokenAccess
from city.deps import Config, Connection
from city.errors import BadParameterError
from city.params import Window, decode_cursor, encode_cursor, window
from city.privacy import sees_riders
from city.routers._shared import json_response, window_dict
from city.schemas import TripPage

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["trips"])

_WIRE_ID = r"^[A-Za-z0-9_-]{1,64}$"


@router.get("/trips", response_model=TripPage)
async def trips(
    win: Annotated[Window, Depends(window)],
    conn: Connection,
    config: Config,
    access: TokenAccess,
    vehicle: Annotated[str | None, Query(pattern=_WIRE_ID)] = None,
    fleet: Annotated[str | None, Query(pattern=_WIRE_ID)] = None,
    zone: Annotated[
        str | None, Query(pattern=r"^[a-z0-9_-]{1,64}$", description="Start or end zone.")
    ] = None,
    limit: Annotated[int, Query(ge=1, description="Page size (the service caps it).")] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Trips that started in ``[from, to)``, oldest first, ``limit`` at a time; pass the
    page's ``next_cursor`` as ``cursor`` for the next. Trip-level data: a bearer token is
    needed even when reading is open, and only the operator token gets the rider field."""
    if limit > config.max_page_size:
        raise BadParameterError("limit", limit, f"at most {config.max_page_size}")
    after = decode_cursor(cursor) if cursor is not None else None
    rows = await queries.list_trips(
        conn,
        win.start,
        win.end,
        limit + 1,
        fleet=fleet,
        vehicle=vehicle,
        zone=zone,
        after=(after.start_ts, after.trip_id) if after else None,
    )
    page, more = rows[:limit], len(rows) > limit
    next_cursor = encode_cursor(page[-1]["start_ts"], page[-1]["trip_id"]) if more else None
    body = TripPage.model_validate(
        {"window": window_dict(win), "trips": page, "next_cursor": next_cursor}
    )
    hidden = None if sees_riders(access) else {"trips": {"__all__": {"rider"}}}
    return json_response(body.model_dump_json(exclude=hidden).encode())
