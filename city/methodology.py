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

from typing import Any

import emissions
from city.errors import BadParameterError

__all__ = [
    "STORED",
    "check_profile",
    "default_profile",
    "describe",
    "profile_names",
    "totals",
    "totals_of_rows",
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


def _parameters(profile: emissions.Profile) -> list[dict[str, Any]]:
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
        "parameters": _parameters(prof),
        "stored_methodologies": versions,
        "explanation": f"{_COMMON_TEXT} {prof.description}".strip(),
    }


def explain(profile: str) -> str:
    """The methodology in plain words, for the report page."""
    if profile == STORED:
        return _STORED_TEXT
    return f"{_COMMON_TEXT} {emissions.get_profile(profile).description}".strip()


def totals(profile: str, figures: dict[str, Any]) -> dict[str, Any]:
    """Gross baseline, electricity and net CO2 for a row of summed figures under ``profile``."""
    return totals_of_rows(profile, [figures])[0]


def totals_of_rows(profile: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """:func:`totals` of every row, computed together (a report's groups: one
    :func:`emissions.breakdowns` for all of them)."""
    km = [float(r["distance_km"]) for r in rows]
    kwh = [float(r["energy_kwh"]) for r in rows]
    if profile == STORED:
        baseline = [float(r["co2_baseline_kg"]) for r in rows]
        electricity = [float(r["co2_electricity_kg"]) for r in rows]
        avoided = [float(r["co2_avoided_kg"]) for r in rows]
    else:
        sums = emissions.breakdowns(
            km,
            kwh,
            emissions.get_profile(profile),
            unmeasured_km=[float(r["distance_km_without_energy"]) for r in rows],
        )
        baseline = sums.baseline_kg.tolist()
        electricity = sums.electricity_kg.tolist()
        avoided = sums.avoided_kg.tolist()
    return [
        {
            "trips": int(r["trips"]),
            "distance_km": km[i],
            "energy_kwh": kwh[i],
            "co2_baseline_kg": baseline[i],
            "co2_electricity_kg": electricity[i],
            "co2_avoided_kg": avoided[i],
            "avoided_g_per_km": avoided[i] * 1000 / km[i] if km[i] > 0 else None,
        }
        for i, r in enumerate(rows)
    ]
