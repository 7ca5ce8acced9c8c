"""``/api/v1/mobility``: summary and time series of the trips the trip builder stored."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from city.auth import ReadAccess
from city.deps import Figures
from city.params import Bucket, Window, check_buckets, window
from city.privacy import sees_riders
from city.routers._shared import figures, json_response, window_dict
from city.schemas import Summary, Timeseries

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/mobility", tags=["mobility"])

WindowDep = Annotated[Window, Depends(window)]


@router.get("/summary", response_model=Summary)
async def summary(win: WindowDep, figs: Figures, access: ReadAccess) -> Response:
    """Trips, kilometres, distinct riders, vehicles active, energy and CO2 avoided of the trips
    that started in ``[from, to)``. Distinct rider counts below 10 are published as null
    (k-anonymity, k = 10, as MDS does for cities); only the operator token sees them."""

    async def build() -> bytes:
        row = await figs.summary(win.start, win.end)
        body = {"window": window_dict(win), "figures": figures(row, exact)}
        return Summary.model_validate(body).model_dump_json().encode()

    exact = sees_riders(access)
    return json_response(await figs.cached(("summary.json", win.start, win.end), build))


@router.get("/timeseries", response_model=Timeseries)
async def timeseries(
    request: Request,
    win: WindowDep,
    figs: Figures,
    access: ReadAccess,
    bucket: Annotated[Bucket, Query(description="Bucket width, in UTC.")] = "day",
) -> Response:
    """The same figures per day, week (from Monday) or month, empty buckets included."""
    check_buckets(request, win, "bucket", bucket)

    async def build() -> bytes:
        rows = await figs.period_series(win.start, win.end, bucket)
        points = [
            {"bucket_start": r["bucket_start"], "bucket_end": r["bucket_end"], **figures(r, exact)}
            for r in rows
        ]
        body = {"window": window_dict(win), "bucket": bucket, "points": points}
        return Timeseries.model_validate(body).model_dump_json().encode()

    exact = sees_riders(access)
    key = ("timeseries.json", win.start, win.end, bucket)
    return json_response(await figs.cached(key, build))
