"""``pogo demo``: the embedded default, everything on one machine with no configuration."""

from __future__ import annotations

import contextlib
import signal
import threading
from types import FrameType

import click
import structlog

from fleet.store import upgrade
from pogo.commands._context import pass_settings, store_options
from pogo.embedded import PrivateMosquitto, PrivatePostgres, default_state_dir
from pogo.settings import MqttUrl, Settings

__all__ = ["demo"]

log = structlog.get_logger("pogo.demo")


def _stop_event() -> threading.Event:
    """An event set by SIGINT (Ctrl-C) or SIGTERM, so the demo stops what it started."""
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


@click.command()
@click.option(
    "--duration",
    type=click.FloatRange(min=0),
    default=None,
    help="Stop after this many seconds (default: run until Ctrl-C).",
)
@pass_settings
def demo(settings: Settings, duration: float | None) -> None:
    """Run everything on one machine: a private database and broker when none is configured."""
    stop = _stop_event()
    state_dir = settings.state_dir or default_state_dir()
    with contextlib.ExitStack() as stack:
        if settings.database_url is None:
            postgres = stack.enter_context(PrivatePostgres(state_dir / "postgres"))
            dsn = postgres.url
            click.echo(f"database: private PostgreSQL at {dsn} (data in {postgres.data_dir})")
        else:
            dsn = settings.dsn
            click.echo("database: POGO_DATABASE_URL")
        if settings.mqtt_url is None:
            broker = stack.enter_context(PrivateMosquitto(state_dir / "mosquitto"))
            mqtt = MqttUrl.parse(broker.url)
            click.echo(f"broker: private Mosquitto at {mqtt.url()} (data in {broker.state_dir})")
        else:
            mqtt = settings.mqtt
            click.echo(f"broker: {mqtt.url()}")
        report = upgrade(dsn, store_options(settings))
        click.echo(
            f"schema: version {report.current_version}"
            f" ({'TimescaleDB' if report.timescaledb else 'plain PostgreSQL'})"
        )
        click.echo(
            "ready; press Ctrl-C to stop",
        )
        stop.wait(duration)
        click.echo("stopping")
    click.echo("stopped")
