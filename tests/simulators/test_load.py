"""simulators/load.py: several processes publishing flat out, with exact counts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson

from pogo.embedded import PrivateMosquitto
from simulators import FaultRates, benguerir
from simulators.load import load, load_share
from simulators.publish import MqttTarget
from tests.simulators.test_publish import Collector


def test_shares_split_the_fleet() -> None:
    """Each process gets its own vehicles (distinct ids) and its share of the demand."""
    config = benguerir(vehicles=10, days=1)
    shares = [load_share(config, part, 3) for part in range(3)]
    assert sum(s.vehicles for s in shares) == 10
    ids = [v for s in shares for v in s.vehicle_ids]
    assert len(set(ids)) == 10
    assert abs(sum(s.trips_per_day for s in shares) - config.trips_per_day) < 1e-9


def test_two_processes_counts_are_exact(private_broker: PrivateMosquitto) -> None:
    """What two publishing processes report is exactly what a subscriber receives."""
    root = f"l{uuid.uuid4().hex[:8]}/pogo/v1"
    collector = Collector(private_broker.port, root)
    config = benguerir(
        vehicles=6, days=0.2, faults=FaultRates(duplicate=0.01, malformed=0.02), seed=4
    )
    counts = load(
        config,
        MqttTarget(port=private_broker.port, root=root),
        mode="batch",
        processes=2,
        now=datetime.now(UTC),
    )
    collector.wait_for(counts.messages)
    collector.close()
    assert counts.processes == 2 and counts.vehicles == 6
    assert counts.acked == counts.messages == len(collector.messages)
    assert counts.points > counts.distinct_points > 0  # duplicates were sent
    # Batches are JSON arrays; the bad payloads are single messages of their own.
    batches = [orjson.loads(p) for _, p, _ in collector.messages if p.startswith(b"[")]
    assert len(batches) == counts.telemetry_messages
    assert sum(len(b) for b in batches) == counts.points
    assert len(collector.messages) - len(batches) == counts.malformed > 0
