"""Every factor carries a value, a unit and a source."""

from __future__ import annotations

import math

from emissions.factors import FACTORS, GRID_MA_2024, MODE_FACTORS, PETROL_SCOOTER_125


def test_every_factor_has_value_unit_and_source() -> None:
    """No factor lacks a finite value, a unit or a source."""
    for key, factor in FACTORS.items():
        assert math.isfinite(factor.value), key
        assert factor.unit, key
        assert len(factor.source) > 10, key


def test_factors_match_the_emissions_data_record() -> None:
    """The grid factor and the petrol scooter's are the figures of EMISSIONS-DATA.md
    (620 g/kWh in 2024; 4 L/100 km x 2.31 kg/L)."""
    assert GRID_MA_2024.value == 0.620
    assert PETROL_SCOOTER_125.value == round(0.04 * 2.31, 4)
    assert MODE_FACTORS["car_petrol"].value == 0.163
    assert MODE_FACTORS["motorbike_average"].value == 0.114
