"""The scenario against the city's reported figures (FACTS.md): trips, km, distinct riders.

The city reports 130,000 trips, 600,000 km and more than 15,000 distinct riders over two
years. For a window other than the two calibration years the reported trips and kilometres
are scaled by the demand model's share of the two-year demand that falls in the window (so a
summer month is not held to a January month's figure), and distinct riders by the rider
model's expectation for that many trips (riders repeat, so they do not scale linearly).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulators.config import ScenarioConfig
from simulators.demand import expected_distinct_riders, hourly_intensity, rider_weights
from simulators.simulation import Simulation

__all__ = ["REPORTED", "CalibrationRow", "calibration", "format_calibration"]

#: The city's figures for the POGO project's two years (FACTS.md).
REPORTED = {"trips": 130_000.0, "km": 600_000.0, "riders": 15_000.0}
REPORTED_DAYS = 730.0


@dataclass(frozen=True)
class CalibrationRow:
    """One figure: what the simulation produced and what the city reported (for the window)."""

    figure: str
    simulated: float
    reported: float

    @property
    def error(self) -> float:
        """Relative difference, simulated against reported."""
        return self.simulated / self.reported - 1.0 if self.reported else float("nan")


def _window_share(config: ScenarioConfig) -> float:
    """The share of two calibration years' demand that falls in the config's window."""
    window = hourly_intensity(config)[0].sum()
    two_years = hourly_intensity(config.replace(days=REPORTED_DAYS))[0].sum()
    return float(window / two_years)


def calibration(sim: Simulation) -> list[CalibrationRow]:
    """Simulated (ground truth) against reported figures, scaled to the window."""
    truth = sim.truth
    share = _window_share(sim.config)
    trips = REPORTED["trips"] * share
    if abs(sim.config.days - REPORTED_DAYS) < 1e-9:
        riders = REPORTED["riders"]
    else:
        weights = rider_weights(sim.config)
        full = expected_distinct_riders(weights, sim.config.trips_per_day * REPORTED_DAYS)
        riders = REPORTED["riders"] * expected_distinct_riders(weights, trips) / full
    return [
        CalibrationRow("trips", float(truth.size), trips),
        CalibrationRow("km", float(truth["distance_km"].sum()), REPORTED["km"] * share),
        CalibrationRow("distinct riders", float(np.unique(truth["rider"]).size), riders),
        CalibrationRow(
            "km per trip",
            float(truth["distance_km"].mean()) if truth.size else 0.0,
            REPORTED["km"] / REPORTED["trips"],
        ),
        CalibrationRow(
            "trips per day",
            truth.size / sim.config.days,
            trips / sim.config.days,
        ),
    ]


def format_calibration(rows: list[CalibrationRow], days: float) -> str:
    """A small table: figure, simulated, reported (scaled to ``days``), difference."""
    lines = [
        f"benguerir scenario, {days:g} simulated days (reported figures: the city's report, "
        f"{REPORTED_DAYS:g} days{', scaled to the window' if days != REPORTED_DAYS else ''})",
        f"{'figure':<16} {'simulated':>12} {'reported':>12} {'difference':>11}",
    ]
    for row in rows:
        lines.append(
            f"{row.figure:<16} {row.simulated:>12,.2f} {row.reported:>12,.2f} {row.error:>+10.2%}"
        )
    return "\n".join(lines)
