"""Scenario parameters: one frozen dataclass, and the calibrated ``benguerir`` scenario."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from simulators.errors import ScenarioError

__all__ = ["FaultRates", "ScenarioConfig", "benguerir"]

F64 = npt.NDArray[np.float64]
_ID = re.compile(r"[A-Za-z0-9_-]{1,16}")


@dataclass(frozen=True)
class FaultRates:
    """How often each device or GPS fault happens.

    Per-point rates are the fraction of *true* points affected; window faults are episodes per
    vehicle per day with a mean length.
    """

    duplicate: float = 0.005  # fraction of points sent twice
    out_of_order: float = 0.005  # fraction of points sent after their successor
    malformed: float = 0.0005  # bad payloads sent, per true point (extra messages)
    multipath: float = 0.001  # fraction of fixes displaced by a multipath jump (50-300 m)
    clock_skew_per_day: float = 0.05  # episodes per vehicle-day with the device clock off
    clock_skew_max_s: float = 20.0  # the offset is uniform in +-[1, max] seconds
    clock_skew_mean_s: float = 1800.0  # mean episode length
    offline_buffer_per_day: float = 0.2  # episodes per vehicle-day: buffered, batch upload
    offline_buffer_mean_s: float = 900.0
    coverage_gap_per_day: float = 0.2  # episodes per vehicle-day with no fix (points lost)
    coverage_gap_mean_s: float = 120.0

    @classmethod
    def none(cls) -> FaultRates:
        """No faults at all: every true point sent once, in order, on time."""
        return cls(
            duplicate=0.0,
            out_of_order=0.0,
            malformed=0.0,
            multipath=0.0,
            clock_skew_per_day=0.0,
            offline_buffer_per_day=0.0,
            coverage_gap_per_day=0.0,
        )

    def validate(self) -> None:
        """Raise :class:`ScenarioError` naming the first rate out of range."""
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value < 0:
                raise ScenarioError(f"faults.{f.name}", value, "a value >= 0")
        for name in ("duplicate", "out_of_order", "malformed", "multipath"):
            if getattr(self, name) > 0.5:
                raise ScenarioError(f"faults.{name}", getattr(self, name), "a rate <= 0.5")


@dataclass(frozen=True)
class ScenarioConfig:
    """Everything a simulation depends on; the same config (and seed) gives the same output.

    Calibration targets are per-scenario inputs (trips a day, km a trip, distinct riders over
    the calibration horizon); the totals over any window emerge from them.
    """

    seed: int = 1
    vehicles: int = 40
    start: datetime = datetime(2024, 1, 1, tzinfo=UTC)
    days: float = 7.0
    fleet: str = "pogo"
    vehicle_prefix: str = "pogo"
    report_interval_s: float = 5.0  # while riding
    parked_interval_s: float = 300.0  # while parked (a heartbeat fix)
    charging_interval_s: float = 60.0  # while charging
    ride_events: bool = True
    faults: FaultRates = field(default_factory=FaultRates)
    # Demand.
    trips_per_day: float = 178.1  # fleet-wide mean over a year (weekly/seasonal shape on top)
    mean_trip_km: float = 4.615
    riders_target: float = 15_250.0  # distinct riders after calibration_days at trips_per_day
    calibration_days: float = 730.0
    rider_activity_sigma: float = 1.3  # lognormal spread of how often riders ride
    utc_offset_h: float = 1.0  # Morocco's local time (UTC+1) for the daily demand profile
    # Vehicle and battery.
    battery_kwh: float = 2.88  # rated capacity: 72 V x 40 Ah
    # Battery health: each pack's usable capacity at the start, as a share of the rated one,
    # drawn uniformly from this range (%), then fading linearly; 100/100/0 is a new fleet.
    health_low_pct: float = 100.0
    health_high_pct: float = 100.0
    capacity_fade_pct_per_year: float = 0.0  # percentage points of the rated capacity a year
    soc_sigma_pct: float = 0.0  # the BMS's SoC reading error (white, %), before rounding
    pack_cells_series: int = 20
    internal_resistance_ohm: float = 0.08
    charger_kw: float = 1.2
    charge_below_pct: float = 101.0  # every vehicle that rode is charged overnight below this
    mass_kg: float = 180.0  # vehicle plus rider
    max_speed_kmh: float = 60.0
    gps_sigma_m: float = 2.5
    offline_share: float = 0.08  # share of long parked spells the device spends offline
    # Riding behaviour: shares of the stops (starts) from (to) 29 km/h or more that are harsh.
    harsh_braking_share: float = 0.0  # braked at 4.5-6.5 m/s2 instead of 2.2
    harsh_acceleration_share: float = 0.0  # sped up at 3.5-4.5 m/s2 instead of 1.5

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.start.utcoffset() is None:
            raise ScenarioError("start", self.start, "an aware UTC datetime")
        checks: list[tuple[str, float, float, float]] = [
            ("vehicles", self.vehicles, 1, 100_000),
            ("days", self.days, 0.001, 3660),
            ("report_interval_s", self.report_interval_s, 0.1, 3600),
            ("parked_interval_s", self.parked_interval_s, 1, 86_400),
            ("charging_interval_s", self.charging_interval_s, 1, 86_400),
            ("trips_per_day", self.trips_per_day, 0, 1e7),
            ("mean_trip_km", self.mean_trip_km, 0.5, 50),
            ("battery_kwh", self.battery_kwh, 0.1, 200),
            ("health_low_pct", self.health_low_pct, 50, 100),
            ("health_high_pct", self.health_high_pct, self.health_low_pct, 100),
            ("capacity_fade_pct_per_year", self.capacity_fade_pct_per_year, 0, 20),
            ("soc_sigma_pct", self.soc_sigma_pct, 0, 5),
            ("max_speed_kmh", self.max_speed_kmh, 10, 200),
            ("harsh_braking_share", self.harsh_braking_share, 0, 1),
            ("harsh_acceleration_share", self.harsh_acceleration_share, 0, 1),
        ]
        for name, value, low, high in checks:
            if not low <= value <= high:
                raise ScenarioError(name, value, f"a value from {low:g} to {high:g}")
        if self.trips_per_day / self.vehicles > 40:
            raise ScenarioError(
                "trips_per_day", self.trips_per_day, f"at most 40 a vehicle ({self.vehicles})"
            )
        self.faults.validate()
        # Ids travel in topics ([A-Za-z0-9_-]) and in the arrays' 16-character fields.
        for name, ident in (("fleet", self.fleet), ("vehicle_prefix", self.vehicle_prefix)):
            if not _ID.fullmatch(ident):
                raise ScenarioError(name, ident, "letters, digits, '_' or '-'")
        longest = len(self.vehicle_prefix) + 1 + max(3, len(str(self.vehicles)))
        if longest > 16 or len(self.fleet) > 16:
            raise ScenarioError(
                "vehicle_prefix",
                self.vehicle_prefix,
                "fleet and vehicle ids of 16 characters at most",
            )

    def capacity_kwh(self, health_pct: npt.ArrayLike, t_s: npt.ArrayLike) -> F64:
        """Usable capacity (kWh) of packs starting at ``health_pct`` (% of rated), ``t_s``
        seconds after the start: the rated capacity times the health, less the fade so far
        (never below half the rated capacity)."""
        years = np.asarray(t_s, dtype=np.float64) / (365.25 * 86_400.0)
        health = np.asarray(health_pct, np.float64) - self.capacity_fade_pct_per_year * years
        return np.asarray(self.battery_kwh * np.maximum(health, 50.0) / 100.0, np.float64)

    @property
    def vehicle_ids(self) -> list[str]:
        """The vehicles' ids on the wire: ``pogo-001`` ..."""
        width = max(3, len(str(self.vehicles)))
        return [f"{self.vehicle_prefix}-{i + 1:0{width}d}" for i in range(self.vehicles)]

    def replace(self, **changes: object) -> ScenarioConfig:
        """A copy with some parameters changed."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def benguerir(
    seed: int = 1,
    days: float = 730.0,
    vehicles: int = 40,
    start: datetime | None = None,
    ride_events: bool = True,
    faults: bool | FaultRates = True,
    **overrides: object,
) -> ScenarioConfig:
    """The Benguerir scenario, calibrated to the city's two-year figures (FACTS.md).

    40 vehicles serve about 178 trips a day (about 4.5 a vehicle), 4.6 km a trip on average,
    ridden by a population whose repeat riding gives about 15,250 distinct riders in two years.
    ``faults=True`` uses :class:`FaultRates`' defaults, ``False`` none, or pass your own rates.
    """
    if isinstance(faults, FaultRates):
        rates = faults
    else:
        rates = FaultRates() if faults else FaultRates.none()
    config = ScenarioConfig(
        seed=seed,
        vehicles=vehicles,
        start=start or datetime(2024, 1, 1, tzinfo=UTC),
        days=days,
        ride_events=ride_events,
        faults=rates,
        trips_per_day=178.1 * vehicles / 40,
        riders_target=15_250.0 * vehicles / 40,
    )
    return config.replace(**overrides) if overrides else config
