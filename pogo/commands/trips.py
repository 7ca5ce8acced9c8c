"""``pogo trips``: build trips, kilometres and CO2 (once, or ``--follow``); ``pogo trips
reconcile``: the two simulated Benguerir years against the city's published figures."""

from __future__ import annotations

import dataclasses
import signal
import threading
import time
from types import FrameType

import click
import numpy as np
import psycopg
import structlog

import emissions
import simulators
from fleet import TripRules, build_trips, pair_ride_events, segment, trip_frame
from fleet.errors import RulesError
from fleet.segmentation import Track
from pogo.commands._context import pass_settings
from pogo.errors import PogoError, UnavailableError, database_unreachable
from pogo.settings import Settings

__all__ = ["reconcile_table", "trip_rules", "trips"]

log = structlog.get_logger("pogo.trips")

# FACTS.md, "POGO electric-vehicle project", two years.
REPORTED = {"trips": 130_000.0, "km": 600_000.0, "riders": 15_000.0, "co2_t": 90.0}


def trip_rules(settings: Settings) -> TripRules:
    """``TripRules`` with the ``trips_rules`` overrides of the settings."""
    names = {f.name for f in dataclasses.fields(TripRules)}
    unknown = sorted(set(settings.trips_rules) - names)
    if unknown:
        raise PogoError(
            f"POGO_TRIPS_RULES has {unknown[0]!r}; expected one of {', '.join(sorted(names))}"
        )
    try:
        return TripRules(**settings.trips_rules)  # type: ignore[arg-type]
    except RulesError as exc:
        raise PogoError(f"POGO_TRIPS_RULES: {exc}") from exc


def _profile(settings: Settings) -> emissions.Profile:
    try:
        return emissions.get_profile(settings.trips_profile)
    except emissions.UnknownProfileError as exc:
        raise PogoError(f"POGO_TRIPS_PROFILE: {exc.args[0]}") from exc


