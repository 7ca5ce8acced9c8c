"""GET /api/v1/emissions: gross, electricity and net CO2 with the methodology used."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

import httpx
import numpy as np
import psycopg
import pytest

import emissions
from city import methodology
from city.buckets import bucket_count
from city.cache import CachedFigures, FiguresCache
from city.params import GroupBy, Window
from city.routers.emissions import emissions_json
from city.schemas import EmissionsReport
from city.tripindex import TripIndex
from tests.city.builders import t, trip, trip_index, vehicle

YEAR = {"from": "2025-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}


def test_emissions_reports_gross_electricity_and_net_per_month(
    db: psycopg.Connection, client: httpx.Client
) -> None:
    """Totals and monthly groups carry baseline, electricity and net CO2 summed from the
    stored trips (baseline − electricity = net), with the stored methodology versions named."""
    v = vehicle(db)
    trip(db, v, t("2025-01-10T08:00"), km=10.0)
    trip(db, v, t("2025-03-05T08:00"), km=20.0, methodology="test-v2")

    response = client.get(
        "/api/v1/emissions", params={**YEAR, "group_by": "month", "profile": "stored"}
    )

    assert response.status_code == 200, response.text
    body = response.json()
    totals = body["totals"]
    assert totals["distance_km"] == pytest.approx(30.0)
    assert totals["co2_baseline_kg"] == pytest.approx(0.186 * 30)
    assert totals["co2_avoided_kg"] == pytest.approx(0.150 * 30)
    assert totals["co2_baseline_kg"] - totals["co2_electricity_kg"] == pytest.approx(
        totals["co2_avoided_kg"]
    )
    assert totals["avoided_g_per_km"] == pytest.approx(150.0)
    assert len(body["groups"]) == 12
    assert body["groups"][2]["start"] == "2025-03-01T00:00:00Z"
    assert body["groups"][2]["co2_avoided_kg"] == pytest.approx(3.0)
    assert body["groups"][1]["trips"] == 0
    methodology = body["methodology"]
    assert methodology["profile"] == "stored"
    assert methodology["stored_methodologies"] == {"test-v1": 1, "test-v2": 1}
    assert "baseline" in methodology["explanation"]


def test_city_calibrated_profile_reproduces_150_g_per_km_with_its_parameters(
    db: psycopg.Connection, client: httpx.Client
) -> None:
    """Under the city-calibrated profile, trips using the reference 5.84 kWh/100 km avoid the
    city's 150 g/km net; the report says it is a calibration and lists every parameter with
    value, unit and source."""
    v = vehicle(db)
    trip(db, v, t("2025-02-01T08:00"), km=10.0, energy_kwh=0.584)
    trip(db, v, t("2025-05-01T08:00"), km=30.0, energy_kwh=30 * 0.0584)

    body = client.get("/api/v1/emissions", params={**YEAR, "profile": "city-calibrated"}).json()

    totals = body["totals"]
    assert totals["avoided_g_per_km"] == pytest.approx(150.0, abs=0.01)
    assert totals["co2_avoided_kg"] == pytest.approx(40 * 0.150, rel=1e-4)
    assert totals["co2_baseline_kg"] - totals["co2_electricity_kg"] == pytest.approx(
        totals["co2_avoided_kg"], abs=1e-9
    )
    methodology = body["methodology"]
    assert methodology["profile"] == "city-calibrated"
    assert methodology["calibration"] is True
    assert methodology["version"]
    names = {p["name"] for p in methodology["parameters"]}
    assert {"grid_ef", "td_losses"} <= names and len(names) >= 5
    assert all(p["unit"] and p["source"] for p in methodology["parameters"])
    assert sum(g["co2_avoided_kg"] for g in body["groups"]) == pytest.approx(
        totals["co2_avoided_kg"]
    )


def test_default_profile_is_the_ams_iii_c_structured_one(
    db: psycopg.Connection, client: httpx.Client
) -> None:
    """Without profile= the report uses the AMS-III.C-structured profile, which is not a
    calibration; trips without a measured energy still get electricity (an assumed use)."""
    v = vehicle(db)
    trip(db, v, t("2025-02-01T08:00"), km=10.0, energy_kwh=None)
    body = client.get("/api/v1/emissions", params=YEAR).json()
    assert body["methodology"]["profile"] == "ams-iii-c"
    assert body["methodology"]["calibration"] is False
    assert body["totals"]["co2_electricity_kg"] > 0
    assert 0 < body["totals"]["co2_avoided_kg"] < body["totals"]["co2_baseline_kg"]


def test_emissions_by_year_and_day(db: psycopg.Connection, client: httpx.Client) -> None:
    """group_by=year gives one group per calendar year; group_by=day one per UTC day."""
    trip(db, vehicle(db), t("2025-06-01T12:00"), km=5.0)
    yearly = client.get("/api/v1/emissions", params={**YEAR, "group_by": "year"}).json()
    assert [g["start"] for g in yearly["groups"]] == ["2025-01-01T00:00:00Z"]
    daily = client.get("/api/v1/emissions", params={**YEAR, "group_by": "day"}).json()
    assert len(daily["groups"]) == 365
    assert sum(g["trips"] for g in daily["groups"]) == 1


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({**YEAR, "group_by": "week"}, "group_by"),
        ({**YEAR, "profile": "no-such-profile"}, "profile"),
        ({"from": "2025-01-01T00:00:00Z", "to": "garbage"}, "to"),
        ({"from": "2020-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z", "group_by": "day"}, "to"),
        ({"from": "9999-06-01T00:00:00Z", "to": "9999-12-31T12:00:00Z", "group_by": "month"}, "to"),
    ],
)
def test_emissions_refuses_bad_parameters(
    client: httpx.Client, params: dict[str, str], parameter: str
) -> None:
    """An unknown group, an unknown profile, a bad time, too many day groups and a window whose
    last group would end after 9999-12-31 (once a 500) get 422 naming the parameter."""
    response = client.get("/api/v1/emissions", params=params)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", parameter]


def _windows(rng: np.random.Generator) -> list[Window]:
    """Random windows to the microsecond over the index's months and beyond, and windows cut
    on and a microsecond beside month and year ends, leap days (2024, 2000) and a century's
    28 February (2100), some holding no trip."""
    base = datetime(2023, 11, 1, tzinfo=UTC)
    us = timedelta(microseconds=1)
    windows = []
    for _ in range(60):
        a = base + timedelta(microseconds=int(rng.integers(500 * 86400 * 10**6)))
        b = a + timedelta(microseconds=int(rng.integers(1, 400 * 86400 * 10**6)))
        windows.append(Window(a, b))
    cuts = [
        datetime(2024, 1, 1, tzinfo=UTC),
        datetime(2024, 2, 29, tzinfo=UTC),
        datetime(2024, 3, 1, tzinfo=UTC),
        datetime(2024, 12, 31, 23, tzinfo=UTC),
        datetime(2025, 1, 1, tzinfo=UTC),
    ]
    near = [c + d * us for c in cuts for d in (-1, 0, 1)]
    windows += [Window(a, b) for a in near for b in near if a < b]
    for year in (2000, 2100):
        a, b = datetime(year, 2, 28, 12, tzinfo=UTC), datetime(year, 3, 2, tzinfo=UTC)
        windows.append(Window(a, b))
    return windows


def _plain_totals(profile: str, row: dict[str, Any]) -> dict[str, Any]:
    """One row's CO2 on its own: the stored sums, or emissions.breakdown of its km and kWh."""
    km = row["distance_km"]
    if profile == methodology.STORED:
        co2 = [row["co2_baseline_kg"], row["co2_electricity_kg"], row["co2_avoided_kg"]]
    else:
        b = emissions.breakdown(km, row["energy_kwh"], profile, row["distance_km_without_energy"])
        co2 = [b.co2_baseline_kg, b.co2_electricity_kg, b.co2_avoided_kg]
    return {
        "trips": row["trips"],
        "distance_km": km,
        "energy_kwh": row["energy_kwh"],
        "co2_baseline_kg": co2[0],
        "co2_electricity_kg": co2[1],
        "co2_avoided_kg": co2[2],
        "avoided_g_per_km": co2[2] * 1000 / km if km > 0 else None,
    }


