"""The MDS 2.0.2 micromobility state machine, transcribed from the text
(mobility-data-specification ``modes/micromobility.md``, "Vehicle State Events") for the tests:
the contract the events are checked against where the pinned schema disagrees with it."""

from __future__ import annotations

from collections.abc import Sequence

STATES = (
    "removed",
    "available",
    "non_operational",
    "reserved",
    "on_trip",
    "non_contactable",
    "missing",
    "elsewhere",
)

_ROWS: list[tuple[tuple[str, ...], str, str]] = [
    (("available",), "non_operational", "battery_low"),
    (("available",), "non_operational", "maintenance"),
    (("available",), "non_operational", "off_hours"),
    (("available",), "reserved", "reservation_start"),
    (("available",), "non_operational", "system_suspend"),
    (
        ("available", "elsewhere", "non_operational", "on_trip", "removed", "reserved"),
        "non_contactable",
        "comms_lost",
    ),
    (
        ("available", "elsewhere", "non_operational", "on_trip", "removed", "reserved"),
        "non_contactable",
        "unspecified",
    ),
    (("available", "non_contactable", "missing"), "non_operational", "unspecified"),
    (("available", "reserved"), "on_trip", "trip_start"),
    (("elsewhere",), "on_trip", "trip_enter_jurisdiction"),
    (("non_contactable",), "missing", "not_located"),
    (("non_contactable",), "missing", "unspecified"),
    (("non_contactable", "missing"), "elsewhere", "unspecified"),
    (("non_contactable", "missing"), "on_trip", "unspecified"),
    (("non_contactable", "missing"), "reserved", "unspecified"),
    (
        ("non_contactable", "missing", "non_operational", "available", "elsewhere"),
        "removed",
        "unspecified",
    ),
    (("non_operational",), "available", "battery_charged"),
    (("non_operational",), "available", "maintenance"),
    (("non_operational",), "available", "on_hours"),
    (("non_operational",), "available", "system_resume"),
    (("non_operational", "non_contactable", "missing"), "available", "unspecified"),
    (("on_trip",), "on_trip", "changed_geographies"),
    (("on_trip",), "available", "trip_cancel"),
    (("on_trip",), "available", "trip_end"),
    (("on_trip",), "elsewhere", "trip_leave_jurisdiction"),
    (("removed", "non_contactable", "missing"), "available", "agency_drop_off"),
    (("removed", "non_contactable", "missing"), "available", "provider_drop_off"),
    (("reserved",), "available", "reservation_cancel"),
]
TRANSITIONS: set[tuple[str, str, str]] = {
    (src, kind, dst) for sources, dst, kind in _ROWS for src in sources
}
# "non_contactable can go to any state with event type comms_restored"; "missing can go to any
# state with event type located".
TRANSITIONS |= {("non_contactable", "comms_restored", s) for s in STATES}
TRANSITIONS |= {("missing", "located", s) for s in STATES}


def reachable(start: str, types: Sequence[str], end: str) -> bool:
    """Whether the ordered ``types`` take a vehicle from ``start`` to ``end`` (intermediate
    states are whatever makes each step valid)."""
    states = {start}
    for kind in types:
        states = {dst for src, k, dst in TRANSITIONS if src in states and k == kind}
    return end in states
