"""simulators/publish.py: publishing over a real Mosquitto, with the wall-clock rule."""

from __future__ import annotations

import math
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from pogo.embedded import PrivateMosquitto
from simulators import ScenarioError, simulate
from simulators.publish import MqttTarget, SimClock, live_start, publish
from tests.simulators.builders import scenario


class Collector:
    """A QoS 1 subscriber that keeps every message it receives, by topic."""

    def __init__(self, port: int, root: str) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"collector-{uuid.uuid4().hex[:6]}",
        )
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(f"{root}/#", qos=1)
        self.client.loop_start()
        time.sleep(0.3)

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append((msg.topic, msg.payload, bool(msg.retain)))

    def wait_for(self, count: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_publishes_everything_once_per_vehicle_topic(private_broker: PrivateMosquitto) -> None:
    """Every telemetry point, event, bad payload and status reaches a subscriber, on the
    vehicle's own topics, and the counts returned are exactly what arrived."""
    root = f"t{uuid.uuid4().hex[:8]}/pogo/v1"
    now = datetime.now(UTC)
    sim = simulate(scenario(days=0.3, faults=True, start=live_start(now, 0.3, None)))
    collector = Collector(private_broker.port, root)
    counts = publish(sim, MqttTarget(port=private_broker.port, root=root), mode="batch")
    collector.wait_for(counts.messages)
    collector.close()
    assert counts.acked == counts.messages == len(collector.messages)
    assert counts.points == sim.points.size
    assert counts.events == sim.events.size
    assert counts.malformed == sim.malformed.size
    kinds = {t.rsplit("/", 1)[1] for t, _, _ in collector.messages}
    assert kinds == {"telemetry", "events", "status"}
    vehicles = {t.split("/")[-2] for t, _, _ in collector.messages}
    assert vehicles == set(sim.config.vehicle_ids)
    statuses = [p for t, p, _ in collector.messages if t.endswith("/status")]
    assert statuses.count(b"online") >= sim.config.vehicles
    assert statuses[-sim.config.vehicles :] == [b"offline"] * sim.config.vehicles


def test_accelerated_clock_never_runs_ahead_of_the_wall() -> None:
    """With a speedup the simulated window ends no later than now, starts at most 2.5 days
    back, and each message's send time is never before its simulated time."""
    now = datetime(2026, 5, 1, 12, tzinfo=UTC)
    start = live_start(now, days=1.0, speedup=10.0)
    assert start == now - timedelta(days=0.9)
    clock = SimClock(start, 10.0, now.timestamp())
    for hours in (0, 1, 6, 21.6, 24, 30):
        t = start + timedelta(hours=hours)
        sent = clock.wall(round(t.timestamp() * 1000))
        assert sent >= t.timestamp() - 1e-6
        assert sent - t.timestamp() <= 2.5 * 86_400
    long_run = live_start(now, days=30.0, speedup=100.0)
    assert now - long_run == timedelta(days=2.5)
    with pytest.raises(ScenarioError, match="days"):
        live_start(now, days=5.0, speedup=None)


def test_catching_up_flat_out_sends_the_past_at_once_and_the_rest_in_real_time() -> None:
    """``speedup`` infinity: every message stamped before the wall clock's start goes at
    once, and every later one exactly at its own simulated time (never ahead of the wall)."""
    now = datetime(2026, 5, 1, 12, tzinfo=UTC)
    start = now - timedelta(days=1)
    clock = SimClock(start, math.inf, now.timestamp())
    for hours in (0, 6, 23.99):
        t = start + timedelta(hours=hours)
        assert clock.wall(round(t.timestamp() * 1000)) == now.timestamp()
    for minutes in (0, 1, 90):
        t = now + timedelta(minutes=minutes)
        assert clock.wall(round(t.timestamp() * 1000)) == pytest.approx(t.timestamp())
