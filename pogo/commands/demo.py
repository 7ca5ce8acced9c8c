"""``pogo demo``: the embedded default, everything on one machine with no configuration.

A private PostgreSQL and Mosquitto (unless ``POGO_DATABASE_URL`` / ``POGO_MQTT_URL`` name
services), the schema, the simulated fleet registered as devices (the private broker is
secured as ``pogo broker config`` secures one: every vehicle its own password and ACL, an
ingester account, no anonymous clients, the ingester's registry check on), then four parts
in threads of this process: the simulated Benguerir fleet publishing over MQTT at a
speed-up, the ingester, the trip builder in follow mode and the city service. The report's
URL is printed; Ctrl-C (or SIGTERM) stops the publisher, lets the ingester flush and
acknowledge, stops the trip builder and the service, then the private services, and exits 0.
"""

from __future__ import annotations

import contextlib
import math
import os
import secrets
import shutil
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

import click
import psycopg
import structlog
from pydantic import SecretStr

import emissions
from city import BackgroundServer
from fleet import build_trips, upgrade
from fleet.alerts import deliver
from fleet.devices import hash_password, new_password, provision
from fleet.store import delete_old_dead_letters
from ingest import Ingester
from pogo.commands._context import pass_settings, store_options
from pogo.commands.broker import registry_config
from pogo.commands.db import describe_upgrade
from pogo.commands.ingest import ingest_config
from pogo.commands.serve import service_config
from pogo.commands.simulate import mqtt_target
from pogo.commands.trips import alert_rules, trip_rules, webhook
from pogo.embedded import (
    PrivateMosquitto,
    PrivatePostgres,
    default_state_dir,
    free_port,
    run_as_user,
)
from pogo.errors import PogoError
from pogo.mosquitto import Account
from pogo.settings import MqttUrl, Settings
from simulators import ScenarioConfig, benguerir, publish, simulate

__all__ = ["demo"]

log = structlog.get_logger("pogo.demo")

_DEMO_INGESTER = "pogo-demo-ingest"
#: How long the simulated fleet goes on riding in real time once it has caught up with now.
_LIVE_DAYS = 7.0


RIDER_KEY_FILE = "rider.key"


def _demo_rider_key(state_dir: Path) -> SecretStr:
    """The demo's rider key: made once (32 random bytes, hex) in the state directory, readable
    by its owner only, and read back on every later run so pseudonyms stay the same."""
    path = state_dir / RIDER_KEY_FILE
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_hex(32) + "\n")
    return SecretStr(path.read_text(encoding="utf-8").strip())


def _stop_event() -> threading.Event:
    """An event set by SIGINT (Ctrl-C), SIGTERM or SIGHUP, so the demo stops what it started."""
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    # SIGHUP too: closing the terminal stops the private services instead of leaving them.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, handler)
    return stop


class _Part:
    """One part of the demo running in a thread until its stop event is set."""

    def __init__(self, name: str, target: Callable[[threading.Event], object]) -> None:
        self.name = name
        self.stop = threading.Event()
        self.failed: BaseException | None = None
        self._target = target
        self.thread = threading.Thread(target=self._run, name=f"demo-{name}", daemon=True)

    def _run(self) -> None:
        try:
            self._target(self.stop)
        except BaseException as exc:  # reported by the demo's supervisor, which then stops
            self.failed = exc
            log.error("demo_part_failed", part=self.name, error=repr(exc))
            raise

    def start(self) -> None:
        self.thread.start()

    def halt(self, timeout: float = 60) -> None:
        self.stop.set()
        self.thread.join(timeout)


