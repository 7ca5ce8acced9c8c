"""What the ingester says about itself: failed broker connections (logged with their reason,
``pogo_ingest_broker_connected`` true to them), a session taken over by a client with the
same id, queue and buffer gauges that move while the worker is blocked, and a message the
database refuses counted as rejected."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from pogo.embedded import PrivateMosquitto, free_port
from tests.fixtures.settings import SettingsFactory
from tests.ingest.builders import now_ms, point, track
from tests.ingest.harness import (
    IngestProcess,
    Publisher,
    config_for,
    count,
    running,
    telemetry_count,
    wait_for,
)
from wire.topics import format_topic


def _log_lines(process: IngestProcess) -> list[dict[str, object]]:
    lines = []
    for line in process.log().splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            continue
    return lines


def _scraped(process: IngestProcess, name: str) -> float:
    """The metric, or -1 while the process is not serving metrics yet."""
    try:
        return process.metric(name)
    except OSError:
        return -1.0


@pytest.mark.slow
def test_failed_broker_connections_are_logged_with_their_reason(
    db_url: str,
    topic_root: str,
    tmp_path: Path,
    ingest_processes: list[IngestProcess],
) -> None:
    """Nothing listens on the broker's port: every attempt is logged with its reason and
    counted, and the connected gauge says 0; once a broker listens there it says 1, and 0
    again when the broker goes away."""
    port = free_port()
    ingester = IngestProcess(
        db_url, f"mqtt://127.0.0.1:{port}", topic_root, f"unreach-{uuid.uuid4().hex[:6]}", tmp_path
    )
    ingest_processes.append(ingester.start(wait_ready=False))
    wait_for(
        lambda: _scraped(ingester, "pogo_ingest_broker_connect_failures_total") >= 2,
        what="two failed connection attempts",
    )
    failures = [
        e for e in _log_lines(ingester) if e.get("event") == "broker connection failed; retrying"
    ]
    assert len(failures) >= 2
    assert all("ConnectionRefusedError" in str(e["reason"]) for e in failures), failures
    assert all(e["broker"] == f"127.0.0.1:{port}" for e in failures)
    assert ingester.metric("pogo_ingest_broker_connected") == 0
    broker = PrivateMosquitto(tmp_path / "broker", port=port)
    broker.start()
    try:
        wait_for(lambda: ingester.metric("pogo_ingest_broker_connected") == 1, what="connected")
    finally:
        broker.stop()
    wait_for(lambda: ingester.metric("pogo_ingest_broker_connected") == 0, what="disconnected")
    assert ingester.terminate() == 0


@pytest.mark.slow
def test_a_session_taken_over_is_logged_and_counted(
    private_broker: PrivateMosquitto,
    db_url: str,
    topic_root: str,
    tmp_path: Path,
    ingest_processes: list[IngestProcess],
) -> None:
    """Another client connecting with the ingester's client id takes its session over: the
    ingester logs it as such, counts it, and is connected again once the other one leaves."""
    client_id = f"taken-{uuid.uuid4().hex[:6]}"
    ingester = IngestProcess(db_url, private_broker.url, topic_root, client_id, tmp_path)
    ingest_processes.append(ingester.start())
    intruder = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
    )
    intruder.connect("127.0.0.1", private_broker.port, clean_start=False)
    intruder.loop_start()
    try:
        wait_for(
            lambda: ingester.metric("pogo_ingest_session_takeovers_total") >= 1,
            what="a counted takeover",
        )
    finally:
        intruder.disconnect()
        intruder.loop_stop()
    events = [str(e.get("event")) for e in _log_lines(ingester)]
    assert any(e.startswith("session taken over by another client") for e in events), events
    wait_for(lambda: ingester.metric("pogo_ingest_broker_connected") == 1, what="reconnected")
    assert ingester.terminate() == 0


def test_queue_gauge_moves_while_the_worker_is_blocked(
    make_settings: SettingsFactory,
    private_broker: PrivateMosquitto,
    db_url: str,
    topic_root: str,
) -> None:
    """With telemetry locked, the worker waits on its committers; messages arriving meanwhile
    show in pogo_ingest_queue_messages at once, and both gauges fall to 0 once it is over."""
    config = config_for(
        make_settings(),
        mqtt_host="127.0.0.1",
        mqtt_port=private_broker.port,
        receive_maximum=300,  # batches of 100 messages
        flush_interval_s=0.1,
    )
    t = lambda i: format_topic("fleet", f"q{i % 5}", "telemetry", topic_root)  # noqa: E731
    points = track(290, start_ms=now_ms(-600))
    blocker = psycopg.connect(db_url)
    blocker.execute("LOCK TABLE telemetry IN ACCESS EXCLUSIVE MODE")
    with running(config, db_url) as ing, Publisher(private_broker.url) as pub:
        # Two batches committing (stuck on the lock) and a third the worker cannot hand over.
        pub.publish_all([(t(i), p) for i, p in enumerate(points[:250])])
        wait_for(lambda: ing.value("pogo_ingest_points_buffered") == 250, what="250 buffered")
        time.sleep(0.5)  # the worker is now waiting for a committer
        pub.publish_all([(t(i), p) for i, p in enumerate(points[250:], start=250)])
        wait_for(lambda: ing.value("pogo_ingest_queue_messages") == 40, what="40 queued")
        assert ing.value("pogo_ingest_points_buffered") == 250
        blocker.rollback()
        blocker.close()
        wait_for(lambda: telemetry_count(db_url) == 290, what="290 points")
        wait_for(lambda: ing.value("pogo_ingest_points_buffered") == 0, what="nothing buffered")
        assert ing.value("pogo_ingest_queue_messages") == 0


def test_a_message_the_database_refuses_is_counted_rejected(
    make_settings: SettingsFactory, mqtt_url: str, db_url: str, topic_root: str
) -> None:
    """An event that passes validation but that PostgreSQL refuses (here a CHECK constraint
    on its fault code; the attribute allow-list leaves no value of the wire contract that
    PostgreSQL cannot store) is dead-lettered as db_rejected and counted as a rejected
    message; the point of the same batch is stored and counted accepted."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "ALTER TABLE vehicle_events ADD CONSTRAINT test_refuses_x CHECK"
            " (attributes->>'code' IS DISTINCT FROM 'x')"
        )
    config = config_for(make_settings(), flush_interval_s=0.5)
    events = format_topic("fleet", "r1", "events", topic_root)
    telemetry = format_topic("fleet", "r1", "telemetry", topic_root)
    refused = {"ts": now_ms(-5), "type": "fault", "code": "x"}
    with running(config, db_url) as ing, Publisher(mqtt_url) as pub:
        pub.publish_all([(telemetry, point(now_ms(-5))), (events, refused)])
        wait_for(
            lambda: ing.value("pogo_ingest_dead_letters_total", reason="db_rejected") == 1,
            what="the db_rejected dead letter",
        )
        assert ing.value("pogo_ingest_messages_total", result="rejected") == 1
        assert ing.value("pogo_ingest_messages_total", result="accepted") == 1
        assert ing.value("pogo_ingest_points_total", result="stored") == 1
    assert count(db_url, "SELECT count(*) FROM dead_letters WHERE reason = 'db_rejected'") == 1
