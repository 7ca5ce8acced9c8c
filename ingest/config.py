"""The ingester's configuration: a plain dataclass (the ``pogo`` layer builds it from settings)."""

from __future__ import annotations

from dataclasses import dataclass, field

from fleet.riders import RiderKey
from wire.topics import DEFAULT_ROOT

__all__ = ["IngestConfig"]


@dataclass(frozen=True)
class IngestConfig:
    """Everything an :class:`ingest.Ingester` needs besides the database URL.

    ``receive_maximum`` is the MQTT 5 Receive Maximum the ingester announces: how many QoS 1
    messages the broker may have in flight, unacknowledged, to it. Since nothing is
    acknowledged before commit, it also bounds what the ingester holds. ``committers``
    batches are written at once (each its own connection and transaction) while the next one
    is decoded; a batch is flushed at ``batch_points`` points or at Receive Maximum /
    (committers + 1) messages, so the broker keeps sending while the commits run.
    ``metrics_port`` None serves no metrics; 0 picks a free port (see ``Ingester.metrics_port``).
    With ``mqtt_tls``, ``mqtt_ca_file`` is the CA the broker's certificate is checked against
    (None: the system's), and ``mqtt_cert_file``/``mqtt_key_file`` a client certificate.
    ``require_registered``: messages of vehicles without an active device registry entry are
    dead-lettered as ``unregistered`` (the registry is read again every
    ``registry_refresh_s``, and at most once a second when an unknown vehicle shows up).
    ``metrics_host`` is the address it listens on (this machine only by default).
    """

    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    mqtt_tls: bool = False
    mqtt_username: str | None = None
    mqtt_password: str | None = field(default=None, repr=False)
    mqtt_ca_file: str | None = None
    mqtt_cert_file: str | None = None
    mqtt_key_file: str | None = None
    client_id: str = "pogo-ingest"
    shared_group: str | None = None
    session_expiry_s: int = 7 * 24 * 3600
    keepalive_s: int = 30
    receive_maximum: int = 3000
    topic_root: str = DEFAULT_ROOT
    batch_points: int = 10_000
    flush_interval_s: float = 0.25
    queue_messages: int = 20_000
    max_payload_bytes: int = 1024 * 1024  # admits the largest batch of the contract (~370 KB)
    max_future_s: float = 300.0
    max_age_days: float = 3.0
    pool_size: int = 2
    committers: int = 2
    metrics_host: str = "127.0.0.1"  # only this machine; compose sets 0.0.0.0 for Prometheus
    metrics_port: int | None = 9108
    retry_min_s: float = 0.1
    retry_max_s: float = 5.0
    stop_timeout_s: float = 30.0
    require_registered: bool = False
    registry_refresh_s: float = 30.0
    #: The key of the rider pseudonyms (``POGO_RIDER_KEY``); an ingester needs one.
    rider_key: RiderKey | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not 1 <= self.receive_maximum <= 65535:
            raise ValueError(f"receive_maximum is {self.receive_maximum}; expected 1 to 65535")
        if self.queue_messages < self.receive_maximum:
            raise ValueError(
                f"queue_messages is {self.queue_messages}; expected at least receive_maximum "
                f"({self.receive_maximum})"
            )
        if not 1 <= self.committers <= self.pool_size:
            raise ValueError(
                f"committers is {self.committers}; expected 1 to pool_size ({self.pool_size})"
            )
        if self.rider_key is None:
            raise ValueError("rider_key is None; expected the key of the rider pseudonyms")
        if self.batch_points < 1 or self.flush_interval_s <= 0:
            raise ValueError("batch_points must be >= 1 and flush_interval_s > 0")
