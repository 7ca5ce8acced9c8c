"""The two profiles, per-trip CO2, breakdowns from sums and period totals."""

from __future__ import annotations

import numpy as np
import pytest

from emissions import (
    DEFAULT_PROFILE,
    PROFILES,
    ProfileError,
    UnknownProfileError,
    ams_iii_c,
    breakdown,
    get_profile,
    per_trip,
)


def test_calibrated_profile_reproduces_the_city_figure_and_says_so() -> None:
    """600,000 km give 90 t avoided (150 g/km) under the calibrated profile whatever the
    measured energy; the gross baseline is back-solved as net + electricity (186 g/km at
    5.84 kWh/100 km), and the profile is labelled as a calibration."""
    for kwh_per_km in (0.0469, 0.0584):
        b = breakdown(600_000.0, 600_000.0 * kwh_per_km, "city-calibrated")
        assert b.co2_avoided_kg == pytest.approx(90_000.0, rel=1e-9)
        assert b.avoided_g_per_km == pytest.approx(150.0, rel=1e-9)
        assert b.co2_electricity_kg == pytest.approx(600_000.0 * kwh_per_km * 0.620)
        assert b.co2_baseline_kg - b.co2_electricity_kg == pytest.approx(b.co2_avoided_kg)
    assert b.co2_baseline_kg / 600_000.0 == pytest.approx(0.1862, abs=1e-4)
    assert b.calibration is True
    assert "calibration" in b.label.lower()


def test_ams_iii_c_follows_its_formula() -> None:
    """AMS-III.C: baseline = km x EF_scooter; project = kWh / eta x EF_grid x (1 + TDL)."""
    p = PROFILES["ams-iii-c"]
    b = breakdown(100.0, 6.0, p)
    assert b.co2_baseline_kg == pytest.approx(100 * 0.0924)
    assert b.co2_electricity_kg == pytest.approx(6.0 / 0.90 * 0.620 * 1.20)
    assert b.co2_avoided_kg == pytest.approx(9.24 - 6.0 / 0.9 * 0.62 * 1.2)
    assert b.calibration is False


def test_mode_mix_is_configurable() -> None:
    """A mix of walking, scooters and cars weights their factors by share."""
    p = ams_iii_c({"walk_or_cycle": 0.3, "petrol_scooter_125": 0.5, "car_petrol": 0.2})
    assert p.baseline_kg_per_km == pytest.approx(0.5 * 0.0924 + 0.2 * 0.163)
    assert p.version != PROFILES["ams-iii-c"].version
    with pytest.raises(ProfileError, match="sum to"):
        ams_iii_c({"car_petrol": 0.5})
    with pytest.raises(ProfileError, match="no emission factor"):
        ams_iii_c({"rickshaw": 1.0})


def test_per_trip_sums_equal_the_breakdown_of_sums() -> None:
    """CO2 is linear: summing per-trip figures equals the breakdown of summed km and kWh,
    for every profile, with unmeasured trips using the assumed energy."""
    rng = np.random.default_rng(3)
    km = rng.uniform(0.5, 12, 500)
    kwh = km * rng.uniform(0.04, 0.08, 500)
    kwh[::7] = np.nan
    for profile in PROFILES.values():
        co2 = per_trip(km, kwh, profile)
        b = breakdown(km.sum(), np.nansum(kwh), profile, unmeasured_km=km[np.isnan(kwh)].sum())
        assert co2.avoided_kg.sum() == pytest.approx(b.co2_avoided_kg, rel=1e-9)
        assert co2.baseline_kg.sum() == pytest.approx(b.co2_baseline_kg, rel=1e-9)
        assert co2.electricity_kg.sum() == pytest.approx(b.co2_electricity_kg, rel=1e-9)
        assert co2.energy_assumed.sum() == np.isnan(kwh).sum()


def test_every_profile_lists_parameters_with_units_and_sources() -> None:
    """The service shows each profile's parameters: each has a value, a unit and a source."""
    for profile in PROFILES.values():
        params = profile.parameters()
        assert len(params) >= 7
        for row in params:
            assert row["unit"] and row["source"], row


def test_default_profile_and_unknown_names() -> None:
    """The default stored profile is AMS-III.C; an unknown name raises naming the choices."""
    assert DEFAULT_PROFILE == "ams-iii-c"
    with pytest.raises(UnknownProfileError, match="city-calibrated"):
        get_profile("nope")
