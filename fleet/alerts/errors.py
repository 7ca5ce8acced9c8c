"""Errors of the fleet alerts."""

from __future__ import annotations

from fleet.errors import FleetError

__all__ = ["AlertError", "AlertRulesError"]


class AlertError(FleetError):
    """Root of the fleet alerts' errors."""


class AlertRulesError(AlertError):
    """An alert rule (:class:`~fleet.alerts.rules.AlertRules`) is outside its documented
    bounds; the message names the rule, its value and what was expected."""
