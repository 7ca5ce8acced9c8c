"""CO2-avoided methodology: factors with their sources, per-trip CO2 and totals of any sums.

The public surface: :data:`PROFILES` (``"ams-iii-c"``, ``"city-calibrated"``),
:data:`DEFAULT_PROFILE`, :func:`get_profile`, :func:`breakdown` (any profile, from summed km
and kWh; :func:`breakdowns` for many sums at once), :func:`per_trip`, :func:`ams_iii_c` (a
configured mode mix), :class:`Profile`, :class:`Breakdown`, :class:`Co2Sums`, :class:`Factor`
and the errors.
"""

from emissions.errors import EmissionsError, ProfileError, UnknownProfileError
from emissions.factors import FACTORS, MODE_FACTORS, Factor
from emissions.methodology import (
    DEFAULT_PROFILE,
    PROFILES,
    Breakdown,
    Co2Sums,
    Profile,
    TripCo2,
    ams_iii_c,
    breakdown,
    breakdowns,
    city_calibrated,
    get_profile,
    per_trip,
)

__all__ = [
    "DEFAULT_PROFILE",
    "FACTORS",
    "MODE_FACTORS",
    "PROFILES",
    "Breakdown",
    "Co2Sums",
    "EmissionsError",
    "Factor",
    "Profile",
    "ProfileError",
    "TripCo2",
    "UnknownProfileError",
    "ams_iii_c",
    "breakdown",
    "breakdowns",
    "city_calibrated",
    "get_profile",
    "per_trip",
]
