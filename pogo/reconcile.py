"""The trips built from a simulated Benguerir against the simulator's truth and the city's
published figures (``pogo trips reconcile``).

The scenario's points and ride events go through the trip builder's own steps (track, rides,
segmentation, trip columns), a chunk of days at a time; their sums are set beside the
simulator's ground truth and the city's figures for the POGO project's two years.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import emissions
import simulators
from fleet import Rides, Track, TripRules, pair_ride_events, segment, trip_frame
from simulators.calibration import REPORTED, REPORTED_DAYS

__all__ = ["REPORTED_CO2_T", "TOLERANCE", "ReconcileRow", "reconcile", "reported_scale"]

TOLERANCE = 0.03
"""How far off the city's figure (as a share) a held indicator may be."""

REPORTED_CO2_T = REPORTED["km"] * emissions.FACTORS["city_net_avoided"].value / 1000.0
"""The city's CO2 avoided over the two years, t: its 150 g/km net over its 600,000 km."""


@dataclass(frozen=True)
class ReconcileRow:
    """One indicator: what the trips built gave, the simulator's truth, the city's figure."""

    indicator: str
    computed: float | None  # None: not computable in this mode (riders without ride events)
    truth: float
    reported: float  # for the two years; NaN where the city publishes none
    held: bool = True  # held to the city's figure within TOLERANCE (else shown beside it)

    def error(self, scale: float) -> float | None:
        """``computed`` against ``reported × scale``, as a share; None when either is absent."""
        target = self.reported * scale
        if self.computed is None or np.isnan(target):
            return None
        return self.computed / target - 1

    def off(self, scale: float) -> bool:
        """Held, and further than :data:`TOLERANCE` from the city's figure."""
        error = self.error(scale)
        return self.held and error is not None and abs(error) > TOLERANCE


@dataclass
class _Built:
    """Sums over the trips built."""

    trips: int = 0
    km: float = 0.0
    measured_kwh: float = 0.0
    unmeasured_km: float = 0.0
    riders: set[str] = field(default_factory=set)

    def add(self, columns: dict[str, np.ndarray]) -> None:
        measured = columns["energy_measured"]
        self.trips += int(columns["distance_km"].shape[0])
        self.km += float(columns["distance_km"].sum())
        self.measured_kwh += float(columns["energy_kwh"][measured].sum())
        self.unmeasured_km += float(columns["distance_km"][~measured].sum())
        self.riders.update(r for r in columns["rider"].tolist() if r)

    def co2_t(self, profile: emissions.Profile) -> float:
        return self.breakdown(profile).co2_avoided_kg / 1000

    def breakdown(self, profile: emissions.Profile) -> emissions.Breakdown:
        return emissions.breakdown(self.km, self.measured_kwh, profile, self.unmeasured_km)


def _track(points: np.ndarray) -> Track:
    return Track.from_unsorted(
        points["vehicle_index"].astype(np.int64) + 1,
        points["ts"].astype(np.int64),
        points["lat"],
        points["lon"],
        speed_kmh=points["speed_kmh"],
        hdop=points["hdop"],
        soc_pct=points["soc_pct"],
        odometer_km=points["odometer_km"],
    )


def _rides(events: np.ndarray) -> Rides | None:
    ride = events[np.isin(events["type"], ["ride_start", "ride_end"])]
    if not ride.size:
        return None
    return pair_ride_events(
        ride["vehicle_index"].astype(np.int64) + 1,
        ride["ts"].astype(np.int64),
        ride["type"] == "ride_start",
        ride_id=ride["ride_id"].astype(object),
        rider=ride["rider"].astype(object),
    )


def _build(sim: simulators.Simulation, chunk_days: float, ride_events: bool) -> _Built:
    rules = TripRules()
    capacity = float(sim.config.battery_kwh)
    built = _Built()
    for piece in sim.chunks(days=chunk_days):
        if piece.points.size == 0:
            continue
        track = _track(piece.points)
        rides = _rides(piece.events) if ride_events else None
        seg = segment(track, rules, rides)
        frame = trip_frame(track, seg, rides, rules, battery_kwh=np.full(len(seg.trips), capacity))
        built.add(frame.columns)
    return built


def reconcile(
    seed: int = 1, days: float = 730.0, chunk_days: float = 30.0, ride_events: bool = True
) -> list[ReconcileRow]:
    """Simulate the ``benguerir`` scenario, build its trips and compare them with the truth
    and with the city's figures.

    Parameters
    ----------
    seed : int
    days : float
        Simulated days (the city's figures cover ``REPORTED_DAYS``, 730).
    chunk_days : float
        Days segmented at once (memory).
    ride_events : bool
        False: motion alone defines trips, and distinct riders are not computable.

    Returns
    -------
    list of ReconcileRow
        trips, km, distinct riders, CO2 avoided under both profiles, energy; ``reported`` is
        the city's two-year figure (the caller scales it to ``days``).
    """
    sim = simulators.simulate(simulators.benguerir(seed=seed, days=days, ride_events=ride_events))
    built = _build(sim, chunk_days, ride_events)
    calibrated = emissions.get_profile("city-calibrated")
    ams = emissions.get_profile("ams-iii-c")
    truth = sim.truth
    true_km = float(truth["distance_km"].sum())
    true_kwh = float(truth["energy_kwh"].sum())

    def true_co2_t(profile: emissions.Profile) -> float:
        return emissions.breakdown(true_km, true_kwh, profile).co2_avoided_kg / 1000

    energy = built.breakdown(calibrated)
    return [
        ReconcileRow("trips", float(built.trips), float(truth.size), REPORTED["trips"]),
        ReconcileRow("km", built.km, true_km, REPORTED["km"]),
        ReconcileRow(
            "distinct riders",
            float(len(built.riders)) if ride_events else None,
            float(np.unique(truth["rider"]).size),
            REPORTED["riders"],
        ),
        ReconcileRow(
            "CO2 avoided, t (city-calibrated)",
            built.co2_t(calibrated),
            true_co2_t(calibrated),
            REPORTED_CO2_T,
        ),
        ReconcileRow(
            "CO2 avoided, t (ams-iii-c)",
            built.co2_t(ams),
            true_co2_t(ams),
            REPORTED_CO2_T,
            held=False,
        ),
        ReconcileRow(
            "energy, kWh", energy.energy_kwh + energy.assumed_energy_kwh, true_kwh, float("nan")
        ),
    ]


def reported_scale(days: float) -> float:
    """The share of the city's two-year figures a window of ``days`` is held to."""
    return days / REPORTED_DAYS
