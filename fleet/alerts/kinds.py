"""The closed sets of the alerts: their kinds and transitions (also metric labels)."""

from __future__ import annotations

__all__ = ["GEOFENCE", "KINDS", "LOW_BATTERY", "OFFLINE", "OVERSPEED", "TRANSITIONS", "UNITS"]

KINDS: tuple[str, ...] = ("offline", "low_battery", "geofence", "overspeed")
"""Every alert kind (the ``kind`` label of ``pogo_alerts_open``)."""
OFFLINE, LOW_BATTERY, GEOFENCE, OVERSPEED = range(4)

TRANSITIONS: tuple[str, ...] = ("opened", "cleared")
"""An alert opens once and clears once; each is one delivery."""

UNITS: dict[str, str | None] = {
    "offline": "s",
    "low_battery": "%",
    "geofence": None,
    "overspeed": "km/h",
}
"""The unit of an alert's ``value`` and ``threshold``, by kind."""
