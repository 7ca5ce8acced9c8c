"""Publishing a simulation over MQTT (paho 2, QoS 1), in real time, accelerated or flat out.

Each vehicle is its own MQTT client (as each device is), all in one process: it connects
with a retained ``offline`` last will on ``{root}/{fleet}/{vehicle}/status``, announces
``online`` (retained) on every connect, sends ``offline``/``online`` around its offline spells
and ``offline`` when the simulator stops.

The simulated clock never runs ahead of the wall clock, because the ingester refuses points
more than 5 minutes in the future (and more than 3 days old). :func:`live_start` chooses the
window: with ``--speedup X`` over ``D`` days, the window starts ``D * (1 - 1/X)`` before now
(at most ``max_lag_days``, 2.5, before), runs X times faster than the wall clock and, if it
catches up with the present, goes on in real time; so every point is sent after its device
time and at most 2.5 days late. Flat out (no speedup), the whole window lies in the past
(``D`` at most 2.5 days) and is sent as fast as the broker acknowledges.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import paho.mqtt.client as mqtt
import structlog
from paho.mqtt.enums import CallbackAPIVersion

from simulators.errors import PublishError, ScenarioError
from simulators.simulation import Simulation
from simulators.wire import (
    MESSAGE_EVENTS,
    MESSAGE_MALFORMED,
    MESSAGE_STATUS,
    MESSAGE_TELEMETRY,
    Messages,
    Mode,
    event_messages,
    malformed_messages,
    telemetry_messages,
)
from wire.topics import Kind, format_topic

__all__ = ["MqttTarget", "PublishCounts", "Publisher", "SimClock", "live_start", "publish"]

log = structlog.get_logger(__name__)

_KIND_TOPIC: dict[int, Kind] = {
    MESSAGE_TELEMETRY: "telemetry",
    MESSAGE_MALFORMED: "telemetry",
    MESSAGE_EVENTS: "events",
    MESSAGE_STATUS: "status",
}


@dataclass(frozen=True)
class MqttTarget:
    """Where to publish: the broker, credentials and the topic root.

    ``credentials`` maps a vehicle id to its own (username, password), as each device has
    its own account on a secured broker; vehicles it does not name use ``username`` and
    ``password``. With ``tls``, ``ca_file`` is the CA the broker's certificate is checked
    against (None: the system's) and ``cert_file``/``key_file`` a client certificate.
    """

    host: str = "127.0.0.1"
    port: int = 1883
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    credentials: Mapping[str, tuple[str, str]] | None = field(default=None, repr=False)
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    root: str = "pogo/v1"
    client_prefix: str = "pogo-sim"
    keepalive_s: int = 30
    connect_timeout_s: float = 10.0


@dataclass
class PublishCounts:
    """What was published (exact), by kind; ``acked`` counts PUBACKs received."""

    messages: int = 0
    acked: int = 0
    telemetry_messages: int = 0
    points: int = 0  # telemetry points carried, resent duplicates included
    events: int = 0
    malformed: int = 0
    status: int = 0
    seconds: float = 0.0

    def add(self, other: PublishCounts) -> None:
        """Add another's counts (the load mode sums its processes)."""
        for name in ("messages", "acked", "telemetry_messages", "points", "events"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.malformed += other.malformed
        self.status += other.status
        self.seconds = max(self.seconds, other.seconds)


def live_start(
    now: datetime, days: float, speedup: float | None, max_lag_days: float = 2.5
) -> datetime:
    """Start of a window of ``days`` whose clock never runs ahead of the wall clock."""
    if speedup is None:
        if days > max_lag_days:
            raise ScenarioError(
                "days",
                days,
                f"at most {max_lag_days} when publishing flat out (the ingester "
                "refuses points older than 3 days); use --speedup or --output backfill",
            )
        return now - timedelta(days=days)
    if speedup < 1:
        raise ScenarioError("speedup", speedup, "1 (real time) or more")
    lag = min(days * (1.0 - 1.0 / speedup), max_lag_days)
    return now - timedelta(days=lag)


class SimClock:
    """Maps simulated epoch ms to the wall-clock epoch seconds at which to send.

    ``speedup`` None: everything at once. Otherwise the simulated clock runs ``speedup``
    times faster from ``start`` (at wall time ``wall0``) until it reaches the wall clock, then
    in real time. ``speedup`` ``math.inf`` (catching up flat out): what is already past at
    ``wall0`` goes at once, as fast as the broker takes it, and the rest in real time.
    """

    def __init__(self, start: datetime, speedup: float | None, wall0: float) -> None:
        self.start_s = start.timestamp()
        self.speedup = speedup
        self.wall0 = wall0
        if speedup is None or speedup <= 1:
            self.catch_up_s = self.start_s
        elif math.isinf(speedup):
            self.catch_up_s = max(wall0, self.start_s)
        else:
            lag = max(wall0 - self.start_s, 0.0)
            self.catch_up_s = self.start_s + speedup * lag / (speedup - 1.0)

    def wall(self, sim_ms: int) -> float:
        """Wall epoch seconds at which a message stamped ``sim_ms`` goes out."""
        t = sim_ms / 1000.0
        if self.speedup is None:
            return self.wall0
        if self.speedup <= 1 or t >= self.catch_up_s:
            # Real time: never before the simulated moment itself.
            caught = self.wall0 + (self.catch_up_s - self.start_s) / max(self.speedup, 1.0)
            return max(caught + (t - self.catch_up_s), t)
        return self.wall0 + (t - self.start_s) / self.speedup


class Publisher:
    """Many vehicles' MQTT clients in one process, with a bound on unacknowledged messages."""

    def __init__(
        self,
        target: MqttTarget,
        fleet: str,
        vehicles: list[str],
        max_inflight: int = 2000,
        connections: int | None = None,
    ) -> None:
        """``connections`` None: one client per vehicle, each with its status and last will
        (devices); a number: that many shared clients and no status (the load generator)."""
        self.target = target
        self.fleet = fleet
        self.vehicles = vehicles
        self.max_inflight = max_inflight
        self.announce = connections is None
        self.counts = PublishCounts()
        self._lock = threading.Condition()
        self._connected: set[int] = set()
        self._failed: str | None = None
        try:  # each vehicle's topics, formatted (and validated) once
            self._topics = [
                {
                    kind: format_topic(fleet, v, name, target.root)
                    for kind, name in _KIND_TOPIC.items()
                }
                for v in vehicles
            ]
        except ValueError as exc:
            raise PublishError(f"cannot publish: {exc}") from exc
        if connections is None:
            self._clients = [self._client(i, v) for i, v in enumerate(vehicles)]
        else:
            self._clients = [self._client(i, f"load{i}") for i in range(max(1, connections))]
        self._route = np.arange(len(vehicles)) % len(self._clients)

    def _status_topic(self, index: int) -> str:
        return self._topics[index][MESSAGE_STATUS]

    def _client(self, index: int, vehicle: str) -> mqtt.Client:
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"{self.target.client_prefix}-{self.fleet}-{vehicle}",
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        client.max_inflight_messages_set(self.max_inflight)
        client.max_queued_messages_set(0)
        own = (self.target.credentials or {}).get(vehicle)
        if own is not None:
            client.username_pw_set(*own)
        elif self.target.username:
            client.username_pw_set(self.target.username, self.target.password)
        if self.target.tls:
            client.tls_set(
                ca_certs=self.target.ca_file,
                certfile=self.target.cert_file,
                keyfile=self.target.key_file,
            )
        if self.announce:
            client.will_set(self._status_topic(index), b"offline", qos=1, retain=True)
        client.on_connect = self._on_connect(index)
        client.on_publish = self._on_publish
        return client

    def _on_connect(self, index: int) -> Callable[..., None]:
        def on_connect(
            client: mqtt.Client, userdata: object, flags: object, reason: object, props: object
        ) -> None:
            if getattr(reason, "is_failure", False):
                with self._lock:
                    self._failed = f"the broker refused client {index}: {reason}"
                    self._lock.notify_all()
                return
            if self.announce:
                self._send(client, self._status_topic(index), b"online", retain=True)
            with self._lock:
                self.counts.status += int(self.announce)
                self._connected.add(index)
                self._lock.notify_all()

        return on_connect

    def _on_publish(
        self, client: mqtt.Client, userdata: object, mid: int, reason: object, props: object
    ) -> None:
        with self._lock:
            self.counts.acked += 1
            self._lock.notify_all()

    def _send(self, client: mqtt.Client, name: str, payload: bytes, retain: bool = False) -> None:
        with self._lock:
            self.counts.messages += 1
        info = client.publish(name, payload, qos=1, retain=retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS and info.rc != mqtt.MQTT_ERR_NO_CONN:
            raise PublishError(f"publishing on {name} failed: {mqtt.error_string(info.rc)}")

    def connect(self) -> None:
        """Connect every vehicle's client and wait until all are connected."""
        for client in self._clients:
            try:
                client.connect_async(self.target.host, self.target.port, self.target.keepalive_s)
            except OSError as exc:
                raise PublishError(
                    f"cannot reach {self.target.host}:{self.target.port}: {exc}"
                ) from exc
            client.loop_start()
        deadline = time.monotonic() + self.target.connect_timeout_s
        with self._lock:
            while len(self._connected) < len(self._clients) and self._failed is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    self.close(announce=False)
                    raise PublishError(
                        f"only {len(self._connected)} of {len(self._clients)} clients connected "
                        f"to {self.target.host}:{self.target.port} within "
                        f"{self.target.connect_timeout_s:g} s"
                    )
                self._lock.wait(left)
        if self._failed:
            self.close(announce=False)
            raise PublishError(self._failed)

    def send(
        self,
        messages: Messages,
        clock: SimClock | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        """Publish ``messages`` in order, each at its clock time, keeping in-flight bounded."""
        kinds = messages.kind.tolist()
        vehicles = messages.vehicle.tolist()
        when = None
        if clock is not None and clock.speedup is not None:
            when = [clock.wall(int(t)) for t in messages.send_ms.tolist()]
        for i, payload in enumerate(messages.payload):  # one publish per message
            if stop is not None and stop.is_set():
                return
            if when is not None:
                delay = when[i] - time.time()
                if delay > 0:
                    if stop is None:
                        time.sleep(delay)
                    elif stop.wait(delay):
                        return
            with self._lock:
                while self.counts.messages - self.counts.acked >= self.max_inflight:
                    self._lock.wait(1.0)
            kind = kinds[i]
            index = vehicles[i]
            retain = kind == MESSAGE_STATUS
            name = self._topics[index][kind]
            self._send(self._clients[self._route[index]], name, payload, retain=retain)
            if kind == MESSAGE_TELEMETRY:
                self.counts.telemetry_messages += 1
                self.counts.points += int(messages.points[i])
            elif kind == MESSAGE_EVENTS:
                self.counts.events += 1
            elif kind == MESSAGE_MALFORMED:
                self.counts.malformed += 1
            else:
                self.counts.status += 1

    def drain(self, timeout_s: float = 60.0) -> bool:
        """Wait until every message is acknowledged; False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while self.counts.acked < self.counts.messages:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(min(left, 0.5))
        return True

    def close(self, announce: bool = True, timeout_s: float = 60.0) -> None:
        """Say ``offline`` (retained), wait for the acknowledgements, disconnect."""
        if announce and self.announce:
            for index, client in enumerate(self._clients):
                if index in self._connected:
                    self._send(client, self._status_topic(index), b"offline", retain=True)
                    self.counts.status += 1
        if self._connected:
            self.drain(timeout_s)
        for client in self._clients:
            client.disconnect()
            client.loop_stop()


def _status_messages(sim: Simulation, w0: float, w1: float) -> Messages:
    """``offline`` at the start and ``online`` at the end of each offline spell."""
    plan = sim.plan
    start_ms = round(sim.config.start.timestamp() * 1000)
    sel = np.flatnonzero((plan.offline_start >= w0) & (plan.offline_start < w1))
    times = np.concatenate([plan.offline_start[sel], plan.offline_end[sel]])
    vehicles = np.concatenate([plan.offline_vehicle[sel], plan.offline_vehicle[sel]])
    payloads = [b"offline"] * sel.size + [b"online"] * sel.size
    return Messages.merge(
        [
            Messages(
                send_ms=start_ms + np.round(times * 1000).astype(np.int64),
                vehicle=vehicles.astype(np.int64),
                kind=np.full(times.size, MESSAGE_STATUS, dtype=np.int64),
                payload=payloads,
                points=np.zeros(times.size, dtype=np.int64),
            )
        ]
    )


def publish(
    sim: Simulation,
    target: MqttTarget,
    mode: Mode = "json",
    speedup: float | None = None,
    batch_s: float = 30.0,
    chunk_s: float = 3600.0,
    max_inflight: int = 2000,
    stop: threading.Event | None = None,
    progress: Callable[[PublishCounts], None] | None = None,
) -> PublishCounts:
    """Publish the whole simulation (telemetry, events, bad payloads, status) over MQTT.

    The simulation's window must respect the clock rule (see :func:`live_start`). Renders
    ``chunk_s`` of simulated time at a time; messages due after a chunk's end (a buffered
    upload, a ride's end) wait for the next chunk's. Returns the exact counts.
    """
    began = time.perf_counter()
    publisher = Publisher(target, sim.config.fleet, sim.config.vehicle_ids, max_inflight)
    publisher.connect()
    clock = SimClock(sim.config.start, speedup, time.time())
    index = {v: i for i, v in enumerate(sim.config.vehicle_ids)}
    start_ms = round(sim.config.start.timestamp() * 1000)
    pending = Messages.merge([])
    w0 = 0.0
    try:
        for piece in sim.chunks(days=chunk_s / 86_400.0):
            w1 = min(w0 + chunk_s, sim.horizon_s + 1.0)
            batch = Messages.merge(
                [
                    pending,
                    telemetry_messages(piece.points, mode, batch_s),
                    event_messages(piece.events),
                    malformed_messages(piece.malformed, index),
                    _status_messages(sim, w0, w1),
                ]
            )
            due, pending = batch.split(start_ms + round(w1 * 1000))
            publisher.send(due, clock, stop)
            w0 = w1
            publisher.counts.seconds = time.perf_counter() - began
            if progress is not None:
                progress(publisher.counts)
            if stop is not None and stop.is_set():
                break
        else:
            publisher.send(pending, clock, stop)
    finally:
        publisher.close()
    publisher.counts.seconds = time.perf_counter() - began
    log.info("published", **publisher.counts.__dict__)
    return publisher.counts