@click.group(invoke_without_command=True)
@click.option("--follow", is_flag=True, help="Keep building every --interval s until stopped.")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=None,
    help="Seconds between runs with --follow (default POGO_TRIPS_INTERVAL_S, 60).",
)
@click.pass_context
def trips(ctx: click.Context, follow: bool, interval: float | None) -> None:
    """Build trips, kilometres and CO2 from new telemetry (once, or --follow)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(_build, follow=follow, interval=interval)


@pass_settings
def _build(settings: Settings, follow: bool, interval: float | None) -> None:
    settings.require("database_url")
    rules = trip_rules(settings)
    profile = _profile(settings)
    every = interval if interval is not None else settings.trips_interval_s
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    if follow:
        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)
    while not stop.is_set():
        try:
            report = build_trips(settings.dsn, rules, profile)
        except psycopg.OperationalError as exc:
            if not follow:
                raise UnavailableError(database_unreachable(exc)) from exc
            log.warning("trips_build_failed", error=str(exc).strip(), retry_in_s=every)
        else:
            if not follow:
                click.echo(
                    f"{report.vehicles} vehicles, {report.fixes} fixes: "
                    f"{report.inserted} trips inserted, {report.updated} updated, "
                    f"{report.deleted} deleted, {report.trips_open} still open "
                    f"({profile.version})"
                )
        if not follow:
            return
        stop.wait(every)
    log.info("trips_follow_stopped")


def reconcile_table(
    seed: int = 1, days: float = 730.0, chunk_days: float = 30.0, ride_events: bool = True
) -> list[tuple[str, float | None, float | None, float]]:
    """Simulate the ``benguerir`` scenario and compare the trips built from its points with
    the city's figures: rows of ``(indicator, computed, simulator truth, reported)``."""
    sim = simulators.simulate(simulators.benguerir(seed=seed, days=days, ride_events=ride_events))
    rules = TripRules()
    calibrated = emissions.get_profile("city-calibrated")
    ams = emissions.get_profile("ams-iii-c")
    capacity = float(sim.config.battery_kwh)
    n_trips = 0
    km = kwh = unmeasured_km = 0.0
    riders: set[str] = set()
    for piece in sim.chunks(days=chunk_days):
        p = piece.points
        if p.size == 0:
            continue
        track = Track.from_unsorted(
            p["vehicle_index"].astype(np.int64) + 1, p["ts"].astype(np.int64), p["lat"],
            p["lon"], p["speed_kmh"], p["hdop"], p["soc_pct"], p["odometer_km"],
        )  # fmt: skip
        ev = piece.events[np.isin(piece.events["type"], ["ride_start", "ride_end"])]
        rides = None
        if ride_events and ev.size:
            rides = pair_ride_events(
                ev["vehicle_index"].astype(np.int64) + 1, ev["ts"].astype(np.int64),
                ev["type"] == "ride_start", ev["ride_id"].astype(object),
                ev["rider"].astype(object),
            )  # fmt: skip
        seg = segment(track, rules, rides)
        frame = trip_frame(
            track, seg, rides, rules, None, np.full(len(seg.trips), capacity), None
        ).columns
        n_trips += len(seg.trips)
        km += float(frame["distance_km"].sum())
        measured = frame["energy_measured"]
        kwh += float(frame["energy_kwh"][measured].sum())
        unmeasured_km += float(frame["distance_km"][~measured].sum())
        riders.update(r for r in frame["rider"].tolist() if r)
    truth = sim.truth
    co2_cal = emissions.breakdown(km, kwh, calibrated, unmeasured_km).co2_avoided_kg / 1000
    co2_ams = emissions.breakdown(km, kwh, ams, unmeasured_km).co2_avoided_kg / 1000
    true_km = float(truth["distance_km"].sum())
    true_kwh = float(truth["energy_kwh"].sum())
    return [
        ("trips", float(n_trips), float(truth.size), REPORTED["trips"]),
        ("km", km, true_km, REPORTED["km"]),
        (
            "distinct riders",
            float(len(riders)) if ride_events else None,
            float(np.unique(truth["rider"]).size),
            REPORTED["riders"],
        ),
        (
            "CO2 avoided, t (city-calibrated)",
            co2_cal,
            emissions.breakdown(true_km, true_kwh, calibrated).co2_avoided_kg / 1000,
            REPORTED["co2_t"],
        ),
        (
            "CO2 avoided, t (ams-iii-c)",
            co2_ams,
            emissions.breakdown(true_km, true_kwh, ams).co2_avoided_kg / 1000,
            REPORTED["co2_t"],
        ),
        ("energy, kWh", kwh + unmeasured_km * 0.0584, true_kwh, float("nan")),
    ]


@trips.command("reconcile")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--days", type=click.FloatRange(1, 3660), default=730.0, show_default=True)
@click.option("--chunk-days", type=click.FloatRange(1, 366), default=30.0, show_default=True)
@click.option("--motion-only", is_flag=True, help="Ignore ride events (motion defines trips).")
def reconcile(seed: int, days: float, chunk_days: float, motion_only: bool) -> None:
    """Two simulated Benguerir years through the trip builder, against FACTS.md's figures.

    Exits 1 when trips, km, riders or CO2 (calibrated profile) are more than 3 % off.
    """
    began = time.perf_counter()
    rows = reconcile_table(seed, days, chunk_days, ride_events=not motion_only)
    scale = days / 730.0
    click.echo(
        f"benguerir scenario, seed {seed}, {days:g} days, "
        f"{'motion only' if motion_only else 'ride events'}; reported figures x {scale:.3f}"
    )
    header = f"{'indicator':<34}{'computed':>14}{'simulator truth':>17}{'reported':>12}{'diff':>9}"
    click.echo(header)
    click.echo("-" * len(header))
    failed = False
    for name, computed, truth, reported in rows:
        target = reported * scale
        if computed is None or np.isnan(target):
            diff = ""
        else:
            share = computed / target - 1
            diff = f"{share:+.1%}"
            if "ams-iii-c" not in name and abs(share) > 0.03:
                failed = True
        shown = "n/a" if computed is None else f"{computed:,.1f}"
        rep = "" if np.isnan(target) else f"{target:,.0f}"
        click.echo(
            f"{name:<34}{shown:>14}{'' if truth is None else f'{truth:,.1f}':>17}{rep:>12}{diff:>9}"
        )
    click.echo(
        f"(ams-iii-c is shown beside the calibration, not reconciled; "
        f"{time.perf_counter() - began:.0f} s)"
    )
    if failed:
        raise SystemExit(1)
