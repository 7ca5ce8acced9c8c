"""The MDS monthly report (``/reports/YYYY-MM.csv``) and its energy and CO2 companion.

MDS 2.0.2 (``data-types.md``, Reports): one row per special group type, geography and vehicle
type; trips counted in the month (of the agency's local time zone) in which they start; every
count below 10, zero included, reported as -1 (k-anonymity, k = 10). The service has no MDS
``/geography``, so ``geography_id`` is empty (CSV's null) and the counts cover the whole
operating area. ``low_income`` and ``adaptive_scooter`` have no trips here (no discount plans,
no adaptive vehicles): their counts are 0, reported as -1 like every small count.

The companion (``/reports/YYYY-MM-energy.csv``) is ours: per methodology version, the trips,
kilometres, measured battery energy and CO2 (baseline, electricity, avoided) of the same
month; a row of fewer than 10 trips shows -1 trips and no figures.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from interop.mds import VEHICLE_TYPE
from interop.periods import Period

__all__ = ["COLUMNS", "ENERGY_COLUMNS", "K_ANONYMITY", "energy_csv", "redacted", "report_csv"]

K_ANONYMITY = 10
COLUMNS = (
    "provider_id",
    "start_date",
    "duration",
    "special_group_type",
    "geography_id",
    "vehicle_type",
    "trip_count",
    "rider_count",
)
ENERGY_COLUMNS = (
    "provider_id",
    "start_date",
    "duration",
    "vehicle_type",
    "methodology",
    "trip_count",
    "distance_km",
    "energy_kwh",
    "trips_without_energy",
    "co2_baseline_kg",
    "co2_electricity_kg",
    "co2_avoided_kg",
)
_GROUPS = ("all_riders", "low_income", "adaptive_scooter")


def redacted(count: int) -> int:
    """A count as MDS publishes it: -1 below :data:`K_ANONYMITY` (0 included).

    >>> redacted(9), redacted(0), redacted(10)
    (-1, -1, 10)
    """
    return count if count >= K_ANONYMITY else -1


def _csv(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue()


def report_csv(provider: str, month: Period, trips: int, riders: int) -> str:
    """The month's report: one row per special group type."""
    counts = {"all_riders": (trips, riders)}
    rows = [
        (
            provider,
            month.first_day.isoformat(),
            "P1M",
            group,
            "",
            VEHICLE_TYPE,
            redacted(counts.get(group, (0, 0))[0]),
            redacted(counts.get(group, (0, 0))[1]),
        )
        for group in _GROUPS
    ]
    return _csv(COLUMNS, rows)


def energy_csv(provider: str, month: Period, rows: Sequence[dict[str, Any]]) -> str:
    """The month's energy and CO2, one row per methodology version found on its trips."""
    out = []
    for row in rows:
        trips = int(row["trips"])
        shown = trips >= K_ANONYMITY
        figures = [
            round(float(row["distance_km"]), 3),
            round(float(row["energy_kwh"]), 3),
            int(row["trips_without_energy"]),
            round(float(row["co2_baseline_kg"]), 3),
            round(float(row["co2_electricity_kg"]), 3),
            round(float(row["co2_avoided_kg"]), 3),
        ]
        out.append(
            (
                provider,
                month.first_day.isoformat(),
                "P1M",
                VEHICLE_TYPE,
                row["methodology"],
                redacted(trips),
                *(figures if shown else [""] * len(figures)),
            )
        )
    return _csv(ENERGY_COLUMNS, out)
