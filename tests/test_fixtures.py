"""The test fixtures themselves: isolation between tests, private brokers that restart."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
import pytest

from pogo.embedded import PrivateMosquitto
from pogo.settings import MqttUrl

ROOT = Path(__file__).resolve().parent.parent
_seen_databases: list[str] = []


@pytest.mark.parametrize("round_", [1, 2])
def test_each_test_has_its_own_database(db_url: str, round_: int) -> None:
    """Rows written by one test are not visible to the next: each gets its own database."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM vehicles").fetchone() == (0,)
        conn.execute("INSERT INTO vehicles (fleet, vehicle) VALUES ('f', 'leak')")
    assert db_url not in _seen_databases
    _seen_databases.append(db_url)


def test_topic_roots_differ(topic_root: str) -> None:
    """Each test's topic root is its own (so tests sharing a broker never cross)."""
    assert topic_root.startswith("test/") and topic_root.endswith("/pogo/v1")


def _publish_and_receive(url: str, topic: str, *, receive: bool = True) -> list[bytes]:
    parsed = MqttUrl.parse(url)
    got: list[bytes] = []
    done = threading.Event()
    sub = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id="fixture-sub", clean_session=False
    )
    sub.on_message = lambda c, u, m: (got.append(m.payload), done.set())
    sub.connect(parsed.host, parsed.port)
    sub.subscribe(topic, qos=1)
    sub.loop_start()
    if receive:
        done.wait(10)
    sub.loop_stop()
    sub.disconnect()
    return got


def test_private_broker_keeps_queued_messages_across_restart(
    private_broker: PrivateMosquitto,
) -> None:
    """A persistent session's queued QoS 1 message survives a broker restart (persistence)."""
    topic = "fixture/restart"
    _publish_and_receive(private_broker.url, topic, receive=False)  # register the session
    parsed = MqttUrl.parse(private_broker.url)
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="fixture-pub")
    pub.connect(parsed.host, parsed.port)
    pub.loop_start()
    pub.publish(topic, b"kept", qos=1).wait_for_publish(10)
    pub.loop_stop()
    pub.disconnect()
    private_broker.stop()
    assert not private_broker.running
    private_broker.start()
    assert _publish_and_receive(private_broker.url, topic) == [b"kept"]


@pytest.mark.parametrize(
    ("variable", "value", "service", "fixture"),
    [
        (
            "POGO_TEST_DATABASE_URL",
            "postgresql://postgres@127.0.0.1:9/postgres",
            "PostgreSQL",
            "db_url",
        ),
        ("POGO_TEST_MQTT_URL", "mqtt://127.0.0.1:9", "Mosquitto", "mqtt_url"),
    ],
)
def test_unreachable_service_stops_the_run_once(
    tmp_path: Path, variable: str, value: str, service: str, fixture: str
) -> None:
    """With a service unreachable, the run stops at the first test needing it, with one clear
    message naming the variable, instead of failing every test."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (tmp_path / "conftest.py").write_text(
        "pytest_plugins = ['tests.fixtures.database', 'tests.fixtures.broker']\n",
        encoding="utf-8",
    )
    (tmp_path / "test_needs_service.py").write_text(
        f"def test_one({fixture}):\n    pass\n\ndef test_two({fixture}):\n    pass\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", str(tmp_path)],
        cwd=tmp_path,
        env={**os.environ, variable: value, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 3, output
    assert output.count(f"{service} is unreachable at {variable}") == 1, output
