"""CO2 avoided: the two methodology profiles, per-trip figures and totals of summed km and kWh.

CO2 avoided = baseline emissions of the displaced modes − emissions of the electricity the
motorcycles used − leakage. Both terms are linear in the kilometres and the kilowatt-hours,
so any sum of trips can be re-evaluated under any profile from its summed km and kWh
(:func:`breakdown`, or :func:`breakdowns` for many sums at once).

References
----------
.. [1] UNFCCC CDM, AMS-III.C "Emission reductions by electric and hybrid vehicles",
   version 16.0 (8 September 2022): ER = BE − PE − LE; BE = Σ EF_km,i × DD_i × IR_t;
   PE = EC × EF_grid × (1 + TDL).
.. [2] UNFCCC CDM, AMS-III.BM (lightweight two- and three-wheeled personal transport): the
   baseline as a mix of the modes riders come from.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from emissions import factors as F
from emissions.errors import ProfileError, UnknownProfileError
from emissions.factors import Factor

__all__ = [
    "DEFAULT_PROFILE",
    "PROFILES",
    "Breakdown",
    "Co2Sums",
    "ModeShare",
    "Profile",
    "TripCo2",
    "ams_iii_c",
    "breakdown",
    "breakdowns",
    "city_calibrated",
    "get_profile",
    "per_trip",
]

METHOD_REVISION = 1
"""Bumped when the arithmetic of this module changes (it is part of every profile version)."""


@dataclass(frozen=True)
class ModeShare:
    """A displaced mode: its baseline emission factor and its share of the project's km."""

    factor: Factor
    share: float


