"""interop/reports.py: the MDS monthly CSV (k-anonymity) and its energy companion."""

from __future__ import annotations

import csv
import io
from zoneinfo import ZoneInfo

from interop.periods import parse_month
from interop.reports import COLUMNS, ENERGY_COLUMNS, energy_csv, redacted, report_csv

PROVIDER = "3c9604d6-b5ee-11e8-96f8-529269fb1459"
MONTH = parse_month("filename", "2025-03", ZoneInfo("UTC"))


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_counts_below_ten_are_minus_one() -> None:
    """0 to 9 become -1, 10 and more stay."""
    assert [redacted(n) for n in (0, 1, 9, 10, 11)] == [-1, -1, -1, 10, 11]


def test_the_report_has_the_eight_columns_and_every_group() -> None:
    """The header is the spec's eight columns; all_riders carries the counts, low_income and
    adaptive_scooter (none here) -1; start_date is the month's first day, duration P1M."""
    text = report_csv(PROVIDER, MONTH, trips=130, riders=9)
    assert text.splitlines()[0] == ",".join(COLUMNS)
    got = rows(text)
    assert [r["special_group_type"] for r in got] == [
        "all_riders",
        "low_income",
        "adaptive_scooter",
    ]
    assert (got[0]["trip_count"], got[0]["rider_count"]) == ("130", "-1")
    assert {(r["trip_count"], r["rider_count"]) for r in got[1:]} == {("-1", "-1")}
    assert {(r["start_date"], r["duration"], r["vehicle_type"]) for r in got} == {
        ("2025-03-01", "P1M", "moped")
    }


def test_the_energy_companion_hides_small_rows() -> None:
    """A methodology row of 10+ trips shows its figures; one of fewer, -1 and blanks."""
    figures = {
        "distance_km": 46.0,
        "energy_kwh": 2.7,
        "trips_without_energy": 1,
        "co2_baseline_kg": 8.6,
        "co2_electricity_kg": 1.7,
        "co2_avoided_kg": 6.9,
    }
    text = energy_csv(
        PROVIDER,
        MONTH,
        [{"methodology": "a", "trips": 10, **figures}, {"methodology": "b", "trips": 3, **figures}],
    )
    assert text.splitlines()[0] == ",".join(ENERGY_COLUMNS)
    big, small = rows(text)
    assert big["trip_count"] == "10" and float(big["co2_avoided_kg"]) == 6.9
    assert small["trip_count"] == "-1" and small["energy_kwh"] == small["co2_avoided_kg"] == ""
