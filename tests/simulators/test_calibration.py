"""simulators/calibration.py and the scenario's behaviour: the city's figures, the demand
shape, repeat riders, the battery."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from simulators import STATE_CHARGING, STATE_RIDING, benguerir, simulate
from simulators.calibration import calibration, format_calibration
from simulators.demand import HOURLY, WEEKLY
from simulators.network import load_zones


@pytest.mark.slow
def test_two_years_give_the_citys_figures() -> None:
    """Two simulated years (ground truth, no points rendered) give 130,000 trips, 600,000 km
    and more than 15,000 distinct riders, each within 3 %."""
    sim = simulate(benguerir(seed=1, days=730))
    rows = {row.figure: row for row in calibration(sim)}
    for figure in ("trips", "km", "distinct riders"):
        assert abs(rows[figure].error) <= 0.03, format_calibration(list(rows.values()), 730)
    assert rows["distinct riders"].simulated > 15_000


def test_shortened_run_scaled() -> None:
    """90 days match the reported figures scaled to the window (seasonal share of demand
    for trips and km, the rider model for distinct riders) within 3 %."""
    sim = simulate(benguerir(seed=5, days=90, start=datetime(2024, 9, 1, tzinfo=UTC)))
    for row in calibration(sim):
        assert abs(row.error) <= 0.03, format_calibration(calibration(sim), 90)


def test_hourly_and_weekly_demand() -> None:
    """Ride starts follow the hourly profile (local time) and weekdays beat the weekend."""
    truth = simulate(benguerir(seed=2, days=120)).truth
    local = truth["start_ts"] + np.timedelta64(1, "h")
    hours = (local.astype("datetime64[h]").astype(np.int64)) % 24
    observed = np.bincount(hours, minlength=24) / hours.size
    assert np.corrcoef(observed, HOURLY)[0, 1] > 0.97
    weekday = (local.astype("datetime64[D]").astype(np.int64) + 3) % 7
    per_day = np.bincount(weekday, minlength=7)
    assert per_day[:4].mean() > per_day[5:].mean() * (WEEKLY[:4].mean() / WEEKLY[5:].mean()) * 0.95


def test_repeat_riders() -> None:
    """Riders come back: most rides are by riders seen more than once; tokens are opaque."""
    truth = simulate(benguerir(seed=2, days=120)).truth
    _, counts = np.unique(truth["rider"], return_counts=True)
    assert counts.max() >= 10
    assert counts[counts > 1].sum() / truth.size > 0.5
    assert all(r.startswith("rdr-") and len(r) == 20 for r in truth["rider"][:100])


def test_rides_between_named_zones() -> None:
    """Rides start and end in the geofenced zones (ids of the shared GeoJSON), and each
    day's last ride of a vehicle ends at a charging station."""
    sim = simulate(benguerir(seed=2, days=14))
    zones = set(load_zones().ids)
    ends = set(sim.truth["end_zone"].tolist()) - {""}
    assert ends <= zones and {"um6p_campus", "city_centre", "charging_campus"} <= ends
    assert (sim.truth["end_zone"] != "").mean() > 0.8


def test_battery_and_charging() -> None:
    """SoC stays in range and never near empty, voltage follows SoC, charging happens at
    charging stations with a tapering curve, and energy rises with distance."""
    sim = simulate(benguerir(seed=2, days=7, faults=False))
    p = sim.points
    assert p["soc_pct"].min() > 5.0
    riding = p["state"] == STATE_RIDING
    assert np.corrcoef(p["soc_pct"][~riding], p["voltage_v"][~riding])[0, 1] > 0.95
    charging = p[p["state"] == STATE_CHARGING]
    zones = load_zones()
    located = zones.names(zones.locate(charging["lon"], charging["lat"]))
    assert (np.char.startswith(located.astype(str), "charging_")).mean() > 0.99
    assert (charging["current_a"] < 0).all()
    high = charging["soc_pct"] > 95
    assert np.abs(charging["current_a"][high]).mean() < np.abs(charging["current_a"][~high]).mean()
    t = sim.truth
    wh_per_km = t["energy_kwh"] * 1000 / t["distance_km"]
    assert 25 < np.median(wh_per_km) < 60
    assert 45 <= p["speed_kmh"][riding].max() <= 62
