"""``pogo simulate``: the fleet simulator (the ``benguerir`` scenario).

Output modes: ``mqtt-json`` / ``mqtt-batch`` / ``mqtt-binary`` publish over MQTT (QoS 1) in
real time (``--speedup 1``), accelerated (``--speedup X``) or flat out (no ``--speedup``);
``load`` publishes flat out from ``--processes`` processes for the ingest benchmark;
``backfill`` writes the history straight into the database with COPY; ``none`` only plans the
rides (with ``--calibration``, the quickest way to see the scenario's figures).

Live modes never let the simulated clock run ahead of the wall clock (the ingester refuses
points from the future); see ``simulators.publish.live_start``.
"""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import click

from pogo.backfill import backfill
from pogo.commands._context import pass_settings
from pogo.errors import PogoError
from pogo.settings import Settings
from simulators import FaultRates, ScenarioConfig, SimulatorError, benguerir, write_truth
from simulators import simulate as run_simulation
from simulators.calibration import calibration as calibration_of
from simulators.calibration import format_calibration
from simulators.load import load
from simulators.publish import MqttTarget, live_start, publish
from simulators.wire import Mode

__all__ = ["SimulateRun", "simulate"]

OUTPUTS = ("mqtt-json", "mqtt-batch", "mqtt-binary", "load", "backfill", "none")
_MODES: dict[str, Mode] = {"mqtt-json": "json", "mqtt-batch": "batch", "mqtt-binary": "binary"}


def mqtt_target(
    settings: Settings,
    client_prefix: str = "pogo-sim",
    credentials: Mapping[str, tuple[str, str]] | None = None,
) -> MqttTarget:
    """Where the simulator publishes, from the settings (broker URL, TLS files, topic root);
    ``credentials``: each vehicle's own (username, password)."""
    settings.require("mqtt_url")
    url = settings.mqtt
    return MqttTarget(
        host=url.host,
        port=url.port,
        tls=url.tls,
        username=url.username,
        password=url.password.get_secret_value() if url.password else None,
        credentials=credentials,
        ca_file=str(settings.mqtt_ca_file) if settings.mqtt_ca_file else None,
        cert_file=str(settings.mqtt_cert_file) if settings.mqtt_cert_file else None,
        key_file=str(settings.mqtt_key_file) if settings.mqtt_key_file else None,
        root=settings.mqtt_topic_root,
        client_prefix=client_prefix,
    )


def read_credentials(path: Path, fleet: str) -> dict[str, tuple[str, str]]:
    """Vehicle -> (username, password) from a file of ``pogo devices add --json`` lines
    (usernames ``{fleet}/{vehicle}``; other fleets' lines are skipped)."""
    credentials = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise PogoError(f"--credentials {path}: cannot read it ({exc})") from exc
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            username, password = str(record["username"]), str(record["password"])
        except (ValueError, KeyError, TypeError) as exc:
            raise PogoError(
                f"--credentials {path}, line {number}: expected a JSON object with username "
                f"and password, as `pogo devices add --json` prints ({type(exc).__name__})"
            ) from None
        owner, _, vehicle = username.partition("/")
        if owner == fleet and vehicle:
            credentials[vehicle] = (username, password)
    return credentials


@dataclass(frozen=True)
class SimulateRun:
    """One ``pogo simulate`` run, as its options give it (see the options' help)."""

    scenario: str
    seed: int
    vehicles: int
    days: float | None
    start: datetime | None
    speedup: float | None
    output: str
    ride_events: bool
    faults: bool
    fault_overrides: Mapping[str, float | None]  # FaultRates field -> rate, None: the default
    processes: int
    load_encoding: Mode
    batch_seconds: float
    truth_path: Path | None
    calibration: bool
    credentials_path: Path | None

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> SimulateRun:
        """From the command's options (the fault-rate options gathered by FaultRates field)."""
        given = dict(options)
        overrides = {field: given.pop(option) for option, field in _FAULT_OPTIONS.items()}
        given["load_encoding"] = _MODES["mqtt-" + given["load_encoding"]]
        return cls(fault_overrides=overrides, **given)

    @property
    def historical(self) -> bool:
        """A window of history (backfill, or planning only) rather than a live one."""
        return self.output in ("backfill", "none")

    def fault_rates(self) -> FaultRates:
        """The default rates (or none, with ``--no-faults``) with the rates given replacing."""
        rates = FaultRates() if self.faults else FaultRates.none()
        given = {k: v for k, v in self.fault_overrides.items() if v is not None}
        return FaultRates(**{**rates.__dict__, **given})

    def scenario_config(self, now: datetime) -> ScenarioConfig:
        """The scenario to simulate; a live window ends at ``now`` (see ``live_start``)."""
        days = self.days if self.days is not None else (730.0 if self.historical else 1.0)
        if self.historical:
            default = datetime(2024, 1, 1, tzinfo=UTC)
            begin = self.start.replace(tzinfo=UTC) if self.start else default
        else:
            begin = live_start(now, days, self.speedup)
        return benguerir(
            seed=self.seed,
            days=days,
            vehicles=self.vehicles,
            start=begin,
            ride_events=self.ride_events,
            faults=self.fault_rates(),
        )


_FAULT_OPTIONS = {
    "duplicate_rate": "duplicate",
    "out_of_order_rate": "out_of_order",
    "malformed_rate": "malformed",
    "multipath_rate": "multipath",
    "clock_skew_per_day": "clock_skew_per_day",
    "offline_buffer_per_day": "offline_buffer_per_day",
    "coverage_gap_per_day": "coverage_gap_per_day",
}


