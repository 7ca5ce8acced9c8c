"""``/api/v1/emissions``: gross, electricity and net CO2 with the methodology used."""

from __future__ import annotations

from typing import Annotated

import numpy as np
import orjson
from fastapi import APIRouter, Depends, Query, Request, Response

from city import methodology
from city.auth import ReadAccess
from city.cache import CachedFigures
from city.config import ServiceConfig
from city.deps import Figures
from city.params import GroupBy, Window, check_buckets, window
from city.routers._shared import json_response, window_dict
from city.schemas import EmissionsGroup, EmissionsReport, EmissionsTotals

__all__ = ["chosen_profile", "emissions_json", "router"]

router = APIRouter(prefix="/api/v1", tags=["emissions"])

# The answer's keys in the models' order, which is the order their serialiser writes.
_TOTALS = tuple(EmissionsTotals.model_fields)
_GROUP = tuple(EmissionsGroup.model_fields)  # the totals' keys, then start and end


def chosen_profile(config: ServiceConfig, profile: str | None) -> str:
    """The profile a request asked for, or the service's default (checked)."""
    return methodology.check_profile(
        profile or methodology.default_profile(config.emissions_profile)
    )


async def emissions_json(figs: CachedFigures, win: Window, group_by: GroupBy, chosen: str) -> bytes:
    """The emissions report's answer for a checked window, group count and profile (the
    endpoint's, and the one :mod:`city.http_cache` gives before routing).

    Written from the figures' columns in one pass over the groups and serialised as
    :class:`~city.schemas.EmissionsReport` would serialise it, without validating what this
    module built (the tests hold the two byte for byte equal).
    """

    async def build() -> bytes:
        # No distinct riders or vehicles in a report of CO2: not counted. The window's
        # figures come last, computed with the groups'.
        index = await figs.trip_index()
        columns = index.bucket_columns(win.start, win.end, group_by, distinct=False, total=True)
        stored = index.methodologies(win.start, win.end)
        figures = methodology.totals_of_columns(chosen, columns)
        edges = np.datetime_as_string(
            columns["edge_us"].astype("datetime64[us]"), unit="s", timezone="UTC"
        ).tolist()
        per_group = (figures[k][:-1] for k in _TOTALS)
        groups = [
            dict(zip(_GROUP, row, strict=True))
            for row in zip(*per_group, edges[:-1], edges[1:], strict=True)
        ]
        body = {
            "window": window_dict(win),
            "group_by": group_by,
            "methodology": methodology.describe(chosen, stored),
            "totals": {k: figures[k][-1] for k in _TOTALS},
            "groups": groups,
        }
        return orjson.dumps(body, option=orjson.OPT_UTC_Z)

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