def _validated(index: TripIndex, win: Window, group_by: GroupBy, profile: str) -> bytes:
    """The report the plain way: the index's rows, each group's CO2 on its own, through the
    EmissionsReport model's validation and serialiser."""
    rows = index.series(win.start, win.end, group_by, distinct=False)
    body = {
        "window": {"start": win.start, "end": win.end},
        "group_by": group_by,
        "methodology": methodology.describe(profile, index.methodologies(win.start, win.end)),
        "totals": _plain_totals(profile, index.summary(win.start, win.end, distinct=False)),
        "groups": [
            {"start": r["bucket_start"], "end": r["bucket_end"], **_plain_totals(profile, r)}
            for r in rows
        ],
    }
    return EmissionsReport.model_validate(body).model_dump_json().encode()


def test_the_answer_is_the_validated_models_json_for_any_window() -> None:
    """For random windows and windows cut at month and year ends and leap days, by day, month
    and year, under every profile: the answer, written without validation from the index's
    columns, is byte for byte the EmissionsReport model's JSON of the same report computed
    row by row."""
    index = trip_index(np.random.default_rng(71), 5000, datetime(2023, 12, 1, tzinfo=UTC), 420)
    cache = FiguresCache("", max_entries=0)
    cache.index = index

    async def answer(win: Window, group_by: GroupBy, profile: str) -> bytes:
        figs = CachedFigures(None, cache, None, "read", version=index.version)  # type: ignore[arg-type]
        return await emissions_json(figs, win, group_by, profile)

    rng = np.random.default_rng(72)
    for win in _windows(rng):
        for group_by in get_args(GroupBy):
            if bucket_count(win.start, win.end, group_by) > 1500:
                continue
            for profile in methodology.profile_names():
                fast = asyncio.run(answer(win, group_by, profile))
                assert fast == _validated(index, win, group_by, profile), (win, group_by, profile)
