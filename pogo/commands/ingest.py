"""``pogo ingest``: the ingester, until SIGTERM or SIGINT."""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType

import click

from ingest import IngestConfig, Ingester
from pogo.commands._context import long_running, pass_settings
from pogo.settings import Settings

__all__ = ["ingest", "ingest_config"]


def ingest_config(settings: Settings) -> IngestConfig:
    """The ingester's configuration from the settings (database and broker URLs required)."""
    settings.require("database_url", "mqtt_url", "rider_key")
    mqtt = settings.mqtt
    return IngestConfig(
        mqtt_host=mqtt.host,
        mqtt_port=mqtt.port,
        mqtt_tls=mqtt.tls,
        mqtt_username=mqtt.username,
        mqtt_password=mqtt.password.get_secret_value() if mqtt.password else None,
        mqtt_ca_file=str(settings.mqtt_ca_file) if settings.mqtt_ca_file else None,
        mqtt_cert_file=str(settings.mqtt_cert_file) if settings.mqtt_cert_file else None,
        mqtt_key_file=str(settings.mqtt_key_file) if settings.mqtt_key_file else None,
        client_id=_client_id(settings),
        shared_group=settings.mqtt_shared_group,
        session_expiry_s=settings.mqtt_session_expiry_s,
        topic_root=settings.mqtt_topic_root,
        batch_points=settings.ingest_batch_points,
        flush_interval_s=settings.ingest_flush_interval_s,
        queue_messages=settings.ingest_queue_messages,
        receive_maximum=min(settings.ingest_receive_maximum, settings.ingest_queue_messages),
        max_payload_bytes=settings.ingest_max_payload_bytes,
        max_future_s=settings.ingest_max_future_s,
        max_age_days=settings.ingest_max_age_days,
        pool_size=settings.database_pool_size,
        committers=min(2, settings.database_pool_size),
        metrics_port=settings.ingest_metrics_port,
        require_registered=settings.ingest_require_registered,
        registry_refresh_s=settings.ingest_registry_refresh_s,
        metrics_host=settings.ingest_metrics_host,
        rider_key=settings.rider,
    )


def _client_id(settings: Settings) -> str:
    """POGO_MQTT_CLIENT_ID when set; otherwise the broker account's username when there is
    one (a broker configured by ``pogo broker config`` uses the username as the client id
    anyway), else the default ``pogo-ingest``."""
    username = settings.mqtt.username
    if "mqtt_client_id" in settings.model_fields_set or not username:
        return settings.mqtt_client_id
    return username


@click.command()
@pass_settings
def ingest(settings: Settings) -> None:
    """Run the ingester until SIGTERM/SIGINT, then flush, acknowledge and exit 0."""
    config = ingest_config(settings)
    long_running()
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    ingester = Ingester(config, settings.dsn)
    if not ingester.run(stop):
        click.echo(
            "pogo ingest: stopped before the database came back; what was not committed was "
            "not acknowledged, so the broker redelivers it",
            err=True,
        )
        sys.exit(1)
