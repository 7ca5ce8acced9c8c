"""Helpers the routers share: row-to-shape conversions and the default window."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import Response

from city.buckets import bucket_start, next_bucket
from city.cache import CachedFigures
from city.errors import BadParameterError
from city.params import Window, parse_rfc3339
from city.privacy import published_riders

__all__ = ["figures", "json_response", "optional_window", "window_dict"]

_FIGURE_KEYS = (
    "trips",
    "distance_km",
    "riders",
    "vehicles_active",
    "energy_kwh",
    "trips_without_energy",
    "duration_s",
    "co2_avoided_kg",
)
_INTEGERS = {"trips", "riders", "vehicles_active", "trips_without_energy"}


def figures(row: dict[str, Any], exact_riders: bool) -> dict[str, Any]:
    """The :class:`~city.schemas.Figures` of a query row; the distinct-rider count as
    :func:`city.privacy.published_riders` publishes it."""
    out: dict[str, Any] = {
        k: int(row[k]) if k in _INTEGERS else float(row[k]) for k in _FIGURE_KEYS
    }
    out["riders"] = published_riders(int(row["riders"]), exact_riders)
    return out


def json_response(body: bytes) -> Response:
    """A JSON answer from bytes already serialised through the endpoint's response model."""
    return Response(body, media_type="application/json")


def window_dict(win: Window) -> dict[str, datetime]:
    return {"start": win.start, "end": win.end}


async def optional_window(
    figs: CachedFigures, from_: str | None, to: str | None, max_days: int
) -> Window | None:
    """The asked window, or the whole days of the stored trips when none is asked.

    None when no window is asked and no trip is stored.
    """
    if from_ is not None and to is not None:
        start, end = parse_rfc3339("from", from_), parse_rfc3339("to", to)
        if start >= end:
            raise BadParameterError("from", from_, f"a time before to ({to})")
        if end - start > timedelta(days=max_days):
            raise BadParameterError("to", to, f"a window of at most {max_days} days")
        return Window(start, end)
    if from_ is not None or to is not None:
        missing = "to" if to is None else "from"
        raise BadParameterError(missing, None, "both from and to, or neither (all trips)")
    span = await figs.trip_span()
    if span["first"] is None:
        return None
    start = bucket_start(span["first"], "day")
    return Window(start, next_bucket(bucket_start(span["last"], "day"), "day"))
