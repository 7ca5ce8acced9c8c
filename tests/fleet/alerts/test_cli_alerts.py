"""``pogo trips`` with alerts, as a real process: it evaluates them, delivers them to the
webhook after the build, and a receiver that is down never stops the build."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from tests.fixtures.receiver import WEBHOOK_SECRET, Receiver, free_port
from tests.fleet.alerts.builders import alerts, outbox, store
from tests.fleet.builders import parked, ride, vehicle_key


def _pogo_trips(db_url: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POGO_")}
    env.update({"POGO_DATABASE_URL": db_url, "POGO_LOG_FORMAT": "json", **extra})
    return subprocess.run(
        [sys.executable, "-m", "pogo", "trips"],
        capture_output=True, text=True, timeout=120, check=False, env=env,
    )  # fmt: skip


def _seed(db: Any) -> None:
    """A ride long ago, and nothing since: one trip, and the vehicle is offline now."""
    pts = parked(-600, 0, soc_pct=80.0) + ride(0, 600, soc_pct=70.0)
    pts += parked(605, 1500, lat=pts[-1]["lat"], soc_pct=70.0)
    store(db, vehicle_key(db, "m009"), pts, 1600)


def test_pogo_trips_delivers_the_alerts_it_opens(db_url: str, db: Any, receiver: Receiver) -> None:
    """A vehicle silent for longer than POGO_ALERT_OFFLINE_AFTER_S gets an offline alert,
    delivered once to POGO_ALERT_WEBHOOK_URL, signed with POGO_ALERT_WEBHOOK_SECRET; the
    summary line says so."""
    _seed(db)
    hook = {"POGO_ALERT_WEBHOOK_URL": receiver.url, "POGO_ALERT_WEBHOOK_SECRET": WEBHOOK_SECRET}
    result = _pogo_trips(db_url, **hook)
    assert result.returncode == 0, result.stderr
    assert "1 trips inserted" in result.stdout
    assert "alerts: 1 opened, 0 cleared, 1 delivered" in result.stdout
    (delivery,) = receiver.deliveries
    assert delivery.signed_by(WEBHOOK_SECRET)
    assert delivery.json["kind"] == "offline" and delivery.json["vehicle"] == "m009"
    again = _pogo_trips(db_url, **hook)
    assert "alerts: 0 opened, 0 cleared, 0 delivered" in again.stdout
    assert len(receiver.deliveries) == 1


def test_a_webhook_that_is_down_never_stops_the_build(db_url: str, db: Any) -> None:
    """With nothing listening at the webhook URL, `pogo trips` still builds and commits the
    trips and the alert, exits 0, and leaves the delivery queued for a retry; the URL is not
    in its output."""
    _seed(db)
    port = free_port()
    result = _pogo_trips(
        db_url,
        POGO_ALERT_WEBHOOK_URL=f"http://127.0.0.1:{port}/T0K3N",
        POGO_ALERT_WEBHOOK_SECRET=WEBHOOK_SECRET,
    )
    assert result.returncode == 0, result.stderr
    assert "1 trips inserted" in result.stdout and "1 to retry" in result.stdout
    assert db.execute("SELECT count(*) FROM trips").fetchone()[0] == 1
    assert [a["kind"] for a in alerts(db)] == ["offline"]
    (row,) = outbox(db)
    assert row["attempts"] == 1 and row["delivered_at"] is None
    assert "T0K3N" not in result.stdout + result.stderr


def test_a_bad_alert_rule_is_named(db_url: str) -> None:
    """An unknown or out-of-bounds POGO_ALERT_RULES entry stops the command with exit 2."""
    unknown = _pogo_trips(db_url, POGO_ALERT_RULES='{"confirm_fixs": 3}')
    assert unknown.returncode == 2
    assert "POGO_ALERT_RULES has 'confirm_fixs'; expected one of" in unknown.stderr
    bad = _pogo_trips(db_url, POGO_ALERT_RULES='{"confirm_fixes": 0}')
    assert bad.returncode == 2 and "AlertRules.confirm_fixes is 0" in bad.stderr
