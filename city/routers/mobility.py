"""``/api/v1/mobility``: summary and time series of the trips the trip builder stored."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from city.auth import ReadAccess
from city.buckets import Unit
from city.cache import CachedFigures
from city.deps import Figures
from city.params import Bucket, Window, check_buckets, window
from city.privacy import sees_riders
from city.routers._shared import figures, json_response, window_dict
from city.schemas import Summary, Timeseries

__all__ = ["router", "summary_json", "timeseries_json"]

router = APIRouter(prefix="/api/v1/mobility", tags=["mobility"])

WindowDep = Annotated[Window, Depends(window)]


async def summary_json(figs: CachedFigures, win: Window) -> bytes:
    """The summary's answer for a checked window (the endpoint's, and the one
    :mod:`city.http_cache` gives before routing)."""
    exact = sees_riders(figs.access)

    async def build() -> bytes:
        row = await figs.summary(win.start, win.end)
        body = {"window": window_dict(win), "figures": figures(row, exact)}
        return Summary.model_validate(body).model_dump_json().encode()

    result: bytes = await figs.cached(("summary.json", win.start, win.end), build)
    return result


async def timeseries_json(figs: CachedFigures, win: Window, bucket: Unit) -> bytes:
    """The time series' answer for a checked window and bucket count."""
    exact = sees_riders(figs.access)

    async def build() -> bytes:
        rows = await figs.period_series(win.start, win.end, bucket)
        points = [
            {"bucket_start": r["bucket_start"], "bucket_end": r["bucket_end"], **figures(r, exact)}
            for r in rows
        ]
        body = {"window": window_dict(win), "bucket": bucket, "points": points}
        return Timeseries.model_validate(body).model_dump_json().encode()

    key = ("timeseries.json", win.start, win.end, bucket)
    result: bytes = await figs.cached(key, build)
    return result


@router.get("/summary", response_model=Summary)
async def summary(win: WindowDep, figs: Figures, access: ReadAccess) -> Response:
    """Trips, kilometres, distinct riders, vehicles active, energy and CO2 avoided of the trips
    that started in ``[from, to)``. Distinct rider counts below 10 are published as null
    (k-anonymity, k = 10, as MDS does for cities); only the operator token sees them."""
    return json_response(await summary_json(figs, win))


@router.get("/timeseries", response_model=Timeseries)
async def timeseries(
    request: Request,
    win: WindowDep,
    figs: Figures,
    access: ReadAccess,
    bucket: Annotated[Bucket, Query(description="Bucket width, in UTC.")] = "day",
) -> Response:
    """The same figures per day, week (from Monday) or month, empty buckets included."""
    check_buckets(request.app.state.config, win, "bucket", bucket)
    return json_response(await timeseries_json(figs, win, bucket))
