"""Backpressure: while the database is slow, the ingester stops reading instead of growing."""

from __future__ import annotations

import threading
import time

import psycopg

from pogo.embedded import PrivateMosquitto
from tests.fixtures.settings import SettingsFactory
from tests.ingest.builders import track
from tests.ingest.harness import Publisher, config_for, running, telemetry_count, wait_for
from wire.topics import format_topic


def test_blocked_database_bounds_what_the_ingester_holds(
    make_settings: SettingsFactory,
    private_broker: PrivateMosquitto,
    db_url: str,
    topic_root: str,
) -> None:
    """With telemetry locked, the ingester holds at most its Receive Maximum of unacknowledged
    messages (the broker keeps the rest queued); once the lock goes, every point is stored."""
    config = config_for(
        make_settings(), mqtt_host="127.0.0.1", mqtt_port=private_broker.port, receive_maximum=200
    )
    sent = 3000
    points = track(sent)
    items = [
        (format_topic("benguerir", f"bp{i % 10}", "telemetry", topic_root), p)
        for i, p in enumerate(points)
    ]
    blocker = psycopg.connect(db_url)
    blocker.execute("LOCK TABLE telemetry IN ACCESS EXCLUSIVE MODE")  # held until rollback
    peak = {"queued": 0.0, "buffered": 0.0}
    with running(config, db_url) as ing:
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak["queued"] = max(peak["queued"], ing.value("pogo_ingest_queue_messages"))
                peak["buffered"] = max(peak["buffered"], ing.value("pogo_ingest_points_buffered"))
                time.sleep(0.01)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        with Publisher(private_broker.url) as pub:
            pub.publish_all(items)  # the broker acknowledged all of them: they are queued there
        time.sleep(3)  # the ingester is stuck on the lock: what does it hold meanwhile?
        held_while_blocked = max(peak["queued"], peak["buffered"])
        assert telemetry_count_nowait(db_url) is None  # still locked: nothing committed
        blocker.rollback()
        blocker.close()
        wait_for(lambda: telemetry_count(db_url) == sent, timeout=60, what=f"{sent} points")
        done.set()
        sampler.join(5)
        wait_for(lambda: ing.value("pogo_ingest_points_total", result="stored") == sent)
    # One point a message: never more held than the broker may have in flight to it.
    assert 0 < held_while_blocked <= config.receive_maximum, peak


def telemetry_count_nowait(db_url: str) -> int | None:
    """The row count, or None when the table is locked (lock_timeout, no waiting)."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("SET lock_timeout = '50ms'")
        try:
            row = conn.execute("SELECT count(*) FROM telemetry").fetchone()
        except psycopg.errors.LockNotAvailable:
            return None
        return int(row[0]) if row else 0
