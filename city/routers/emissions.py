"""``/api/v1/emissions``: gross, electricity and net CO2 with the methodology used."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from city import methodology
from city.auth import ReadAccess
from city.deps import Figures
from city.params import GroupBy, Window, check_buckets, window
from city.routers._shared import json_response, window_dict
from city.schemas import EmissionsReport

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["emissions"])


@router.get("/emissions", response_model=EmissionsReport)
async def emissions(
    request: Request,
    win: Annotated[Window, Depends(window)],
    figs: Figures,
    access: ReadAccess,
    group_by: Annotated[GroupBy, Query(description="Group width, in UTC.")] = "month",
    profile: Annotated[
        str | None,
        Query(
            max_length=64,
            description="Methodology profile: ams-iii-c, city-calibrated, or stored (the "
            "per-trip figures the trip builder stored); default: the service's.",
        ),
    ] = None,
) -> Response:
    """CO2 avoided in ``[from, to)``: baseline (gross), electricity and net, in total and per
    group, with the methodology profile and every parameter it used."""
    config = request.app.state.config
    chosen = methodology.check_profile(
        profile or methodology.default_profile(config.emissions_profile)
    )
    check_buckets(request, win, "group_by", group_by)

    async def build() -> bytes:
        total = await figs.summary(win.start, win.end)
        rows = await figs.period_series(win.start, win.end, group_by)
        stored = await figs.methodologies(win.start, win.end)
        overall, *per_group = methodology.totals_of_rows(chosen, [total, *rows])
        groups = [
            {"start": r["bucket_start"], "end": r["bucket_end"], **figures}
            for r, figures in zip(rows, per_group, strict=True)
        ]
        body = {
            "window": window_dict(win),
            "group_by": group_by,
            "methodology": methodology.describe(chosen, stored),
            "totals": overall,
            "groups": groups,
        }
        return EmissionsReport.model_validate(body).model_dump_json().encode()

    key = ("emissions.json", win.start, win.end, group_by, chosen)
    return json_response(await figs.cached(key, build))
