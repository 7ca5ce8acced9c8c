"""The city report a person reads (``/report``) and its CSV exports."""

from __future__ import annotations

from pathlib import Path as FsPath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from city import methodology
from city.auth import ReadAccess
from city.buckets import Unit
from city.cache import CachedFigures
from city.charts import bar_chart
from city.deps import Config, Figures
from city.params import Window, check_buckets
from city.presentation import mass, quantity
from city.privacy import K_ANONYMITY_NOTE, published_riders, sees_riders
from city.routers._shared import figures, optional_window
from city.routers.learning_city import learning_city_tables
from city.spreadsheet import csv_text

__all__ = ["router"]

router = APIRouter(tags=["report"])
templates = Jinja2Templates(directory=FsPath(__file__).resolve().parent.parent / "templates")
templates.env.filters["quantity"] = quantity
templates.env.filters["mass"] = mass

FromQ = Annotated[str | None, Query(alias="from", description="RFC 3339; default: all trips.")]
ToQ = Annotated[str | None, Query(description="RFC 3339; default: all trips.")]
BucketQ = Annotated[
    Literal["hour", "day", "week", "month"] | None,
    Query(description="Default: from the window's length."),
]
_LABELS = {"hour": "%d %b %H:00", "day": "%d %b", "week": "%d %b %y", "month": "%b %Y"}
_CSV_COLUMNS = (
    "bucket_start",
    "bucket_end",
    "trips",
    "distance_km",
    "riders",
    "vehicles_active",
    "energy_kwh",
    "co2_baseline_kg",
    "co2_electricity_kg",
    "co2_avoided_kg",
)


def _auto_bucket(win: Window) -> Unit:
    """Hours for a window of up to two days (a demo's first day is 24 bars, not one), then
    days, weeks and months."""
    if win.days <= 2:
        return "hour"
    if win.days <= 92:
        return "day"
    return "week" if win.days <= 800 else "month"


async def _series(
    request: Request, figs: CachedFigures, win: Window, bucket: Unit | None
) -> tuple[Unit, list[dict[str, Any]]]:
    chosen = bucket or _auto_bucket(win)
    check_buckets(request.app.state.config, win, "bucket", chosen)
    return chosen, await figs.period_series(win.start, win.end, chosen)


@router.get("/", include_in_schema=False)
async def root() -> RedirectResponse:
    return RedirectResponse("/report")


@router.get("/report", response_class=HTMLResponse)
async def report(
    request: Request,
    figs: Figures,
    config: Config,
    access: ReadAccess,
    from_: FromQ = None,
    to: ToQ = None,
    bucket: BucketQ = None,
) -> HTMLResponse:
    """The city report: key figures, charts of trips, kilometres and CO2 avoided over time,
    the programme tables, the methodology in plain words, and links to the CSV exports."""
    win = await optional_window(figs, from_, to, config.max_window_days)
    profile = methodology.check_profile(methodology.default_profile(config.emissions_profile))
    context: dict[str, Any] = {"window": win, "bucket": None, "charts": [], "totals": None}
    stored: list[dict[str, Any]] = []
    if win is not None:
        chosen, rows = await _series(request, figs, win, bucket)
        row = await figs.summary(win.start, win.end)
        stored = await figs.methodologies(win.start, win.end)
        fmt = _LABELS[chosen]
        # The chart's CO2 in the unit its largest bar reads best in (kg, or t from a tonne).
        largest_kg = max((float(r["co2_avoided_kg"]) for r in rows), default=0.0)
        co2_unit = mass(largest_kg)[1]
        co2_scale = 1000.0 if co2_unit == "t" else 1.0
        context.update(
            bucket=chosen,
            totals=figures(row, sees_riders(access)),
            comparison=[
                {**methodology.describe(name, []), **methodology.totals(name, row)}
                for name in methodology.profile_names()
            ],
            charts=[
                bar_chart(
                    "trips",
                    f"Trips per {chosen}",
                    "trips",
                    [(r["bucket_start"], float(r["trips"])) for r in rows],
                    fmt,
                ),
                bar_chart(
                    "distance",
                    f"Kilometres per {chosen}",
                    "km",
                    [(r["bucket_start"], float(r["distance_km"])) for r in rows],
                    fmt,
                ),
                bar_chart(
                    "co2",
                    f"CO2 avoided per {chosen} (as stored per trip)",
                    co2_unit,
                    [(r["bucket_start"], float(r["co2_avoided_kg"]) / co2_scale) for r in rows],
                    fmt,
                ),
            ],
            query=f"from={win.start.isoformat()}&to={win.end.isoformat()}&bucket={chosen}",
        )
    else:
        context["query"] = ""
    context["described"] = methodology.describe(profile, stored)
    context["tables"] = (await learning_city_tables(figs, win, sees_riders(access)))["programmes"]
    context["k_anonymity"] = K_ANONYMITY_NOTE
    context["explanation"] = methodology.explain(profile)
    return templates.TemplateResponse(request, "report.html", context)


def _csv(rows: list[list[Any]], filename: str) -> Response:
    return Response(
        csv_text(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/report/figures.csv", response_class=Response)
async def figures_csv(
    request: Request,
    figs: Figures,
    config: Config,
    access: ReadAccess,
    from_: FromQ = None,
    to: ToQ = None,
    bucket: BucketQ = None,
) -> Response:
    """The report's figures per bucket as CSV (one header row, then one row per bucket; a
    distinct-rider count below 10 is empty, k-anonymity, except for the operator token)."""
    win = await optional_window(figs, from_, to, config.max_window_days)
    rows: list[list[Any]] = [list(_CSV_COLUMNS)]
    exact = sees_riders(access)
    if win is not None:
        _, series = await _series(request, figs, win, bucket)
        for r in series:
            cells = {**r, "riders": published_riders(int(r["riders"]), exact)}
            rows.append(
                [cells[c].isoformat() if c.startswith("bucket") else cells[c] for c in _CSV_COLUMNS]
            )
    return _csv(rows, "pogo-figures.csv")


_LEARNING_CITY_CSV_COLUMNS = (
    "programme_id",
    "programme",
    "indicator_id",
    "indicator",
    "qualifier",
    "value",
    "unit",
    "period",
    "source",
)


@router.get("/report/learning-city.csv", response_class=Response)
async def learning_city_csv(
    figs: Figures, config: Config, access: ReadAccess, from_: FromQ = None, to: ToQ = None
) -> Response:
    """Every programme table, the live POGO one included, as CSV (one row per indicator)."""
    win = await optional_window(figs, from_, to, config.max_window_days)
    tables = (await learning_city_tables(figs, win, sees_riders(access)))["programmes"]
    rows: list[list[Any]] = [list(_LEARNING_CITY_CSV_COLUMNS)]
    for t in tables:
        for i in t["indicators"]:
            rows.append(
                [
                    t["programme_id"],
                    t["name"],
                    i["indicator_id"],
                    i["label"],
                    i["qualifier"] or "",
                    "" if i["value"] is None else i["value"],
                    i["unit"],
                    i["period"],
                    i["source"],
                ]
            )
    return _csv(rows, "learning-city.csv")
