"""``/mds/``: the MDS 2.0 Provider API for the city (a bearer token, as for trip-level data).

Every JSON answer is ``application/vnd.mds+json;version=2.0`` with ``version`` "2.0.2"; an
``Accept`` header asking for another version gets 406; a missing or malformed hour gets 400 in
MDS's error shape. The objects are :mod:`interop`'s; this module reads their rows and answers.

Hour endpoints (``/trips``, ``/events/historical``), as MDS 2.0.2 says (``provider/README.md``):
404 for an hour not yet in the past or before the provider operated (its first stored fix),
202 for a past hour the trip builder has not finished (:func:`interop.queries.processed_until`),
200 otherwise, empty arrays included, never paginated. ``/telemetry`` has neither 404 nor 202 in
the text: every hour answers 200 with the fixes stored.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request, Response

from city.auth import TokenAccess
from city.config import ServiceConfig
from city.deps import Config, Connection
from city.errors import NotFoundError
from interop import BadPeriodError, events, mds, reports
from interop import queries as q
from interop.ids import device_id, event_id, provider_id
from interop.periods import Period, accepted_version, parse_hour, parse_month

__all__ = ["router"]

#: Events are derived with this much history before the asked window (each vehicle's state at
#: its start).
LOOKBACK = timedelta(hours=24)
#: ``/events/recent`` reaches back at most this far (MDS: two weeks).
RECENT = timedelta(days=14)
#: ``/vehicles/status`` looks for each vehicle's last event this far back.
STATUS_LOOKBACK = timedelta(days=7)
#: Milliseconds before the near-real-time answers change (MDS: at most 5 minutes stale).
TTL_MS = 60_000
_JSON_MEDIA = "application/vnd.mds+json"
_CSV_MEDIA = "text/vnd.mds+csv"
_API_VERSION = "2.0"
_REPORT = re.compile(r"^(\d{4}-\d{2})(-energy)?\.csv$")


async def _mds_json(request: Request) -> None:
    accepted_version(request.headers.get("accept"), _JSON_MEDIA, _API_VERSION)


router = APIRouter(prefix="/mds", tags=["mds"])
_json_router = [Depends(_mds_json)]


def _answer(body: dict[str, Any], status: int = 200) -> Response:
    return Response(
        orjson.dumps({"version": mds.VERSION, **body}),
        status_code=status,
        media_type=mds.MEDIA_TYPE,
    )


def _provider(config: ServiceConfig) -> str:
    return config.mds_provider_id or provider_id()


def _now() -> datetime:
    return datetime.now(UTC)


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


async def _hour_ready(conn: q.Conn, hour: Period) -> Response | None:
    """The 404 or 202 answer an hour gets, or None when it is ready."""
    if hour.end > _now():
        return _answer({"detail": "the hour is not over yet"}, 404)
    since = await q.operating_since(conn)
    if since is None or hour.end <= since:
        return _answer({"detail": "the provider was not operating in that hour"}, 404)
    done = await q.processed_until(conn)
    if done is None or done < hour.end:
        return _answer({"detail": "the trip builder has not finished that hour yet"}, 202)
    return None


async def _events(
    conn: q.Conn,
    config: ServiceConfig,
    start: datetime,
    end: datetime,
    fleet_vehicle: tuple[str, str] | None = None,
) -> list[dict[str, Any]]:
    rows = await q.event_happenings(conn, start - LOOKBACK, end, fleet_vehicle)
    return events.derive(
        events.happenings(rows), _ms(start), _ms(end), _provider(config), config.low_battery_pct
    )


HourParam = Annotated[str | None, Query(description="A UTC hour, YYYY-MM-DDTHH.")]


@router.get("/trips", dependencies=_json_router)
async def trips(
    conn: Connection, config: Config, access: TokenAccess, end_time: HourParam = None
) -> Response:
    """Trips that ended in the UTC hour ``end_time``, with energy and CO2 (extension fields)."""
    hour = parse_hour("end_time", end_time)
    refusal = await _hour_ready(conn, hour)
    if refusal is not None:
        return refusal
    rows = await q.hour_trips(conn, hour.start, hour.end)
    return _answer({"trips": mds.trips(rows, _provider(config))})


@router.get("/telemetry", dependencies=_json_router)
async def telemetry(
    conn: Connection, config: Config, access: TokenAccess, telemetry_time: HourParam = None
) -> Response:
    """Every stored fix of the UTC hour ``telemetry_time``, with the trip it belongs to."""
    hour = parse_hour("telemetry_time", telemetry_time)
    rows = await q.hour_telemetry(conn, hour.start, hour.end)
    return _answer({"telemetry": mds.telemetry(rows, _provider(config))})


@router.get("/events/historical", dependencies=_json_router)
async def events_historical(
    conn: Connection, config: Config, access: TokenAccess, event_time: HourParam = None
) -> Response:
    """The events of the UTC hour ``event_time``."""
    hour = parse_hour("event_time", event_time)
    refusal = await _hour_ready(conn, hour)
    if refusal is not None:
        return refusal
    return _answer({"events": await _events(conn, config, hour.start, hour.end)})


_MS = re.compile(r"^[0-9]{1,15}$")


def _timestamp(name: str, raw: str | None, now: datetime) -> datetime:
    expected = "a timestamp in milliseconds since the epoch"
    if raw is None or not _MS.match(raw):
        raise BadPeriodError(name, raw, expected)
    try:
        when = datetime.fromtimestamp(int(raw) / 1000, UTC)
    except (ValueError, OverflowError, OSError):
        raise BadPeriodError(name, raw, expected) from None
    if when < now - RECENT:
        raise BadPeriodError(name, raw, "a time at most two weeks before now")
    return when


@router.get("/events/recent", dependencies=_json_router)
async def events_recent(
    conn: Connection,
    config: Config,
    access: TokenAccess,
    start_time: Annotated[str | None, Query(description="ms since the epoch")] = None,
    end_time: Annotated[str | None, Query(description="ms since the epoch")] = None,
) -> Response:
    """The events of ``[start_time, end_time)``, at most two weeks old."""
    now = _now()
    start = _timestamp("start_time", start_time, now)
    end = _timestamp("end_time", end_time, now)
    if end <= start:
        raise BadPeriodError("end_time", end_time, f"a time after start_time ({start_time})")
    return _answer({"events": await _events(conn, config, start, end)})


async def _vehicle_rows(conn: q.Conn, device: str | None) -> list[dict[str, Any]]:
    rows = await q.mds_vehicles(conn)
    if device is None:
        return rows
    try:
        wanted = str(uuid.UUID(device))
    except ValueError:
        raise BadPeriodError("device_id", device, "a UUID") from None
    found = [r for r in rows if device_id(r["fleet"], r["vehicle"]) == wanted]
    if not found:
        raise NotFoundError("device", device)
    return found


def _vehicles(config: ServiceConfig, rows: list[dict[str, Any]]) -> Response:
    last = max((r["updated_at"] for r in rows if r["updated_at"] is not None), default=_now())
    return _answer(
        {
            "last_updated": _ms(last),
            "ttl": TTL_MS,
            "vehicles": mds.vehicles(rows, _provider(config)),
        }
    )


@router.get("/vehicles", dependencies=_json_router)
async def vehicles(conn: Connection, config: Config, access: TokenAccess) -> Response:
    """Every vehicle: type, propulsion, the id painted on it."""
    return _vehicles(config, await _vehicle_rows(conn, None))


@router.get("/vehicles/status", dependencies=_json_router)
async def vehicles_status(conn: Connection, config: Config, access: TokenAccess) -> Response:
    """Each vehicle's last event and last telemetry."""
    return await _status(conn, config, await _vehicle_rows(conn, None))


