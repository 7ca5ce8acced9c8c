"""The emissions methodology the service reports: which profile, which parameters, in words.

Two kinds of profile:

``stored``
    The per-trip figures the trip builder stored (``co2_baseline_kg``, ``co2_electricity_kg``,
    ``co2_avoided_kg``), summed over the window, with the methodology versions found on them.
any profile of :data:`emissions.PROFILES` (``ams-iii-c``, ``city-calibrated``)
    Computed from the window's summed kilometres and measured kilowatt-hours with
    :func:`emissions.breakdown` (exact: CO2 is linear in km and kWh); trips without a measured
    energy get the profile's assumed consumption.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

import emissions
from city.errors import BadParameterError

__all__ = [
    "STORED",
    "check_profile",
    "default_profile",
    "describe",
    "profile_names",
    "totals",
    "totals_of_columns",
]

STORED = "stored"

_STORED_TEXT = (
    "CO2 avoided is what the trips' displaced modes of transport would have emitted (the "
    "baseline) minus what the electricity the motorcycles used emitted. The trip builder "
    "computes both for every trip when it builds it, with the methodology version stored on "
    "the trip; these figures are their sums over the window."
)

_COMMON_TEXT = (
    "CO2 avoided is what the trips' displaced modes of transport would have emitted (the "
    "baseline, gross) minus the emissions of the electricity the motorcycles used, counting "
    "grid losses and charging losses. Kilometres come from the GPS tracks; electricity from "
    "each trip's measured battery use, or from an assumed consumption where a trip has none."
)


def profile_names() -> list[str]:
    """The profiles a request may name."""
    return [*emissions.PROFILES, STORED]


def default_profile(configured: str | None) -> str:
    """The profile used when a request names none."""
    return configured or emissions.DEFAULT_PROFILE


def check_profile(name: str) -> str:
    """``name`` when it is a profile, or :class:`BadParameterError` naming ``profile``."""
    names = profile_names()
    if name not in names:
        raise BadParameterError("profile", name, f"one of {', '.join(names)}")
    return name


@functools.cache
def _parameters(name: str) -> list[dict[str, Any]]:
    """The parameters of the shipped profile ``name`` (made once; shared by every answer,
    which reads and never changes them)."""
    profile = emissions.get_profile(name)
    rows = []
    for p in profile.parameters():
        share = p.get("share")
        rows.append(
            {
                "name": str(p["name"]),
                "value": float(p["value"]),  # type: ignore[arg-type]
                "unit": str(p["unit"]),
                "source": str(p["source"]),
                "note": str(p.get("note") or ""),
                "share": None if share is None else float(share),  # type: ignore[arg-type]
            }
        )
    return rows


def describe(profile: str, stored: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``methodology`` object of a report: profile, label, parameters, explanation."""
    versions = {r["methodology"] or "unknown": int(r["trips"]) for r in stored}
    if profile == STORED:
        return {
            "profile": STORED,
            "version": None,
            "label": "Per-trip figures stored by the trip builder",
            "calibration": False,
            "parameters": [],
            "stored_methodologies": versions,
            "explanation": _STORED_TEXT,
        }
    prof = emissions.get_profile(profile)
    return {
        "profile": prof.name,
        "version": prof.version,
        "label": prof.label,
        "calibration": prof.calibration,
        "parameters": _parameters(profile),
        "stored_methodologies": versions,
        "explanation": f"{_COMMON_TEXT} {prof.description}".strip(),
    }


def explain(profile: str) -> str:
    """The methodology in plain words, for the report page."""
    if profile == STORED:
        return _STORED_TEXT
    return f"{_COMMON_TEXT} {emissions.get_profile(profile).description}".strip()


def totals(profile: str, figures: dict[str, Any]) -> dict[str, Any]:
    """Gross baseline, electricity and net CO2 for a row of summed figures under ``profile``
    (:func:`totals_of_columns` of one row)."""
    columns = totals_of_columns(profile, {k: np.array([v]) for k, v in figures.items()})
    return {k: values[0] for k, values in columns.items()}


def totals_of_columns(profile: str, columns: Mapping[str, NDArray[Any]]) -> dict[str, list[Any]]:
    """:func:`totals` of many rows of summed figures at once, in columns (a report's groups:
    one :func:`emissions.breakdowns` for all of them).

    Parameters
    ----------
    profile : str
        A name of :func:`profile_names`.
    columns : mapping of str to ndarray, shape (k,) each
        ``trips``, ``distance_km``, ``energy_kwh`` and ``distance_km_without_energy`` (km,
        kWh), and for :data:`STORED` the stored ``co2_baseline_kg``, ``co2_electricity_kg``
        and ``co2_avoided_kg``.

    Returns
    -------
    dict of str to list, length k each
        The fields of :class:`city.schemas.EmissionsTotals`: ``trips`` (int),
        ``distance_km``, ``energy_kwh``, ``co2_baseline_kg``, ``co2_electricity_kg`` and
        ``co2_avoided_kg`` (float), and ``avoided_g_per_km`` (None for a row without
        kilometres).
    """
    km = np.asarray(columns["distance_km"], dtype=np.float64)
    if profile == STORED:
        baseline, electricity, avoided = (
            np.asarray(columns[k], dtype=np.float64)
            for k in ("co2_baseline_kg", "co2_electricity_kg", "co2_avoided_kg")
        )
    else:
        sums = emissions.breakdowns(
            km,
            columns["energy_kwh"],
            emissions.get_profile(profile),
            unmeasured_km=columns["distance_km_without_energy"],
        )
        baseline, electricity, avoided = sums.baseline_kg, sums.electricity_kg, sums.avoided_kg
    with np.errstate(divide="ignore", invalid="ignore"):
        per_km = np.where(km > 0, avoided * 1000 / km, np.nan).tolist()
    return {
        "trips": np.asarray(columns["trips"], dtype=np.int64).tolist(),
        "distance_km": km.tolist(),
        "energy_kwh": np.asarray(columns["energy_kwh"], dtype=np.float64).tolist(),
        "co2_baseline_kg": baseline.tolist(),
        "co2_electricity_kg": electricity.tolist(),
        "co2_avoided_kg": avoided.tolist(),
        "avoided_g_per_km": [None if math.isnan(g) else g for g in per_km],
    }
