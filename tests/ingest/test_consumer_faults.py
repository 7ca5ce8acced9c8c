"""Faults against the real services, with ``python -m pogo ingest`` as a real subprocess:
kill -9 and restart, a database refusing connections, a broker restart, SIGTERM."""

from __future__ import annotations

import signal
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from psycopg import sql

from pogo.embedded import PrivateMosquitto
from tests.ingest.builders import now_ms, track
from tests.ingest.harness import IngestProcess, Publisher, count, telemetry_count, wait_for
from wire.topics import format_topic

pytestmark = pytest.mark.slow


def _stream(root: str, messages: int, points: int, vehicles: int = 5) -> list[tuple[str, object]]:
    """``messages`` batches of ``points`` distinct points, spread over ``vehicles``."""
    start = now_ms(-messages * points / 1000 - 60)
    out: list[tuple[str, object]] = []
    for m in range(messages):
        batch = track(points, start_ms=start + m * points, step_ms=1)
        for i, p in enumerate(batch):
            p["seq"] = m * points + i
        out.append((format_topic("fleet", f"v{m % vehicles}", "telemetry", root), batch))
    return out


def _distinct_points(db_url: str) -> int:
    return count(db_url, "SELECT count(DISTINCT (vehicle_key, seq)) FROM telemetry")


def test_kill_9_mid_stream_then_restart_stores_every_point_once(
    private_broker: PrivateMosquitto,
    db_url: str,
    topic_root: str,
    tmp_path: Path,
    ingest_processes: list[IngestProcess],
) -> None:
    """SIGKILL in the middle of a stream, then a restart with the same client id: the broker
    redelivers what was not acknowledged and every point is stored exactly once."""
    client_id = f"kill-{uuid.uuid4().hex[:8]}"
    first = IngestProcess(db_url, private_broker.url, topic_root, client_id, tmp_path)
    ingest_processes.append(first.start())
    items = _stream(topic_root, messages=800, points=10)
    total = 8000

    def publish() -> None:
        with Publisher(private_broker.url) as pub:
            for i in range(0, len(items), 50):
                pub.publish_all(items[i : i + 50])
                time.sleep(0.02)

    publisher = threading.Thread(target=publish)
    publisher.start()
    wait_for(lambda: telemetry_count(db_url) >= 1000, what="a first part of the stream")
    first.kill()
    at_kill = telemetry_count(db_url)
    assert at_kill < total, "the stream finished before the kill; make it longer"
    publisher.join(60)
    second = IngestProcess(db_url, private_broker.url, topic_root, client_id, tmp_path)
    ingest_processes.append(second.start())
    wait_for(lambda: telemetry_count(db_url) == total, timeout=60, what=f"{total} points")
    time.sleep(0.5)  # anything stored twice would show now
    assert telemetry_count(db_url) == total
    assert _distinct_points(db_url) == total
    assert second.terminate() == 0


def _database(db_url: str) -> str:
    return urlsplit(db_url).path.lstrip("/")


def test_database_refusing_connections_is_waited_out(
    postgres_admin_url: str,
    db_url: str,
    mqtt_url: str,
    topic_root: str,
    tmp_path: Path,
    ingest_processes: list[IngestProcess],
) -> None:
    """With the database refusing connections and the ingester's backends terminated, the
    ingester keeps running, retries with backoff, and stores everything once it is back."""
    ingester = IngestProcess(db_url, mqtt_url, topic_root, f"db-{uuid.uuid4().hex[:8]}", tmp_path)
    ingest_processes.append(ingester.start())
    items = _stream(topic_root, messages=30, points=10)
    name = sql.Identifier(_database(db_url))
    with Publisher(mqtt_url) as pub:
        pub.publish_all(items[:10])
        wait_for(lambda: telemetry_count(db_url) == 100, what="the first 100 points")
        with psycopg.connect(postgres_admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(name))
            try:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = %s AND pid <> pg_backend_pid()",
                    (_database(db_url),),
                )
                pub.publish_all(items[10:])
                wait_for(
                    lambda: ingester.metric("pogo_ingest_db_retries_total") >= 2,
                    what="the ingester retrying",
                )
                time.sleep(3)
                assert ingester.alive()
                assert ingester.metric("pogo_ingest_points_total", result="stored") == 100
            finally:
                admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(name))
        wait_for(lambda: telemetry_count(db_url) == 300, timeout=30, what="all 300 points")
    assert _distinct_points(db_url) == 300
    assert ingester.terminate() == 0


def test_broker_restart_is_reconnected_and_nothing_is_lost(
    private_broker: PrivateMosquitto,
    db_url: str,
    topic_root: str,
    tmp_path: Path,
    ingest_processes: list[IngestProcess],
) -> None:
    """The broker stopped right after accepting a burst and started again: the ingester
    reconnects to its persistent session and every point is stored once."""
    ingester = IngestProcess(
        db_url, private_broker.url, topic_root, f"brk-{uuid.uuid4().hex[:8]}", tmp_path
    )
    ingest_processes.append(ingester.start())
    items = _stream(topic_root, messages=600, points=10)
    with Publisher(private_broker.url) as pub:
        pub.publish_all(items[:400])
    private_broker.stop()  # while the ingester still works through the burst
    time.sleep(1.0)
    private_broker.start()
    with Publisher(private_broker.url) as pub:
        pub.publish_all(items[400:])
    wait_for(lambda: telemetry_count(db_url) == 6000, timeout=60, what="all 6000 points")
    assert _distinct_points(db_url) == 6000
    assert ingester.log().count('"connected"') >= 2
    assert ingester.terminate() == 0


def test_sigterm_flushes_acknowledges_and_exits_0(
    db_url: str,
    mqtt_url: str,
    topic_root: str,
    tmp_path: Path,
    ingest_processes: list[IngestProcess],
) -> None:
    """SIGTERM with points still buffered: they are committed, acknowledged (the broker has
    nothing to redeliver to the same session) and the process exits 0."""
    client_id = f"term-{uuid.uuid4().hex[:8]}"
    ingester = IngestProcess(
        db_url,
        mqtt_url,
        topic_root,
        client_id,
        tmp_path,
        POGO_INGEST_FLUSH_INTERVAL_S="60",
        POGO_INGEST_BATCH_POINTS="1000000",
    )
    ingest_processes.append(ingester.start())
    with Publisher(mqtt_url) as pub:
        pub.publish_all(_stream(topic_root, messages=40, points=5))
    wait_for(lambda: ingester.metric("pogo_ingest_points_buffered") == 200, what="200 buffered")
    assert telemetry_count(db_url) == 0
    assert ingester.process is not None
    ingester.process.send_signal(signal.SIGTERM)
    assert ingester.process.wait(30) == 0
    assert telemetry_count(db_url) == 200
    # The same session again: had anything been left unacknowledged, it would come back now.
    redelivered: list[bytes] = []
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5,
    )
    client.on_message = lambda c, u, m: redelivered.append(m.payload)
    host, port = urlsplit(mqtt_url).hostname, urlsplit(mqtt_url).port
    client.connect(host or "127.0.0.1", port or 1883, clean_start=False)
    client.loop_start()
    time.sleep(1.5)
    client.disconnect()
    client.loop_stop()
    assert redelivered == []
