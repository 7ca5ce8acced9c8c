"""The ingester's Prometheus metrics (one registry per ingester, injectable for tests)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.registry import Collector

from ingest.errors import Reason

__all__ = ["LAG_BUCKETS", "IngestMetrics"]

MESSAGE_RESULTS = ("accepted", "partial", "rejected")
POINT_RESULTS = ("stored", "duplicate", "dead_letter")
EVENT_RESULTS = ("stored", "duplicate")
LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0, 86400.0)
COMMIT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class _BulkHistogram(Collector):
    """A histogram fed whole numpy arrays at once (one lag per stored point)."""

    def __init__(self, name: str, documentation: str, buckets: Sequence[float]) -> None:
        self.name = name
        self.documentation = documentation
        self.bounds = np.array(buckets, dtype=np.float64)
        self._counts = np.zeros(len(buckets) + 1, dtype=np.int64)
        self._sum = 0.0
        self._lock = threading.Lock()

    def observe_many(self, values: np.ndarray) -> None:
        if not len(values):
            return
        slots = np.searchsorted(self.bounds, values, side="left")
        counts = np.bincount(slots, minlength=len(self._counts))
        with self._lock:
            self._counts += counts
            self._sum += float(values.sum())

    def collect(self) -> Iterator[HistogramMetricFamily]:
        with self._lock:
            cumulative = np.cumsum(self._counts)
            total = self._sum
        buckets = [(f"{b:g}", float(c)) for b, c in zip(self.bounds, cumulative[:-1], strict=True)]
        buckets.append(("+Inf", float(cumulative[-1])))
        yield HistogramMetricFamily(self.name, self.documentation, buckets=buckets, sum_value=total)


class IngestMetrics:
    """``pogo_ingest_*``: labels only from closed sets (result, reason)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.messages = Counter(
            "pogo_ingest_messages", "MQTT messages taken in, by result", ["result"], registry=r
        )
        self.points = Counter(
            "pogo_ingest_points", "Telemetry points, by result", ["result"], registry=r
        )
        self.events = Counter(
            "pogo_ingest_events", "Ride and charge events, by result", ["result"], registry=r
        )
        self.dead_letters = Counter(
            "pogo_ingest_dead_letters",
            "Dead-letter rows written, by reason",
            ["reason"],
            registry=r,
        )
        self.dead_letters_repeated = Counter(
            "pogo_ingest_dead_letters_repeated",
            "Dead letters already stored (a redelivery or a resend), counted into the row's "
            "occurrences instead of a new row, by reason",
            ["reason"],
            registry=r,
        )
        self.commit_seconds = Histogram(
            "pogo_ingest_batch_commit_seconds",
            "Time to write and commit one batch",
            buckets=COMMIT_BUCKETS,
            registry=r,
        )
        self.lag = _BulkHistogram(
            "pogo_ingest_lag_seconds", "Device time to commit, per stored point", LAG_BUCKETS
        )
        r.register(self.lag)
        self.buffered = Gauge(
            "pogo_ingest_points_buffered", "Points decoded and waiting for commit", registry=r
        )
        self.queued = Gauge(
            "pogo_ingest_queue_messages", "Messages received and waiting for the worker", registry=r
        )
        self.queue_capacity = Gauge(
            "pogo_ingest_queue_capacity_messages",
            "The bound of the message queue (when full, the broker holds the rest)",
            registry=r,
        )
        self.db_retries = Counter(
            "pogo_ingest_db_retries", "Batch writes retried after a database error", registry=r
        )
        self.connected = Gauge(
            "pogo_ingest_broker_connected", "1 while connected to the broker", registry=r
        )
        self.connect_failures = Counter(
            "pogo_ingest_broker_connect_failures",
            "Broker connection attempts that failed (unreachable, refused, TLS...)",
            registry=r,
        )
        self.session_takeovers = Counter(
            "pogo_ingest_session_takeovers",
            "Disconnections because another client connected with this ingester's client id",
            registry=r,
        )
        self.unwritable = Counter(
            "pogo_ingest_unwritable_messages",
            "Messages the database refused even as a dead letter: logged with their digest, "
            "acknowledged and otherwise dropped (should stay 0)",
            registry=r,
        )
        for result in MESSAGE_RESULTS:
            self.messages.labels(result)
        for result in POINT_RESULTS:
            self.points.labels(result)
        for result in EVENT_RESULTS:
            self.events.labels(result)
        for reason in Reason:
            self.dead_letters.labels(str(reason))
            self.dead_letters_repeated.labels(str(reason))
