"""The emissions methodology the service reports: which profile, which parameters, in words.

Until the ``emissions`` package exposes its profiles, the service reports the per-trip figures
the trip builder stored (profile ``stored``): gross baseline, electricity and net CO2 summed
over the window, with the methodology versions found on the trips.
"""

from __future__ import annotations

from typing import Any

from city.errors import BadParameterError

__all__ = ["STORED", "describe", "explain", "profile_names", "totals"]

STORED = "stored"

_STORED_TEXT = (
    "CO2 avoided is what the trips' displaced modes of transport would have emitted (the "
    "baseline) minus what the electricity the motorcycles used emitted. The trip builder "
    "computes both for every trip when it builds it, with the methodology version stored on "
    "the trip; these figures are their sums over the window."
)


def profile_names() -> list[str]:
    """The profiles a request may name."""
    return [STORED]


def check_profile(name: str | None) -> str:
    """The profile to apply, or :class:`BadParameterError` naming ``profile``."""
    if name is None:
        return STORED
    names = profile_names()
    if name not in names:
        raise BadParameterError("profile", name, f"one of {', '.join(names)}")
    return name


def describe(profile: str, stored: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``methodology`` object of a report: profile, label, parameters, explanation."""
    return {
        "profile": profile,
        "label": "Per-trip figures stored by the trip builder",
        "calibration": False,
        "parameters": [],
        "stored_methodologies": {r["methodology"] or "unknown": int(r["trips"]) for r in stored},
        "explanation": _STORED_TEXT,
    }


def explain(profile: str) -> str:
    """The methodology in plain words, for the report page."""
    return _STORED_TEXT


def totals(profile: str, figures: dict[str, Any]) -> dict[str, Any]:
    """Gross baseline, electricity and net CO2 for summed figures under ``profile``."""
    km = float(figures["distance_km"])
    avoided = float(figures["co2_avoided_kg"])
    return {
        "trips": int(figures["trips"]),
        "distance_km": km,
        "energy_kwh": float(figures["energy_kwh"]),
        "co2_baseline_kg": float(figures["co2_baseline_kg"]),
        "co2_electricity_kg": float(figures["co2_electricity_kg"]),
        "co2_avoided_kg": avoided,
        "avoided_g_per_km": avoided * 1000 / km if km > 0 else None,
    }