@router.get("/vehicles/status/{device_id}", dependencies=_json_router)
async def vehicle_status(
    device: Annotated[str, Path(alias="device_id", max_length=64)],
    conn: Connection,
    config: Config,
    access: TokenAccess,
) -> Response:
    """One vehicle's last event and last telemetry."""
    return await _status(conn, config, await _vehicle_rows(conn, device))


@router.get("/vehicles/{device_id}", dependencies=_json_router)
async def vehicle(
    device: Annotated[str, Path(alias="device_id", max_length=64)],
    conn: Connection,
    config: Config,
    access: TokenAccess,
) -> Response:
    """One vehicle."""
    return _vehicles(config, await _vehicle_rows(conn, device))


_STATE_EVENT = {
    "parked": ("available", "unspecified"),
    "charging": ("non_operational", "unspecified"),
    "riding": ("on_trip", "unspecified"),
    "offline": ("non_contactable", "comms_lost"),
}


async def _status(conn: q.Conn, config: ServiceConfig, rows: list[dict[str, Any]]) -> Response:
    now = _now()
    provider = _provider(config)
    one = (rows[0]["fleet"], rows[0]["vehicle"]) if len(rows) == 1 else None
    recent = await _events(conn, config, now - STATUS_LOOKBACK, now + timedelta(seconds=1), one)
    last_event = {e["device_id"]: e for e in recent}  # in time order: the last one stays
    placed = [r for r in rows if r["t_ms"] is not None]
    statuses = []
    for row, point in zip(placed, mds.telemetry(placed, provider), strict=True):
        device = point["device_id"]
        event = last_event.get(device)
        if event is None:  # nothing happened lately: the vehicle's current state
            state, kind = _STATE_EVENT.get(row["state"] or "parked", _STATE_EVENT["parked"])
            event = {
                "device_id": device,
                "provider_id": provider,
                "event_id": event_id(row["fleet"], row["vehicle"], int(row["t_ms"]), "status"),
                "vehicle_state": state,
                "event_types": [kind],
                "timestamp": int(row["t_ms"]),
                "location": point["location"],
            }
            if "battery_percent" in point:
                event["battery_percent"] = point["battery_percent"]
        statuses.append(
            {
                "device_id": device,
                "provider_id": provider,
                "last_event": event,
                "last_telemetry": point,
            }
        )
    last = max((r["updated_at"] for r in rows if r["updated_at"] is not None), default=now)
    return _answer({"last_updated": _ms(last), "ttl": TTL_MS, "vehicles_status": statuses})


