"""The JSON body of one alert transition, as the webhook receives it (and as it is signed)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from fleet.alerts.kinds import UNITS

__all__ = ["body", "iso_ms"]

_SUMMARY = {
    ("offline", "opened"): "{who} has sent no fix for {threshold:g} s",
    ("offline", "cleared"): "{who} reports again",
    ("low_battery", "opened"): "{who}: battery at {value:g} %, below {threshold:g} %",
    ("low_battery", "cleared"): "{who}: battery back at {value:g} %",
    ("geofence", "opened"): "{who} entered {zone}",
    ("geofence", "cleared"): "{who} left {zone}",
    ("overspeed", "opened"): "{who} at {value:g} km/h in {zone}, limit {threshold:g} km/h",
    ("overspeed", "cleared"): "{who} back under the speed limit",
}


def iso_ms(ms: int) -> str:
    """RFC 3339 UTC with milliseconds: ``2026-03-02T08:15:30.250Z``."""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def _number(x: float) -> float | None:
    return None if not math.isfinite(x) else round(x, 3)


def body(
    *,
    delivery_id: str,
    alert_id: int,
    kind: str,
    transition: str,
    at_ms: int,
    fleet: str,
    vehicle: str,
    zone_id: str | None,
    zone_name: str | None,
    opened_ms: int,
    cleared_ms: int | None,
    value: float,
    threshold: float,
) -> str:
    """The body: compact JSON, ASCII only, keys in a fixed order (the bytes that are signed,
    stored in the outbox and sent unchanged on every retry).

    Examples
    --------
    >>> text = body(delivery_id="d", alert_id=1, kind="low_battery", transition="opened",
    ...             at_ms=0, fleet="pogo", vehicle="m1", zone_id=None, zone_name=None,
    ...             opened_ms=0, cleared_ms=None, value=17.5, threshold=20.0)
    >>> json.loads(text)["summary"]
    'pogo/m1: battery at 17.5 %, below 20 %'
    """
    value_out, threshold_out = _number(value), _number(threshold)
    summary = _SUMMARY[(kind, transition)].format(
        who=f"{fleet}/{vehicle}",
        zone=zone_name or zone_id or "a zone",
        value=value_out if value_out is not None else float("nan"),
        threshold=threshold_out if threshold_out is not None else float("nan"),
    )
    doc: dict[str, Any] = {
        "delivery_id": delivery_id,
        "alert_id": alert_id,
        "kind": kind,
        "transition": transition,
        "at": iso_ms(at_ms),
        "fleet": fleet,
        "vehicle": vehicle,
        "zone": None if zone_id is None else {"zone_id": zone_id, "name": zone_name},
        "value": value_out,
        "threshold": threshold_out,
        "unit": UNITS[kind],
        "opened_at": iso_ms(opened_ms),
        "cleared_at": None if cleared_ms is None else iso_ms(cleared_ms),
        "summary": summary,
    }
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
