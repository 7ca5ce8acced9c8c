"""Scale-out: two ``pogo ingest`` processes on one MQTT shared subscription."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from ingest.topics import format_topic
from tests.ingest.builders import now_ms, track
from tests.ingest.harness import IngestProcess, Publisher, count, telemetry_count, wait_for

pytestmark = pytest.mark.slow


def test_two_ingesters_split_one_stream_each_point_stored_once(
    db_url: str,
    mqtt_url: str,
    topic_root: str,
    tmp_path: Path,
    ingest_processes: list[IngestProcess],
) -> None:
    """With POGO_MQTT_SHARED_GROUP set, the broker splits the stream between two ingesters:
    both take part, together they take every message once, and every point is stored once."""
    group = f"g{uuid.uuid4().hex[:8]}"
    ingesters = [
        IngestProcess(
            db_url,
            mqtt_url,
            topic_root,
            f"share-{i}-{uuid.uuid4().hex[:6]}",
            tmp_path,
            POGO_MQTT_SHARED_GROUP=group,
        )
        for i in range(2)
    ]
    for ingester in ingesters:
        ingest_processes.append(ingester.start())
    messages, points = 400, 5
    start = now_ms(-messages * points / 1000 - 30)
    items = [
        (
            format_topic("fleet", f"v{m % 7}", "telemetry", topic_root),
            track(points, start_ms=start + m * points, step_ms=1),
        )
        for m in range(messages)
    ]
    with Publisher(mqtt_url) as pub:
        pub.publish_all(items)
    total = messages * points
    wait_for(lambda: telemetry_count(db_url) == total, timeout=60, what=f"{total} points")
    taken = [i.metric("pogo_ingest_messages_total", result="accepted") for i in ingesters]
    assert all(t > 0 for t in taken), taken
    assert sum(taken) == messages
    assert sum(i.metric("pogo_ingest_points_total", result="duplicate") for i in ingesters) == 0
    assert count(db_url, "SELECT count(DISTINCT (vehicle_key, ts)) FROM telemetry") == total
    for ingester in ingesters:
        assert ingester.terminate() == 0
