"""Every emission factor and parameter the methodology uses, with its value, unit and source.

The figures come from ``EMISSIONS-DATA.md`` (the project's record of public sources). A figure
marked ``verify`` must be checked against the methodology document itself before it goes
into a figure published by the city.

References
----------
.. [1] UNFCCC CDM, AMS-III.C "Emission reductions by electric and hybrid vehicles",
   version 16.0, valid from 8 September 2022.
.. [2] UNFCCC CDM, TOOL05 "Baseline, project and/or leakage emissions from electricity
   consumption and monitoring of electricity generation".
.. [3] Electricity Maps, yearly averages, zone MA (electricitymaps-contrib).
.. [4] UK Government GHG Conversion Factors for Company Reporting 2024 (DESNZ).
.. [5] Silence S01 manufacturer figures (energy use; comparable petrol 125 cc scooter).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ASSUMED_ENERGY_KWH_PER_KM",
    "CAR_DIESEL_AVERAGE",
    "CAR_PETROL_AVERAGE",
    "CAR_PETROL_SMALL",
    "CHARGING_EFFICIENCY",
    "CITY_NET_AVOIDED_KG_PER_KM",
    "FACTORS",
    "GRID_MA_2022",
    "GRID_MA_2023",
    "GRID_MA_2024",
    "GRID_MA_DIRECT_2022",
    "LEAKAGE",
    "MODE_FACTORS",
    "MOTORBIKE_AVERAGE",
    "MOTORBIKE_LARGE",
    "MOTORBIKE_MEDIUM",
    "MOTORBIKE_SMALL",
    "PETROL_SCOOTER_125",
    "TD_LOSSES_TOOL05",
    "TECHNOLOGY_IMPROVEMENT",
    "WALK_OR_CYCLE",
    "Factor",
]


@dataclass(frozen=True)
class Factor:
    """One parameter: its value, unit and where it comes from.

    Attributes
    ----------
    name : str
        Short identifier (``grid_ef``, ``mode:car_petrol``...).
    value : float
    unit : str
        E.g. ``kg CO2e/km``, ``kg CO2e/kWh``, ``fraction``.
    source : str
        The public source, or ``assumption``/``calibration`` with the reasoning.
    note : str
        Caveats (``verify`` when the value must be checked against the methodology text).
    """

    name: str
    value: float
    unit: str
    source: str
    note: str = ""

    def as_dict(self) -> dict[str, object]:
        """The factor as a JSON-ready mapping."""
        return {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "source": self.source,
            "note": self.note,
        }


_EMAPS = "Electricity Maps yearly average, zone MA (electricitymaps-contrib)"
_UK24 = "UK Government GHG Conversion Factors 2024 (DESNZ), passenger vehicles"

GRID_MA_2022 = Factor("grid_ef", 0.611, "kg CO2e/kWh", _EMAPS + ", 2022, lifecycle")
GRID_MA_2023 = Factor("grid_ef", 0.628, "kg CO2e/kWh", _EMAPS + ", 2023, lifecycle")
GRID_MA_2024 = Factor("grid_ef", 0.620, "kg CO2e/kWh", _EMAPS + ", 2024, lifecycle")
GRID_MA_DIRECT_2022 = Factor(
    "grid_ef", 0.554, "kg CO2/kWh", _EMAPS + ", 2022, direct combustion only"
)

WALK_OR_CYCLE = Factor("mode:walk_or_cycle", 0.0, "kg CO2e/km", "by definition (no fuel)")
PETROL_SCOOTER_125 = Factor(
    "mode:petrol_scooter_125",
    0.0924,
    "kg CO2e/km",
    "Silence S01 page: comparable petrol 125 cc scooter uses 4 L/100 km; x 2.31 kg CO2/L",
    "arithmetic: 0.04 L/km x 2.31 kg/L; tailpipe CO2 only",
)
MOTORBIKE_SMALL = Factor("mode:motorbike_small", 0.083, "kg CO2e/km", _UK24 + ", small")
MOTORBIKE_MEDIUM = Factor("mode:motorbike_medium", 0.101, "kg CO2e/km", _UK24 + ", medium")
MOTORBIKE_LARGE = Factor("mode:motorbike_large", 0.133, "kg CO2e/km", _UK24 + ", large")
MOTORBIKE_AVERAGE = Factor("mode:motorbike_average", 0.114, "kg CO2e/km", _UK24 + ", average")
CAR_PETROL_AVERAGE = Factor("mode:car_petrol", 0.163, "kg CO2e/km", _UK24 + ", petrol average")
CAR_PETROL_SMALL = Factor("mode:car_petrol_small", 0.143, "kg CO2e/km", _UK24 + ", petrol small")
CAR_DIESEL_AVERAGE = Factor("mode:car_diesel", 0.173, "kg CO2e/km", _UK24 + ", diesel average")

MODE_FACTORS: dict[str, Factor] = {
    f.name.removeprefix("mode:"): f
    for f in (
        WALK_OR_CYCLE,
        PETROL_SCOOTER_125,
        MOTORBIKE_SMALL,
        MOTORBIKE_MEDIUM,
        MOTORBIKE_LARGE,
        MOTORBIKE_AVERAGE,
        CAR_PETROL_AVERAGE,
        CAR_PETROL_SMALL,
        CAR_DIESEL_AVERAGE,
    )
}
"""Baseline emission factors per vehicle-km of the modes a trip may displace, by mode name."""

ASSUMED_ENERGY_KWH_PER_KM = Factor(
    "assumed_energy",
    0.0584,
    "kWh/km",
    "Silence S01 manufacturer figure, 5.84 kWh/100 km (125 cc-equivalent e-scooter)",
    "used only for trips without a measured SoC change",
)

TD_LOSSES_TOOL05 = Factor(
    "td_losses",
    0.20,
    "fraction",
    "UNFCCC TOOL05 conservative default for project electricity consumption, as "
    "referenced by AMS-III.C when no grid-specific data are available",
    "the default where no grid-specific transmission and distribution losses are published",
)
CHARGING_EFFICIENCY = Factor(
    "charging_efficiency",
    0.90,
    "fraction",
    "assumption: wall-to-battery efficiency of a light-EV charger and Li-ion pack (85-95 %)",
    "battery energy (from SoC) / grid energy; replace with metered charger data when known",
)
TECHNOLOGY_IMPROVEMENT = Factor(
    "technology_improvement",
    1.0,
    "factor",
    "AMS-III.C technology improvement factor IR_t for the baseline vehicle (applied as given)",
    "1.0 applies no improvement; set IR^t for year t of the crediting period",
)
LEAKAGE = Factor(
    "leakage",
    0.0,
    "kg CO2e/km",
    "AMS-III.C: leakage (fate of displaced vehicles, double counting) commonly taken as 0",
)

CITY_NET_AVOIDED_KG_PER_KM = Factor(
    "city_net_avoided",
    0.150,
    "kg CO2e/km",
    "Benguerir's reported POGO figures: 90 t CO2 avoided over 600,000 km in two years",
    "calibration target, not a measured factor",
)

FACTORS: dict[str, Factor] = {
    "grid_ma_2022": GRID_MA_2022,
    "grid_ma_2023": GRID_MA_2023,
    "grid_ma_2024": GRID_MA_2024,
    "grid_ma_direct_2022": GRID_MA_DIRECT_2022,
    "assumed_energy": ASSUMED_ENERGY_KWH_PER_KM,
    "td_losses": TD_LOSSES_TOOL05,
    "charging_efficiency": CHARGING_EFFICIENCY,
    "technology_improvement": TECHNOLOGY_IMPROVEMENT,
    "leakage": LEAKAGE,
    "city_net_avoided": CITY_NET_AVOIDED_KG_PER_KM,
    **{f"mode_{name}": f for name, f in MODE_FACTORS.items()},
}
"""Every factor of this module by key."""
