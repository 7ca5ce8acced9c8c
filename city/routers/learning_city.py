"""``/api/v1/learning-city``: the programme tables, the live POGO table beside them, edits."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Response

from city import queries
from city.auth import ReadAccess, WriteAccess
from city.cache import CachedFigures
from city.deps import Config, Connection, Figures
from city.errors import BadParameterError, NotFoundError, PreconditionFailedError
from city.etags import check_preconditions, indicator_etag, none_match
from city.params import Window
from city.privacy import published_riders, sees_riders
from city.routers._shared import optional_window, window_dict
from city.schemas import ChangeList, Indicator, IndicatorPatch, IndicatorWrite, LearningCity

__all__ = ["LIVE_ID", "learning_city_tables", "live_programme", "router"]

router = APIRouter(prefix="/api/v1/learning-city", tags=["learning city"])

LIVE_ID = "pogo-live"
_ID = r"^[a-z0-9_-]{1,64}$"
ProgrammeId = Annotated[str, Path(pattern=_ID, description="e.g. youth-platform")]
IndicatorId = Annotated[str, Path(pattern=_ID, description="e.g. trainers")]
_NOT_NULL = ("label", "unit", "period", "source", "sort")
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="The indicator's ETag from a GET: the edit applies only to that version "
        "(required: 428 without it, 412 when the indicator changed since).",
    ),
]
IfNoneMatch = Annotated[
    str | None,
    Header(
        alias="If-None-Match",
        description="On GET, answer 304 while the ETag still matches; on PUT, '*' creates an "
        "indicator that must not exist yet (412 when it does).",
    ),
]
_EDIT_RESPONSES: dict[int | str, dict[str, Any]] = {
    412: {"description": "If-Match names an older version: GET the indicator again."},
    413: {"description": "The request body is over the service's limit."},
    428: {"description": "Neither If-Match nor (to create) If-None-Match: * was sent."},
}


def live_programme(
    win: Window | None, row: dict[str, Any] | None, exact_riders: bool
) -> dict[str, Any]:
    """The POGO table measured from telemetry, in the shape of the programme tables (people
    as :func:`city.privacy.published_riders` publishes them)."""
    period = (
        f"{win.start:%Y-%m-%d %H:%M} to {win.end:%Y-%m-%d %H:%M} UTC (measured; end excluded)"
        if win is not None
        else "no trips stored yet"
    )
    source = "POGO fleet telemetry: trips built by the trip builder, CO2 as stored per trip"
    values = row or {"riders": 0, "distance_km": 0.0, "trips": 0, "co2_avoided_kg": 0.0}
    people = published_riders(int(values["riders"]), exact_riders)
    rows = [
        (
            "people",
            "People who used the electric motorcycles (distinct riders)",
            None if people is None else float(people),
            "people",
        ),
        ("km", "Kilometres travelled", float(values["distance_km"]), "km"),
        ("trips", "Trips", float(values["trips"]), "trips"),
        ("co2-avoided", "CO2 emissions avoided", float(values["co2_avoided_kg"]) / 1000, "t CO2"),
    ]
    return {
        "programme_id": LIVE_ID,
        "name": "POGO electric-vehicle project (live, from the fleet's telemetry)",
        "description": "Measured from the motorcycles' telemetry; the city's reported figures "
        "are in the table beside it.",
        "live": True,
        "indicators": [
            {
                "indicator_id": key,
                "label": label,
                "value": value,
                "qualifier": None,
                "unit": unit,
                "period": period,
                "source": source,
                "sort": 10 * (i + 1),
            }
            for i, (key, label, value, unit) in enumerate(rows)
        ],
    }


async def learning_city_tables(
    figs: CachedFigures, win: Window | None, exact_riders: bool
) -> dict[str, Any]:
    """Every stored programme table with the live table placed right after POGO's."""
    conn = await figs.connection()
    programmes = await queries.list_programmes(conn)
    indicators = await queries.list_indicators(conn)
    row = await figs.summary(win.start, win.end) if win is not None else None
    by_programme: dict[str, list[dict[str, Any]]] = {}
    for ind in indicators:
        by_programme.setdefault(ind["programme_id"], []).append(ind)
    tables: list[dict[str, Any]] = []
    live = live_programme(win, row, exact_riders)
    for p in programmes:
        tables.append({**p, "live": False, "indicators": by_programme.get(p["programme_id"], [])})
        if p["programme_id"] == "pogo":
            tables.append(live)
    if not any(t["live"] for t in tables):
        tables.insert(0, live)
    return {"window": window_dict(win) if win else None, "programmes": tables}


@router.get("", response_model=LearningCity)
async def learning_city(
    figs: Figures,
    config: Config,
    access: ReadAccess,
    from_: Annotated[
        str | None, Query(alias="from", description="Live table window start (RFC 3339).")
    ] = None,
    to: Annotated[str | None, Query(description="Live table window end (RFC 3339).")] = None,
) -> LearningCity:
    """Every programme table of the learning city, each indicator with value, qualifier, unit,
    period and source, and the live POGO table (people, km, trips, CO2 avoided) beside the
    city's reported one. Without ``from`` and ``to`` the live table covers all stored trips."""
    win = await optional_window(figs, from_, to, config.max_window_days)
    return LearningCity.model_validate(await learning_city_tables(figs, win, sees_riders(access)))


