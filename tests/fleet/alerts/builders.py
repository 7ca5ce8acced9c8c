"""Small builders for the alert tests: a vehicle's fixes into the store, one build and one
delivery run, and the alerts as rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from fleet import TripRules, build_trips
from fleet.alerts import AlertRules, DeliveryReport, Webhook, deliver
from tests.fixtures.receiver import WEBHOOK_SECRET
from tests.fleet.builders import at, insert_fixes

RULES = AlertRules()


def store(db: Any, key: int, points: list[dict[str, Any]], received_t: float) -> None:
    """The fixes of vehicle ``key``, received at ``received_t`` s after T0."""
    insert_fixes(db, key, points, received_at=at(received_t))


def build(db_url: str, now_t: float, rules: AlertRules = RULES) -> Any:
    """One trip-builder run at ``now_t`` s after T0 with alerts queued for the webhook."""
    return build_trips(db_url, TripRules(), None, now=at(now_t), alerts=rules, queue_alerts=True)


def send(db_url: str, url: str, later_s: float = 0.0, budget_s: float = 10.0) -> DeliveryReport:
    """One delivery run, ``later_s`` seconds of wall clock from now."""
    hook = Webhook(url, WEBHOOK_SECRET.encode(), timeout_s=2.0, budget_s=budget_s)
    return deliver(db_url, hook, now=datetime.now(UTC) + timedelta(seconds=later_s))


def alerts(db: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    """Every alert, oldest first, with its vehicle's name."""
    cur = db.execute(
        "SELECT a.*, v.vehicle FROM alerts a JOIN vehicles v USING (vehicle_key)"
        " ORDER BY a.alert_id"
    )
    names = [c.name for c in cur.description or []]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def outbox(db: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    cur = db.execute("SELECT * FROM alert_deliveries ORDER BY created_at, delivery_id")
    names = [c.name for c in cur.description or []]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