@dataclass(frozen=True)
class Profile:
    """A methodology profile: every parameter of the CO2-avoided arithmetic.

    Attributes
    ----------
    name : str
        ``ams-iii-c`` or ``city-calibrated`` (or the name given to a custom profile).
    label : str
        What a reader sees.
    calibration : bool
        True when the baseline was back-solved from a reported figure, not measured.
    modes : tuple of ModeShare
        The displaced modes and their shares (sum 1).
    grid : Factor
        Grid emission factor, kg CO2e/kWh.
    td_losses : Factor
        Transmission and distribution losses, fraction of electricity delivered.
    charging_efficiency : Factor
        Battery energy / grid energy drawn by the charger, fraction.
    technology_improvement : Factor
        AMS-III.C IR_t multiplying the baseline factor.
    leakage : Factor
        kg CO2e/km.
    assumed_energy : Factor
        kWh/km used for trips without a measured SoC change.
    description : str
        The method in a few sentences.
    net_avoided : Factor or None
        Set only for a calibration: the net CO2 avoided per km is fixed to this, kg CO2e/km,
        and the gross baseline is back-solved as net + electricity + leakage (``modes`` is
        then empty).
    """

    name: str
    label: str
    calibration: bool
    modes: tuple[ModeShare, ...]
    grid: Factor
    td_losses: Factor
    charging_efficiency: Factor
    technology_improvement: Factor
    leakage: Factor
    assumed_energy: Factor
    description: str = ""
    net_avoided: Factor | None = None
    version: str = field(init=False)

    def __post_init__(self) -> None:
        if self.net_avoided is not None:
            if self.modes:
                raise ProfileError(
                    f"profile {self.name!r}: a calibrated net and a mode mix exclude each other"
                )
        elif not self.modes:
            raise ProfileError(f"profile {self.name!r} has no displaced mode")
        for mode in self.modes:
            if not 0.0 <= mode.share <= 1.0:
                raise ProfileError(
                    f"profile {self.name!r}: share of {mode.factor.name} is {mode.share}; "
                    "expected 0 to 1"
                )
            if mode.factor.value < 0:
                raise ProfileError(f"profile {self.name!r}: {mode.factor.name} is negative")
        total = sum(m.share for m in self.modes)
        if self.modes and abs(total - 1.0) > 1e-9:
            raise ProfileError(f"profile {self.name!r}: mode shares sum to {total:g}; expected 1")
        if not 0.0 < self.charging_efficiency.value <= 1.0:
            raise ProfileError(
                f"profile {self.name!r}: charging_efficiency is "
                f"{self.charging_efficiency.value}; expected in (0, 1]"
            )
        if not 0.0 <= self.td_losses.value < 1.0:
            raise ProfileError(
                f"profile {self.name!r}: td_losses is {self.td_losses.value}; expected [0, 1)"
            )
        digest = hashlib.sha256(json.dumps(self.parameters(), sort_keys=True).encode()).hexdigest()[
            :8
        ]
        object.__setattr__(self, "version", f"{self.name}/r{METHOD_REVISION}/{digest}")

    @property
    def baseline_kg_per_km(self) -> float:
        """Σ share × EF × IR: baseline emissions per project km, kg CO2e/km (0 for a
        calibration, whose baseline is back-solved from its net)."""
        ef = sum(m.share * m.factor.value for m in self.modes)
        return ef * self.technology_improvement.value

    @property
    def electricity_kg_per_kwh(self) -> float:
        """EF_grid × (1 + TDL) / η_charge: emissions per kWh taken from the battery."""
        return self.grid.value * (1.0 + self.td_losses.value) / self.charging_efficiency.value

    def trip_co2(
        self, distance_km: NDArray[np.float64], energy_kwh: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """``(baseline, electricity, avoided)`` kg per trip: :func:`per_trip` as a method, the
        interface the trip builder calls (it never imports this package)."""
        co2 = per_trip(distance_km, energy_kwh, self)
        return co2.baseline_kg, co2.electricity_kg, co2.avoided_kg

    def parameters(self) -> list[dict[str, object]]:
        """Every parameter with value, unit and source (the service and reports show them)."""
        out: list[dict[str, object]] = []
        if self.net_avoided is not None:
            out.append(self.net_avoided.as_dict())
        for mode in self.modes:
            row = mode.factor.as_dict()
            row["share"] = mode.share
            out.append(row)
        for factor in (
            self.grid,
            self.td_losses,
            self.charging_efficiency,
            self.technology_improvement,
            self.leakage,
            self.assumed_energy,
        ):
            out.append(factor.as_dict())
        return out

    def describe(self) -> dict[str, object]:
        """Name, version, label, calibration flag, derived factors and parameters."""
        return {
            "profile": self.name,
            "version": self.version,
            "label": self.label,
            "calibration": self.calibration,
            "description": self.description,
            "baseline_kg_per_km": None if self.net_avoided else self.baseline_kg_per_km,
            "net_avoided_kg_per_km": self.net_avoided.value if self.net_avoided else None,
            "electricity_kg_per_kwh": self.electricity_kg_per_kwh,
            "parameters": self.parameters(),
        }


def ams_iii_c(
    mode_mix: dict[str, float] | None = None,
    grid: Factor = F.GRID_MA_2024,
    td_losses: Factor = F.TD_LOSSES_TOOL05,
    charging_efficiency: Factor = F.CHARGING_EFFICIENCY,
    technology_improvement: Factor = F.TECHNOLOGY_IMPROVEMENT,
    name: str = "ams-iii-c",
) -> Profile:
    """The profile following UNFCCC AMS-III.C's structure, with a configurable mode mix.

    Parameters
    ----------
    mode_mix : dict of str to float, optional
        Share of project km displacing each mode of :data:`emissions.factors.MODE_FACTORS`
        (e.g. ``{"walk_or_cycle": 0.3, "petrol_scooter_125": 0.5, "car_petrol": 0.2}``);
        shares sum to 1. Default: 100 % comparable petrol 125 cc scooter, AMS-III.C's rule
        that the baseline vehicle is comparable to the project vehicle.
    grid, td_losses, charging_efficiency, technology_improvement : Factor

    Returns
    -------
    Profile

    Raises
    ------
    ProfileError
        When a mode is unknown or the shares do not sum to 1.

    Notes
    -----
    ``baseline = km × Σ_i share_i × EF_i × IR``;
    ``electricity = kWh_battery / η_charge × EF_grid × (1 + TDL)``;
    ``avoided = baseline − electricity − leakage``.
    """
    mix = mode_mix if mode_mix is not None else {"petrol_scooter_125": 1.0}
    modes = []
    for mode, share in mix.items():
        if mode not in F.MODE_FACTORS:
            raise ProfileError(
                f"mode {mode!r} has no emission factor; expected one of "
                f"{', '.join(sorted(F.MODE_FACTORS))}"
            )
        modes.append(ModeShare(F.MODE_FACTORS[mode], float(share)))
    return Profile(
        name=name,
        label="UNFCCC AMS-III.C structure (measured electricity, displaced-mode baseline)",
        calibration=False,
        modes=tuple(modes),
        grid=grid,
        td_losses=td_losses,
        charging_efficiency=charging_efficiency,
        technology_improvement=technology_improvement,
        leakage=F.LEAKAGE,
        assumed_energy=F.ASSUMED_ENERGY_KWH_PER_KM,
        description=(
            "Baseline: every project km displaces the mode mix's emissions per km. Project: "
            "the electricity drawn from the batteries (measured from the state-of-charge "
            "drop and the battery capacity), divided by the charging efficiency, times the "
            "grid emission factor and (1 + transmission and distribution losses). Leakage 0."
        ),
    )


def city_calibrated() -> Profile:
    """The profile calibrated to the city's reported 150 g CO2 avoided per km (a calibration).

    Notes
    -----
    The city's 90 t over 600,000 km is 150 g/km net. This profile fixes the net to that
    figure and back-solves the gross baseline as ``net + electricity``, with the electricity
    measured (SoC drop × capacity × 620 g/kWh, no losses, as in the city's arithmetic). At
    5.84 kWh/100 km the implied baseline is 186 g/km, about a petrol car's; a comparable
    petrol scooter (the AMS-III.C profile) gives about a third of the net. It reproduces the
    published figure; it does not confirm it.
    """
    none = Factor("td_losses", 0.0, "fraction", "calibration: the city's arithmetic has none")
    eff = Factor(
        "charging_efficiency", 1.0, "fraction", "calibration: the city's arithmetic has none"
    )
    return Profile(
        name="city-calibrated",
        label="Calibrated to the city's reported 150 g/km net (a calibration, not a measurement)",
        calibration=True,
        modes=(),
        grid=F.GRID_MA_2024,
        td_losses=none,
        charging_efficiency=eff,
        technology_improvement=F.TECHNOLOGY_IMPROVEMENT,
        leakage=F.LEAKAGE,
        assumed_energy=F.ASSUMED_ENERGY_KWH_PER_KM,
        net_avoided=F.CITY_NET_AVOIDED_KG_PER_KM,
        description=(
            "Net CO2 avoided fixed at the 150 g per km the city reports (90 t over 600,000 "
            "km); the electricity is measured from the batteries and priced at Morocco's "
            "2024 grid factor, and the gross baseline shown is back-solved as net plus "
            "electricity (about a petrol car's emissions per km). It reproduces the published "
            "figure; it is not an independent estimate."
        ),
    )


PROFILES: dict[str, Profile] = {p.name: p for p in (ams_iii_c(), city_calibrated())}
"""The shipped profiles by name."""

DEFAULT_PROFILE = "ams-iii-c"
"""The profile stored trips use unless configured otherwise (see METHODOLOGY.md)."""


def get_profile(name: str) -> Profile:
    """The shipped profile of that name.

    Raises
    ------
    UnknownProfileError
        Naming the profile and the known ones.
    """
    try:
        return PROFILES[name]
    except KeyError:
        raise UnknownProfileError(
            f"methodology profile {name!r} is unknown; expected one of {', '.join(PROFILES)}"
        ) from None


@dataclass(frozen=True)
class TripCo2:
    """Per-trip CO2, kg, shape (k,) each; ``energy_assumed`` marks trips without a
    measured energy, whose electricity used ``profile.assumed_energy``."""

    baseline_kg: NDArray[np.float64]
    electricity_kg: NDArray[np.float64]
    avoided_kg: NDArray[np.float64]
    energy_assumed: NDArray[np.bool_]


def per_trip(distance_km: ArrayLike, energy_kwh: ArrayLike, profile: Profile) -> TripCo2:
    """CO2 of each trip under ``profile``.

    Parameters
    ----------
    distance_km : array_like of float, shape (k,)
    energy_kwh : array_like of float, shape (k,)
        Battery energy used (NaN when unknown: the profile's assumed kWh/km applies).
    profile : Profile

    Returns
    -------
    TripCo2

    Notes
    -----
    ``baseline = km × baseline_kg_per_km``; ``electricity = kWh × electricity_kg_per_kwh``;
    ``avoided = baseline − electricity − km × leakage``.

    Examples
    --------
    >>> co2 = per_trip([10.0], [0.5], PROFILES["ams-iii-c"])
    >>> round(float(co2.avoided_kg[0]), 3)
    0.511
    """
    km = np.asarray(distance_km, dtype=np.float64)
    kwh = np.asarray(energy_kwh, dtype=np.float64)
    assumed = ~np.isfinite(kwh)
    kwh = np.where(assumed, km * profile.assumed_energy.value, kwh)
    elec = kwh * profile.electricity_kg_per_kwh
    leak = km * profile.leakage.value
    if profile.net_avoided is not None:
        avoided = km * profile.net_avoided.value
        return TripCo2(avoided + elec + leak, elec, avoided, assumed)
    base = km * profile.baseline_kg_per_km
    return TripCo2(base, elec, base - elec - leak, assumed)


@dataclass(frozen=True)
class Breakdown:
    """Gross baseline, electricity and net avoided for summed km and kWh, with the profile."""

    profile: str
    version: str
    label: str
    calibration: bool
    distance_km: float
    energy_kwh: float
    assumed_energy_kwh: float
    co2_baseline_kg: float
    co2_electricity_kg: float
    co2_leakage_kg: float
    co2_avoided_kg: float
    avoided_g_per_km: float | None
    parameters: list[dict[str, object]]

    def as_dict(self) -> dict[str, object]:
        """JSON-ready."""
        return dict(self.__dict__)


def breakdown(
    distance_km: float,
    energy_kwh: float,
    profile: Profile | str,
    unmeasured_km: float = 0.0,
) -> Breakdown:
    """CO2 figures for summed kilometres and kilowatt-hours under any profile.

    Parameters
    ----------
    distance_km : float
        Total km of the trips.
    energy_kwh : float
        Total measured battery energy, kWh, of the trips that have one.
    profile : Profile or str
        A profile or the name of a shipped one.
    unmeasured_km : float, default 0
        The km of trips without a measured energy (their kWh are assumed).

    Returns
    -------
    Breakdown

    Notes
    -----
    Exact, not an approximation: every term is linear in km and kWh, so the sum over trips of
    :func:`per_trip` equals this applied to the sums.

    Examples
    --------
    >>> b = breakdown(600_000.0, 600_000.0 * 0.0584, "city-calibrated")
    >>> round(b.co2_avoided_kg / 1000, 1), round(b.avoided_g_per_km)
    (90.0, 150)
    """
    prof = get_profile(profile) if isinstance(profile, str) else profile
    sums = breakdowns([distance_km], [energy_kwh], prof, [unmeasured_km])
    km, avoided = float(distance_km), float(sums.avoided_kg[0])
    return Breakdown(
        profile=prof.name,
        version=prof.version,
        label=prof.label,
        calibration=prof.calibration,
        distance_km=km,
        energy_kwh=float(energy_kwh),
        assumed_energy_kwh=float(sums.assumed_energy_kwh[0]),
        co2_baseline_kg=float(sums.baseline_kg[0]),
        co2_electricity_kg=float(sums.electricity_kg[0]),
        co2_leakage_kg=float(sums.leakage_kg[0]),
        co2_avoided_kg=avoided,
        avoided_g_per_km=avoided * 1000.0 / km if km > 0 else None,
        parameters=prof.parameters(),
    )


@dataclass(frozen=True)
class Co2Sums:
    """CO2 of sums of trips, kg, shape (k,) each (:func:`breakdowns`); ``assumed_energy_kwh``
    is the electricity assumed for the kilometres without a measured energy."""

    assumed_energy_kwh: NDArray[np.float64]
    baseline_kg: NDArray[np.float64]
    electricity_kg: NDArray[np.float64]
    leakage_kg: NDArray[np.float64]
    avoided_kg: NDArray[np.float64]


def breakdowns(
    distance_km: ArrayLike,
    energy_kwh: ArrayLike,
    profile: Profile,
    unmeasured_km: ArrayLike = 0.0,
) -> Co2Sums:
    """:func:`breakdown`'s CO2 figures for many sums of trips at once (a report's groups).

    Parameters
    ----------
    distance_km : array_like of float, shape (k,)
        Total km of each sum's trips.
    energy_kwh : array_like of float, shape (k,)
        Total measured battery energy, kWh, of each sum's trips that have one.
    profile : Profile
    unmeasured_km : array_like of float, shape (k,) or scalar, default 0
        The km of each sum's trips without a measured energy (their kWh are assumed).

    Returns
    -------
    Co2Sums

    Notes
    -----
    ``electricity = (kWh + unmeasured km × assumed kWh/km) × electricity_kg_per_kwh``;
    ``leakage = km × leakage``; ``baseline = km × baseline_kg_per_km`` and
    ``avoided = baseline − electricity − leakage``, or for a calibration profile
    ``avoided = km × net_avoided`` and ``baseline = avoided + electricity + leakage``.

    Examples
    --------
    >>> sums = breakdowns([600_000.0, 0.0], [35_040.0, 0.0], PROFILES["city-calibrated"])
    >>> [round(float(kg) / 1000, 1) for kg in sums.avoided_kg]
    [90.0, 0.0]
    """
    km = np.asarray(distance_km, dtype=np.float64)
    assumed = np.asarray(unmeasured_km, dtype=np.float64) * profile.assumed_energy.value
    elec = (np.asarray(energy_kwh, dtype=np.float64) + assumed) * profile.electricity_kg_per_kwh
    leak = km * profile.leakage.value
    if profile.net_avoided is not None:
        avoided = km * profile.net_avoided.value
        base = avoided + elec + leak
    else:
        base = km * profile.baseline_kg_per_km
        avoided = base - elec - leak
    return Co2Sums(np.broadcast_to(assumed, km.shape), base, elec, leak, avoided)
