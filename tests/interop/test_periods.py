"""interop/periods.py: UTC hours, local months and the MDS version in Accept."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from interop.errors import BadPeriodError, NotAcceptableError
from interop.periods import accepted_version, parse_hour, parse_month

MEDIA = "application/vnd.mds+json"


def test_an_hour_is_one_utc_hour() -> None:
    """2024-11-30T23 is [23:00, 00:00) UTC (November: the pinned pattern's blind spot)."""
    hour = parse_hour("end_time", "2024-11-30T23")
    assert hour.start == datetime(2024, 11, 30, 23, tzinfo=UTC)
    assert hour.end == datetime(2024, 12, 1, 0, tzinfo=UTC)
    assert hour.end_ms - hour.start_ms == 3_600_000


@pytest.mark.parametrize("raw", [None, "", "2024-11-30", "2024-11-30T24", "2024-02-30T01", "x"])
def test_a_bad_hour_names_its_parameter(raw: str | None) -> None:
    """Missing, malformed or impossible hours raise BadPeriodError naming the parameter."""
    with pytest.raises(BadPeriodError) as caught:
        parse_hour("event_time", raw)
    assert caught.value.parameter == "event_time"
    assert "event_time" in str(caught.value)


def test_a_month_starts_at_local_midnight() -> None:
    """A month of Africa/Casablanca (UTC+1 in January 2026) starts at 23:00 UTC the day
    before, and ends at the next month's local midnight."""
    month = parse_month("filename", "2026-01", ZoneInfo("Africa/Casablanca"))
    assert month.start == datetime(2025, 12, 31, 23, tzinfo=UTC)
    assert month.end == datetime(2026, 1, 31, 23, tzinfo=UTC)
    assert month.first_day.isoformat() == "2026-01-01"
    december = parse_month("filename", "2025-12", ZoneInfo("UTC"))
    assert december.end == datetime(2026, 1, 1, tzinfo=UTC)
    for bad in ("2026-13", "2026-1", "1969-12"):
        with pytest.raises(BadPeriodError):
            parse_month("filename", bad, ZoneInfo("UTC"))


@pytest.mark.parametrize(
    "accept",
    [
        None,
        "",
        f"{MEDIA};version=2.0",
        f'{MEDIA}; version="2.0"',
        f"{MEDIA};version=1.2, {MEDIA};version=2.0",
        "*/*",
        "application/*",
        "application/json",
    ],
)
def test_acceptable(accept: str | None) -> None:
    """MDS 2.0 named, no header, or a wildcard / plain JSON that admits it: served."""
    accepted_version(accept, MEDIA, "2.0")


@pytest.mark.parametrize(
    "accept", [f"{MEDIA};version=1.2", f"{MEDIA};version=2.0.2", MEDIA, "text/html", "text/*"]
)
def test_not_acceptable(accept: str) -> None:
    """Another version, a patch version, no version, or only other types: 406's error."""
    with pytest.raises(NotAcceptableError):
        accepted_version(accept, MEDIA, "2.0")


def test_the_csv_report_type() -> None:
    """The reports' text/vnd.mds+csv admits text/csv and text/* and refuses version 1.2."""
    accepted_version("text/csv", "text/vnd.mds+csv", "2.0")
    accepted_version("text/*", "text/vnd.mds+csv", "2.0")
    with pytest.raises(NotAcceptableError):
        accepted_version("text/vnd.mds+csv;version=1.2", "text/vnd.mds+csv", "2.0")