@router.get("/changes", response_model=ChangeList)
async def changes(
    conn: Connection,
    access: ReadAccess,
    programme: Annotated[str | None, Query(pattern=_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ChangeList:
    """The change log of the programme tables, newest first: who, when, old and new value."""
    rows = await queries.list_changes(conn, programme, limit)
    return ChangeList.model_validate({"changes": rows})


def _with_etag(response: Response, row: dict[str, Any]) -> Indicator:
    response.headers["ETag"] = indicator_etag(row)
    return Indicator.model_validate(row)


def _values(
    programme_id: str, indicator_id: str, editor: str, values: dict[str, Any]
) -> dict[str, Any]:
    return {
        **values,
        "programme_id": programme_id,
        "indicator_id": indicator_id,
        "updated_by": editor,
    }


@router.get(
    "/{programme_id}/indicators/{indicator_id}",
    response_model=Indicator,
    responses={304: {"description": "Unchanged since the ETag in If-None-Match."}},
)
async def get_indicator(
    programme_id: ProgrammeId,
    indicator_id: IndicatorId,
    conn: Connection,
    access: ReadAccess,
    response: Response,
    if_none_match: IfNoneMatch = None,
) -> Any:
    """One stored indicator of a programme table, with its ``ETag``: send it back as
    ``If-Match`` with a PUT or PATCH (the live table is measured, not stored: 404)."""
    row = await queries.indicator(conn, programme_id, indicator_id)
    if row is None:
        raise NotFoundError("indicator", f"{programme_id}/{indicator_id}")
    tag = indicator_etag(row)
    if if_none_match is not None and none_match(if_none_match, tag):
        return Response(status_code=304, headers={"ETag": tag})
    return _with_etag(response, row)


@router.put(
    "/{programme_id}/indicators/{indicator_id}",
    response_model=Indicator,
    responses=_EDIT_RESPONSES,
)
async def put_indicator(
    programme_id: ProgrammeId,
    indicator_id: IndicatorId,
    body: IndicatorWrite,
    conn: Connection,
    access: WriteAccess,
    response: Response,
    if_match: IfMatch = None,
    if_none_match: IfNoneMatch = None,
) -> Indicator:
    """Create or replace an indicator of a programme table (needs the write token, and
    ``If-Match`` with the ETag of a GET, or ``If-None-Match: *`` to create). The old and new
    values are kept in the change log; the answer carries the new ETag."""
    async with conn.transaction():
        if not await queries.programme_exists(conn, programme_id):
            raise NotFoundError("programme", programme_id)
        old = await queries.indicator_for_update(conn, programme_id, indicator_id)
        current = None if old is None else indicator_etag(old)
        check_preconditions(if_match, if_none_match, current, may_create=True)
        values = _values(
            programme_id, indicator_id, body.editor, body.model_dump(exclude={"editor"})
        )
        if old is None:
            created = await queries.create_indicator(conn, values)
            if created is None:  # created by another editor since the lookup
                raise PreconditionFailedError("If-None-Match: the indicator exists", None)
            new = created
        else:
            new = await queries.upsert_indicator(conn, values)
        await queries.insert_change(conn, programme_id, indicator_id, body.editor, old, new)
    return _with_etag(response, new)


@router.patch(
    "/{programme_id}/indicators/{indicator_id}",
    response_model=Indicator,
    responses=_EDIT_RESPONSES,
)
async def patch_indicator(
    programme_id: ProgrammeId,
    indicator_id: IndicatorId,
    body: IndicatorPatch,
    conn: Connection,
    access: WriteAccess,
    response: Response,
    if_match: IfMatch = None,
) -> Indicator:
    """Change some fields of an existing indicator (needs the write token and ``If-Match``
    with the ETag of a GET). The old and new values are kept in the change log; the answer
    carries the new ETag."""
    changes = body.model_dump(exclude={"editor"}, exclude_unset=True)
    for name in _NOT_NULL:
        if name in changes and changes[name] is None:
            raise BadParameterError(name, None, "a value (it cannot be null)", where="body")
    async with conn.transaction():
        old = await queries.indicator_for_update(conn, programme_id, indicator_id)
        if old is None:
            raise NotFoundError("indicator", f"{programme_id}/{indicator_id}")
        check_preconditions(if_match, None, indicator_etag(old), may_create=False)
        keep = {k: old[k] for k in ("label", "value", "qualifier", "unit", "period", "source")}
        values = {**keep, "sort": old["sort"], **changes}
        new = await queries.upsert_indicator(
            conn, _values(programme_id, indicator_id, body.editor, values)
        )
        await queries.insert_change(conn, programme_id, indicator_id, body.editor, old, new)
    return _with_etag(response, new)