@router.get("/reports/{filename}")
async def report(
    request: Request,
    filename: Annotated[str, Path(max_length=32, description="YYYY-MM.csv or YYYY-MM-energy.csv")],
    conn: Connection,
    config: Config,
    access: TokenAccess,
) -> Response:
    """The month's MDS report (trips and riders, counts below 10 as -1), or with
    ``-energy.csv`` its energy and CO2 companion; months of the city's time zone."""
    accepted_version(request.headers.get("accept"), _CSV_MEDIA, _API_VERSION)
    match = _REPORT.match(filename)
    if not match:
        raise NotFoundError("report", filename)
    try:  # the reports endpoint answers 404 for any name that is not a report (no 400)
        month = parse_month("filename", match.group(1), ZoneInfo(config.city_timezone))
    except BadPeriodError:
        raise NotFoundError("report", filename) from None
    since = await q.operating_since(conn)
    if month.end > _now() or since is None or month.end <= since:
        raise NotFoundError("report", filename)
    provider = _provider(config)
    if match.group(2):
        body = reports.energy_csv(
            provider, month, await q.month_energy(conn, month.start, month.end)
        )
    else:
        counts = await q.month_counts(conn, month.start, month.end)
        body = reports.report_csv(provider, month, int(counts["trips"]), int(counts["riders"]))
    return Response(body, media_type=mds.REPORT_MEDIA_TYPE)
