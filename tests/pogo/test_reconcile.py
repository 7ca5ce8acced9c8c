"""``pogo trips reconcile``'s figures: simulated days through the trip builder's steps, beside
the simulator's truth and the city's published figures."""

from __future__ import annotations

import math

import pytest

from emissions import FACTORS
from pogo.reconcile import REPORTED_CO2_T, ReconcileRow, reconcile, reported_scale
from tests.pogo.test_cli import run_pogo


@pytest.fixture(scope="module")
def rows() -> dict[str, ReconcileRow]:
    return {r.indicator: r for r in reconcile(seed=3, days=4, chunk_days=2)}


def test_built_trips_match_the_simulated_rides(rows: dict[str, ReconcileRow]) -> None:
    """Four simulated days: the trips, riders and km built equal the truth (km within 2 %)."""
    assert rows["trips"].computed == rows["trips"].truth > 100
    assert rows["distinct riders"].computed == rows["distinct riders"].truth
    assert rows["km"].computed == pytest.approx(rows["km"].truth, rel=0.02)


def test_co2_and_energy_come_from_the_emissions_profiles(rows: dict[str, ReconcileRow]) -> None:
    """The calibrated CO2 is its 150 g/km net over the km built; the energy row counts the
    assumed consumption of unmeasured trips and has no city figure to be held to."""
    net = FACTORS["city_net_avoided"].value
    assert rows["CO2 avoided, t (city-calibrated)"].computed == pytest.approx(
        rows["km"].computed * net / 1000
    )
    assert abs(REPORTED_CO2_T - 90.0) < 1e-9  # the city: 90 t over 600,000 km
    energy = rows["energy, kWh"]
    assert energy.computed == pytest.approx(energy.truth, rel=0.05)
    assert math.isnan(energy.reported) and energy.error(1.0) is None and not energy.off(1.0)


def test_rows_are_held_to_the_city_within_three_percent() -> None:
    """A held row more than 3 % off the scaled city figure is off; the AMS-III.C row never."""
    scale = reported_scale(365.0)
    assert scale == pytest.approx(0.5)
    assert not ReconcileRow("trips", 66_000.0, 0.0, 130_000.0).off(scale)
    assert ReconcileRow("trips", 70_000.0, 0.0, 130_000.0).off(scale)
    assert not ReconcileRow("co2", 10.0, 0.0, 90.0, held=False).off(scale)
    assert ReconcileRow("riders", None, 0.0, 15_000.0).error(scale) is None


def test_motion_only_leaves_riders_uncomputed() -> None:
    """Without ride events the riders are unknown (None), and trips still come from motion."""
    rows = {r.indicator: r for r in reconcile(seed=3, days=2, chunk_days=2, ride_events=False)}
    assert rows["distinct riders"].computed is None
    assert rows["trips"].computed == pytest.approx(rows["trips"].truth, rel=0.05)


def test_the_command_prints_every_row_and_exits_1_when_off() -> None:
    """`pogo trips reconcile` prints each indicator with the city's figure scaled to the days,
    and exits 1 when a held one is more than 3 % off (two days' distinct riders are far more
    than 2/730 of two years': riders repeat over time)."""
    result = run_pogo("trips", "reconcile", "--days", "2", "--chunk-days", "2", "--seed", "3")
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("benguerir scenario, seed 3, 2 days, ride events")
    for indicator in ("trips", "km", "distinct riders", "CO2 avoided, t (ams-iii-c)"):
        assert any(line.startswith(indicator + " ") for line in lines), indicator
    trips = next(line for line in lines if line.startswith("trips "))
    assert trips.split()[-2] == f"{130_000 * 2 / 730:,.0f}"
