"""Load generation for the ingest benchmark: several processes publishing flat out.

Each process simulates its own share of the fleet (vehicle ids ``{prefix}-p{n}-NNN``, so
shares never collide), encodes its telemetry in the chosen mode, then publishes it as fast as
the broker acknowledges (QoS 1) over a few shared connections, with at most ``max_inflight``
unacknowledged messages per process. The counts returned are exact: messages and points
published and acknowledged, and the distinct (vehicle, timestamp) points an ingester should
end up storing.
"""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from simulators.config import ScenarioConfig
from simulators.publish import MqttTarget, PublishCounts, Publisher, live_start
from simulators.simulation import simulate
from simulators.wire import Messages, Mode, malformed_messages, telemetry_messages

__all__ = ["LoadCounts", "load", "load_share"]


@dataclass
class LoadCounts(PublishCounts):
    """A load run's exact counts, summed over its processes."""

    processes: int = 0
    distinct_points: int = 0  # (vehicle, ts) pairs: what the ingester stores
    vehicles: int = 0

    @property
    def points_per_second(self) -> float:
        """Telemetry points acknowledged by the broker per second (slowest process's time)."""
        return self.points / self.seconds if self.seconds > 0 else 0.0


def load_share(config: ScenarioConfig, part: int, parts: int) -> ScenarioConfig:
    """The scenario of process ``part`` of ``parts``: its share of the vehicles and demand."""
    vehicles = config.vehicles // parts + (1 if part < config.vehicles % parts else 0)
    share = vehicles / config.vehicles
    return config.replace(
        vehicles=max(1, vehicles),
        seed=config.seed * 1009 + part,
        vehicle_prefix=f"{config.vehicle_prefix}-p{part}",
        trips_per_day=config.trips_per_day * share,
        riders_target=config.riders_target * share,
    )


def _worker(
    args: tuple[ScenarioConfig, MqttTarget, Mode, int, int, int, int, float],
) -> LoadCounts:
    config, target, mode, part, parts, max_inflight, connections, batch_s = args
    share = load_share(config, part, parts)
    sim = simulate(share)
    points = sim.points
    index = {v: i for i, v in enumerate(share.vehicle_ids)}
    messages = Messages.merge(
        [telemetry_messages(points, mode, batch_s), malformed_messages(sim.malformed, index)]
    )
    target = MqttTarget(**{**target.__dict__, "client_prefix": f"{target.client_prefix}-p{part}"})
    publisher = Publisher(target, share.fleet, share.vehicle_ids, max_inflight, connections)
    publisher.connect()
    began = time.perf_counter()
    try:
        publisher.send(messages)
        publisher.drain(timeout_s=600)
    finally:
        publisher.close()
    counts = LoadCounts(**publisher.counts.__dict__)
    counts.seconds = time.perf_counter() - began
    counts.processes = 1
    counts.vehicles = share.vehicles
    pairs = np.stack([points["vehicle_index"].astype(np.int64), points["ts"].astype(np.int64)])
    counts.distinct_points = int(np.unique(pairs, axis=1).shape[1]) if points.size else 0
    return counts


def load(
    config: ScenarioConfig,
    target: MqttTarget,
    mode: Mode = "binary",
    processes: int = 2,
    max_inflight: int = 1000,
    connections: int = 2,
    batch_s: float = 30.0,
    now: datetime | None = None,
) -> LoadCounts:
    """Publish ``config``'s fleet from ``processes`` processes as fast as the broker accepts.

    The window is moved to end now (it must be at most 2.5 days long, so the ingester accepts
    every point). Returns the summed exact counts.
    """
    start = live_start(now or datetime.now(UTC), config.days, None)
    config = config.replace(start=start)
    jobs = [
        (config, target, mode, part, processes, max_inflight, connections, batch_s)
        for part in range(processes)
    ]
    total = LoadCounts()
    if processes == 1:
        results = [_worker(jobs[0])]
    else:
        with multiprocessing.get_context("spawn").Pool(processes) as pool:
            results = pool.map(_worker, jobs)
    for result in results:
        total.add(result)
        total.processes += result.processes
        total.distinct_points += result.distinct_points
        total.vehicles += result.vehicles
    return total
