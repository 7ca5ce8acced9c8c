"""Fleet alerts: offline, low battery, geofence enter and exit, over-speed.

The trip builder evaluates them on every run (:class:`AlertRun`, vectorised over the fixes it
holds, with hysteresis: :func:`flips`), writes each transition with its trips and queues it in
an outbox; :func:`deliver` then sends the outbox to the operator's :class:`Webhook`, signed.
"""

from fleet.alerts.errors import AlertError, AlertRulesError
from fleet.alerts.evaluation import OpenAlerts, Transitions, evaluate_fixes, offline_opened
from fleet.alerts.fences import AlertZone, Fences
from fleet.alerts.hysteresis import Flips, confirmed, flips
from fleet.alerts.kinds import KINDS, TRANSITIONS, UNITS
from fleet.alerts.rules import AlertRules
from fleet.alerts.run import AlertCounts, AlertRun
from fleet.alerts.webhook import DeliveryReport, Webhook, backoff_s, deliver, sign

__all__ = [
    "KINDS",
    "TRANSITIONS",
    "UNITS",
    "AlertCounts",
    "AlertError",
    "AlertRules",
    "AlertRulesError",
    "AlertRun",
    "AlertZone",
    "DeliveryReport",
    "Fences",
    "Flips",
    "OpenAlerts",
    "Transitions",
    "Webhook",
    "backoff_s",
    "confirmed",
    "deliver",
    "evaluate_fixes",
    "flips",
    "offline_opened",
    "sign",
]
