"""``/api/v1/emissions``: gross, electricity and net CO2 with the methodology used."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from city import methodology
from city.auth import ReadAccess
from city.cache import CachedFigures
from city.config import ServiceConfig
from city.deps import Figures
from city.params import GroupBy, Window, check_buckets, window
from city.routers._shared import json_response, window_dict
from city.schemas import EmissionsReport

__all__ = ["chosen_profile", "emissions_json", "router"]

router = APIRouter(prefix="/api/v1", tags=["emissions"])


def chosen_profile(config: ServiceConfig, profile: str | None) -> str:
    """The profile a request asked for, or the service's default (checked)."""
    return methodology.check_profile(
        profile or methodology.default_profile(config.emissions_profile)
    )


async def emissions_json(figs: CachedFigures, win: Window, group_by: GroupBy, chosen: str) -> bytes:
    """The emissions report's answer for a checked window, group count and profile (the
    endpoint's, and the one :mod:`city.http_cache` gives before routing)."""

    async def build() -> bytes:
        # No distinct riders or vehicles in a report of CO2: not counted.
        total = await figs.summary(win.start, win.end, distinct=False)
        rows = await figs.period_series(win.start, win.end, group_by, distinct=False)
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
    result: bytes = await figs.cached(key, build)
    return result


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
    chosen = chosen_profile(config, profile)
    check_buckets(config, win, "group_by", group_by)
    return json_response(await emissions_json(figs, win, group_by, chosen))