@click.command("simulate")
@click.option(
    "--scenario", type=click.Choice(["benguerir"]), default="benguerir", show_default=True
)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--vehicles", type=click.IntRange(1, 100_000), default=40, show_default=True)
@click.option(
    "--days",
    type=click.FloatRange(0.01, 3660),
    default=None,
    help="Simulated days [default: 730 for backfill and none, 1 otherwise].",
)
@click.option(
    "--start",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    default=None,
    help="Window start (UTC) for backfill/none [default: 2024-01-01]; live modes end now.",
)
@click.option(
    "--speedup",
    type=click.FloatRange(min=1.0),
    default=None,
    help="Simulated seconds per wall second (1 = real time); omit to publish flat out.",
)
@click.option("--output", type=click.Choice(OUTPUTS), default="mqtt-json", show_default=True)
@click.option(
    "--ride-events/--no-ride-events",
    default=True,
    show_default=True,
    help="Send ride_start/ride_end (off: a motion-only fleet).",
)
@click.option(
    "--faults/--no-faults",
    default=True,
    show_default=True,
    help="Device and GPS faults at the default rates, or none.",
)
@click.option("--duplicate-rate", type=click.FloatRange(0, 0.5), default=None)
@click.option("--out-of-order-rate", type=click.FloatRange(0, 0.5), default=None)
@click.option("--malformed-rate", type=click.FloatRange(0, 0.5), default=None)
@click.option("--multipath-rate", type=click.FloatRange(0, 0.5), default=None)
@click.option(
    "--clock-skew-per-day",
    type=click.FloatRange(0),
    default=None,
    help="Clock-skew episodes per vehicle-day.",
)
@click.option(
    "--offline-buffer-per-day",
    type=click.FloatRange(0),
    default=None,
    help="Offline-buffering episodes (batch upload after) per vehicle-day.",
)
@click.option(
    "--coverage-gap-per-day",
    type=click.FloatRange(0),
    default=None,
    help="GPS coverage gaps (no fix) per vehicle-day.",
)
@click.option(
    "--processes",
    type=click.IntRange(1, 64),
    default=2,
    show_default=True,
    help="Publishing processes in load mode.",
)
@click.option(
    "--load-encoding",
    type=click.Choice(["json", "batch", "binary"]),
    default="binary",
    show_default=True,
    help="Telemetry encoding in load mode.",
)
@click.option(
    "--batch-seconds",
    type=click.FloatRange(0.1, 3600),
    default=30.0,
    show_default=True,
    help="A device's batching window (mqtt-batch, mqtt-binary, load).",
)
@click.option(
    "--truth",
    "truth_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the ground truth here (.csv or .npz).",
)
@click.option(
    "--calibration",
    is_flag=True,
    help="Print the simulated figures against the city's reported ones.",
)
@click.option(
    "--credentials",
    "credentials_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Each vehicle's own MQTT account: a file of `pogo devices add --json` lines.",
)
@pass_settings
def simulate(settings: Settings, /, **options: Any) -> None:
    """Run the fleet simulator."""
    try:
        _run(settings, SimulateRun.from_options(options))
    except SimulatorError as exc:
        raise PogoError(f"pogo simulate: {exc}") from exc


def _run(settings: Settings, run: SimulateRun) -> None:
    config = run.scenario_config(datetime.now(UTC))
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    if run.output == "load":
        counts = load(
            config,
            mqtt_target(settings),
            run.load_encoding,
            processes=run.processes,
            batch_s=run.batch_seconds,
        )
        click.echo(
            f"load: {counts.points:,} points in {counts.telemetry_messages:,} messages "
            f"({counts.distinct_points:,} distinct) from {counts.processes} processes, "
            f"{counts.acked:,}/{counts.messages:,} acknowledged in {counts.seconds:.1f} s "
            f"({counts.points_per_second:,.0f} points/s)"
        )
        return
    sim = run_simulation(config)
    if run.output == "backfill":
        settings.require("database_url", "rider_key")
        result = backfill(settings.dsn, sim, settings.rider)
        click.echo(
            f"backfill: {result.points_inserted:,} points ({result.duplicates:,} duplicates "
            f"skipped), {result.events_inserted:,} events, {result.vehicles} vehicles in "
            f"{result.seconds:.1f} s ({result.points_per_second:,.0f} points/s)"
        )
    elif run.output in _MODES:
        path = run.credentials_path
        credentials = read_credentials(path, config.fleet) if path else None
        published = publish(
            sim,
            mqtt_target(settings, credentials=credentials),
            mode=_MODES[run.output],
            speedup=run.speedup,
            batch_s=run.batch_seconds,
            stop=stop,
        )
        click.echo(
            f"published: {published.points:,} points in {published.telemetry_messages:,} "
            f"messages, {published.events:,} events, {published.malformed:,} malformed, "
            f"{published.status:,} status; {published.acked:,}/{published.messages:,} "
            f"acknowledged in {published.seconds:.1f} s"
        )
    if run.truth_path is not None:
        write_truth(sim, run.truth_path)
        click.echo(f"ground truth: {sim.truth.size:,} rides written to {run.truth_path}")
    if run.calibration:
        click.echo(format_calibration(calibration_of(sim), config.days))
