"""The alert rules: thresholds, and the hysteresis that keeps an alert from flapping.

Every rule is a field of one frozen dataclass with a documented default and the reason for it,
validated when it is built (as :class:`fleet.rules.TripRules`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from fleet.alerts.errors import AlertRulesError

__all__ = ["AlertRules"]


@dataclass(frozen=True)
class AlertRules:
    """Rules of the fleet alerts the trip builder evaluates.

    Attributes
    ----------
    offline_after_s : float, default 1800.0
        A vehicle whose latest fix is older than this, in s, at build time is offline
        (``POGO_ALERT_OFFLINE_AFTER_S``). A parked unit sends a heartbeat fix every 5 minutes,
        so 30 minutes is six missed heartbeats; a few minutes in a coverage hole (a car park)
        are buffered and caught up well within it. (The vehicle *state* ``offline`` uses the
        trip rules' shorter 15 minutes: a display, not a page to a person.)
    low_battery_pct : float, default 20.0
        A state of charge below this, in %, is low (``POGO_ALERT_LOW_BATTERY_PCT``; the
        service's ``pogo_vehicles_low_battery`` gauge uses the same threshold). At 20 % a
        2.3 kWh pack has about 15 km left: time to send the charging crew.
    confirm_fixes : int, default 3
        A condition opens (or clears) an alert only once it has held on this many consecutive
        fixes, so one noisy fix (a SoC glitch under load, a GPS speed spike, a position
        jumping across a zone's edge) never opens or clears one. Offline clears once the
        vehicle sent this many fixes within ``offline_after_s`` of the build time.
    confirm_s : float, default 10.0
        ...and those fixes span at least this long, in s, from the first to the last (a
        riding unit reports every 5 s: three fixes span 10 s; a burst of fixes sent at once
        does not confirm on its own).
    low_battery_clear_pct : float, default 5.0
        A low-battery alert clears only at ``low_battery_pct`` plus this, in % (SoC estimates
        rebound by 1-3 points when the load goes, so a rebound never clears it: charging does).
    overspeed_clear_kmh : float, default 5.0
        An over-speed alert clears at the zone's limit minus this, in km/h, or outside every
        zone with a limit (speed jitters by 1-2 km/h around a steady pace).
    geofence_margin_m : float, default 25.0
        A vehicle has left a geofenced zone once it is this far outside it, in m (at least
        this far: the margin is a buffer in degrees of latitude, a little wider east-west).
        GPS error with a good HDOP is 5-10 m, and a parked unit's fixes jitter by about 5 m.
    max_age_s : float, default 3600.0
        Fixes older than this, in s, at build time never open or clear an alert: a first run
        over months of history, a backfill or a unit's buffered upload report the past, which
        the trips record; alerts say what holds now (a condition that still holds is opened
        by the fresh fixes).

    Raises
    ------
    AlertRulesError
        When a value is not finite or outside its bounds; the message names the rule.

    Examples
    --------
    >>> AlertRules(low_battery_pct=15).low_battery_pct
    15
    """

    offline_after_s: float = 1800.0
    low_battery_pct: float = 20.0
    confirm_fixes: int = 3
    confirm_s: float = 10.0
    low_battery_clear_pct: float = 5.0
    overspeed_clear_kmh: float = 5.0
    geofence_margin_m: float = 25.0
    max_age_s: float = 3600.0

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise AlertRulesError(f"AlertRules.{item.name} is {value!r}; expected a number")
            if not math.isfinite(value) or value < 0:
                raise AlertRulesError(
                    f"AlertRules.{item.name} is {value!r}; expected a finite number >= 0"
                )
        for name in ("offline_after_s", "max_age_s"):
            if getattr(self, name) <= 0:
                raise AlertRulesError(f"AlertRules.{name} is {getattr(self, name)!r}; expected > 0")
        if not 0 < self.low_battery_pct < 100:
            raise AlertRulesError(
                f"AlertRules.low_battery_pct is {self.low_battery_pct!r}; expected 0 < pct < 100"
            )
        if int(self.confirm_fixes) != self.confirm_fixes or not 1 <= self.confirm_fixes <= 100:
            raise AlertRulesError(
                f"AlertRules.confirm_fixes is {self.confirm_fixes!r}; expected an integer 1-100"
            )