def _secured_broker(
    dsn: str, state_dir: Path, scenario: ScenarioConfig, topic_root: str
) -> tuple[PrivateMosquitto, MqttUrl, dict[str, tuple[str, str]]]:
    """The private broker, secured as ``pogo broker config`` secures one: the simulated fleet
    registered as devices (new passwords, kept in memory only), an ingester account, the
    password and ACL files from the registry. Returns the broker (not started), the
    ingester's URL and each vehicle's (username, password)."""
    with psycopg.connect(dsn) as conn:
        devices = provision(conn, scenario.fleet, scenario.vehicle_ids)
        ingester_password = new_password()
        port = free_port()
        config = registry_config(
            conn,
            directory=state_dir,
            port=port,
            host="127.0.0.1",
            topic_root=topic_root,
            ingesters=[Account(_DEMO_INGESTER, hash_password(ingester_password))],
            run_as=run_as_user(),
        )
    broker = PrivateMosquitto(state_dir, port=port, config=config)
    url = MqttUrl(
        host="127.0.0.1",
        port=port,
        tls=False,
        username=_DEMO_INGESTER,
        password=SecretStr(ingester_password),
    )
    return broker, url, {v: (c.username, c.password) for v, c in devices.items()}


def _trip_builder(
    settings: Settings, dsn: str, interval_s: float
) -> Callable[[threading.Event], None]:
    rules = trip_rules(settings)
    profile = emissions.get_profile(settings.trips_profile)
    alerts, hook = alert_rules(settings), webhook(settings)

    def follow(stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                build_trips(dsn, rules, profile, alerts=alerts, queue_alerts=hook is not None)
                delete_old_dead_letters(dsn, settings.dead_letter_retention_days)
                if hook is not None:
                    deliver(dsn, hook)
            except psycopg.OperationalError as exc:
                log.warning("trips_build_failed", error=str(exc).strip())
            stop.wait(interval_s)

    return follow


def _window(dsn: str, now: datetime, days: float) -> tuple[datetime, float]:
    """Where the simulated fleet starts and how many days it runs: the past ``days`` up to
    ``now`` (published first, to catch up), then ``_LIVE_DAYS`` in real time. A rerun
    continues: it starts after the last fix already stored when that is within the past
    ``days``, so it never replays the same seeded rides into the kept database (start afresh
    with ``--fresh``)."""
    start = now - timedelta(days=days)
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT max(ts) FROM telemetry").fetchone()
    last = row[0] if row else None
    if last is not None and last >= start:
        start = min(last, now) + timedelta(seconds=1)
        click.echo(f"continuing after the last stored fix ({last:%Y-%m-%d %H:%M:%S} UTC)")
    return start, (now - start) / timedelta(days=1) + _LIVE_DAYS


def _publisher(
    settings: Settings,
    scenario: ScenarioConfig,
    speedup: float | None,
    credentials: dict[str, tuple[str, str]] | None,
) -> Callable[[threading.Event], None]:
    sim = simulate(scenario)
    target = mqtt_target(settings, client_prefix="pogo-demo-sim", credentials=credentials)

    def run(stop: threading.Event) -> None:
        publish(sim, target, mode="json", speedup=speedup or math.inf, stop=stop)
        stop.wait()  # the simulated window is over: stay quiet until the demo stops

    return run


@click.command()
@click.option(
    "--duration",
    type=click.FloatRange(min=0),
    default=None,
    help="Stop after this many seconds (default: run until Ctrl-C).",
)
@click.option(
    "--speedup",
    type=click.FloatRange(min=1.0),
    default=None,
    help="Simulated seconds per wall second while the past days catch up with now "
    "(default: as fast as the pipeline takes them); then the fleet rides in real time.",
)
@click.option(
    "--days",
    type=click.FloatRange(0.01, 2.5),
    default=1.0,
    show_default=True,
    help="Days of the simulated Benguerir fleet's past (ending now) published first; the "
    "ingester refuses points older than 3 days.",
)
@click.option("--vehicles", type=click.IntRange(1, 1000), default=40, show_default=True)
@click.option(
    "--trips-interval",
    type=click.FloatRange(min=0.5),
    default=10.0,
    show_default=True,
    help="Seconds between trip-builder runs.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port of the city report (default: POGO_HTTP_PORT).",
)
@click.option(
    "--fresh",
    is_flag=True,
    help="Start afresh: delete the private database and broker data of earlier runs first "
    "(by default a run continues with them).",
)
@pass_settings
def demo(
    settings: Settings,
    duration: float | None,
    speedup: float | None,
    days: float,
    vehicles: int,
    trips_interval: float,
    port: int | None,
    fresh: bool,
) -> None:
    """Run everything on one machine: a private database and broker when none is configured,
    the simulated Benguerir fleet, the ingester, the trip builder and the city service."""
    stop = _stop_event()
    state_dir = settings.state_dir or default_state_dir()
    if fresh:
        if (state_dir / "postgres").exists():
            PrivatePostgres(state_dir / "postgres").stop_leftover()
        for private in (state_dir / "postgres", state_dir / "mosquitto"):
            if private.exists():
                shutil.rmtree(private)
                click.echo(f"fresh: deleted {private}")
    if port is not None:
        settings = settings.model_copy(update={"http_port": port})
    failed: list[str] = []
    credentials = None
    require_registered = settings.ingest_require_registered
    with contextlib.ExitStack() as stack:
        if settings.database_url is None:
            postgres = stack.enter_context(PrivatePostgres(state_dir / "postgres"))
            dsn = postgres.url
            click.echo(f"database: private PostgreSQL at {dsn} (data in {postgres.data_dir})")
        else:
            dsn = settings.dsn
            click.echo("database: POGO_DATABASE_URL")
        if settings.rider_key is None:
            settings = settings.model_copy(update={"rider_key": _demo_rider_key(state_dir)})
            click.echo(f"rider key: made for the demo in {state_dir / RIDER_KEY_FILE}")
        report = upgrade(dsn, store_options(settings))
        click.echo(
            f"schema: version {report.current_version}"
            f" ({'TimescaleDB' if report.timescaledb else 'plain PostgreSQL'})"
        )
        for line in describe_upgrade(report)[1:]:  # policy changes, why not TimescaleDB
            click.echo(line)
        start, window_days = _window(dsn, datetime.now(UTC), days)
        scenario = benguerir(seed=1, days=window_days, vehicles=vehicles, start=start)
        if settings.mqtt_url is None:
            broker, mqtt, credentials = _secured_broker(
                dsn, state_dir / "mosquitto", scenario, settings.mqtt_topic_root
            )
            stack.enter_context(broker)
            require_registered = True
            click.echo(
                f"broker: private Mosquitto at {broker.url} (data in {broker.state_dir}); "
                f"{len(credentials)} simulated devices registered, each with its own password "
                f"and ACL; anonymous clients refused"
            )
        else:
            mqtt = settings.mqtt
            click.echo(f"broker: {mqtt.url()}")
        local = settings.model_copy(
            update={
                "database_url": SecretStr(dsn),
                "mqtt_url": mqtt,
                "ingest_require_registered": require_registered,
                "ingest_metrics_port": 0
                if "ingest_metrics_port" not in settings.model_fields_set
                else settings.ingest_metrics_port,
            }
        )
        server = BackgroundServer(
            service_config(local, dsn),
            host=local.http_host,
            port=local.http_port,
            log_level="warning",
        )
        server.start()
        stack.callback(server.stop)
        ingester = Ingester(ingest_config(local), dsn)
        parts = [
            _Part("ingester", ingester.run),
            _Part("trip builder", _trip_builder(local, dsn, trips_interval)),
            _Part("fleet simulator", _publisher(local, scenario, speedup, credentials)),
        ]
        for part in parts:
            part.start()
        for part in parts:  # run last-in first-out: the simulator stops first, the ingester
            stack.callback(part.halt)  # flushes and acknowledges after the trip builder
        pace = "as fast as the pipeline takes it" if speedup is None else f"at x{speedup:g}"
        click.echo(
            f"simulator: {vehicles} Benguerir vehicles over MQTT, the past since "
            f"{start:%Y-%m-%d %H:%M} UTC {pace}, then live in real time; "
            f"trip builder every {trips_interval:g} s"
        )
        click.echo(f"report: {server.url}/report  (JSON API under {server.url}/api/v1/)")
        click.echo("ready; press Ctrl-C to stop")
        until = None if duration is None else time.monotonic() + duration
        while not stop.wait(0.5):
            if until is not None and time.monotonic() >= until:
                break
            failed = [p.name for p in parts if not p.thread.is_alive() and p.failed is not None]
            if failed:
                break
        click.echo("stopping")
    if failed:
        raise PogoError(f"the demo stopped because a part failed: {', '.join(failed)}")
    click.echo("stopped")
