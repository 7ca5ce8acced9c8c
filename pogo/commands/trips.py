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
from fleet import RulesError, TripRules, build_trips
from fleet.alerts import AlertRules, AlertRulesError, Webhook, deliver
from fleet.store import delete_old_dead_letters
from pogo.commands._context import pass_settings
from pogo.errors import PogoError, UnavailableError, database_unreachable
from pogo.reconcile import reconcile as reconcile_rows
from pogo.reconcile import reported_scale
from pogo.settings import Settings

__all__ = ["alert_rules", "trip_rules", "trips", "webhook"]

log = structlog.get_logger("pogo.trips")


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


def alert_rules(settings: Settings) -> AlertRules:
    """``AlertRules`` from the two thresholds and the ``alert_rules`` overrides."""
    names = {f.name for f in dataclasses.fields(AlertRules)} - {
        "offline_after_s",
        "low_battery_pct",
    }
    unknown = sorted(set(settings.alert_rules) - names)
    if unknown:
        raise PogoError(
            f"POGO_ALERT_RULES has {unknown[0]!r}; expected one of {', '.join(sorted(names))}"
        )
    try:
        return AlertRules(
            offline_after_s=settings.alert_offline_after_s,
            low_battery_pct=settings.alert_low_battery_pct,
            **settings.alert_rules,  # type: ignore[arg-type]
        )
    except AlertRulesError as exc:
        raise PogoError(f"POGO_ALERT_RULES: {exc}") from exc


def webhook(settings: Settings) -> Webhook | None:
    """Where alerts are delivered, or None when no webhook is configured."""
    if settings.alert_webhook_url is None or settings.alert_webhook_secret is None:
        return None
    return Webhook(
        url=settings.alert_webhook_url.get_secret_value(),
        secret=settings.alert_webhook_secret.get_secret_value().encode(),
        timeout_s=settings.alert_webhook_timeout_s,
        budget_s=settings.alert_webhook_budget_s,
    )


def _profile(settings: Settings) -> emissions.Profile:
    try:
        return emissions.get_profile(settings.trips_profile)
    except emissions.UnknownProfileError as exc:
        raise PogoError(f"POGO_TRIPS_PROFILE: {exc.args[0]}") from exc


@click.group(invoke_without_command=True)
@click.option("--follow", is_flag=True, help="Keep building every --interval s until stopped.")
@click.option(
    "--rebuild",
    is_flag=True,
    help="Rebuild every trip from the stored telemetry (after a change of trip rules); "
    "with --follow, the first run rebuilds.",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=None,
    help="Seconds between runs with --follow (default POGO_TRIPS_INTERVAL_S, 60).",
)
@click.pass_context
def trips(ctx: click.Context, follow: bool, rebuild: bool, interval: float | None) -> None:
    """Build trips, kilometres and CO2 from new telemetry (once, or --follow)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(_build, follow=follow, rebuild=rebuild, interval=interval)


@pass_settings
def _build(settings: Settings, follow: bool, rebuild: bool, interval: float | None) -> None:
    settings.require("database_url")
    rules = trip_rules(settings)
    profile = _profile(settings)
    alerts = alert_rules(settings)
    hook = webhook(settings)
    every = interval if interval is not None else settings.trips_interval_s
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    if follow:
        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)
    while not stop.is_set():
        try:
            report = build_trips(
                settings.dsn,
                rules,
                profile,
                max_age_s=settings.ingest_max_age_days * 86_400,
                rebuild=rebuild,
                alerts=alerts,
                queue_alerts=hook is not None,
            )
            deleted = delete_old_dead_letters(settings.dsn, settings.dead_letter_retention_days)
            # After the commit, within its time budget: a receiver that is down or slow never
            # holds the build up; what is not delivered now waits for the next run.
            sent = deliver(settings.dsn, hook) if hook is not None else None
        except psycopg.OperationalError as exc:
            if not follow:
                raise UnavailableError(database_unreachable(exc)) from exc
            log.warning("trips_build_failed", error=str(exc).strip(), retry_in_s=every)
        else:
            rebuild = False  # with --follow, only the first run rebuilds
            if deleted:
                log.info(
                    "dead_letters_deleted",
                    count=deleted,
                    older_than_days=settings.dead_letter_retention_days,
                )
            if not follow:
                click.echo(
                    f"{report.vehicles} vehicles, {report.fixes} fixes: "
                    f"{report.inserted} trips inserted, {report.updated} updated, "
                    f"{report.deleted} deleted, {report.trips_open} still open "
                    f"({profile.version}); alerts: {sum(report.alerts.opened.values())} "
                    f"opened, {sum(report.alerts.cleared.values())} cleared"
                    + ("" if sent is None else f", {sent.delivered} delivered")
                    + ("" if sent is None or not sent.failed else f", {sent.failed} to retry")
                )
        if not follow:
            return
        stop.wait(every)
    log.info("trips_follow_stopped")


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
    rows = reconcile_rows(seed, days, chunk_days, ride_events=not motion_only)
    scale = reported_scale(days)
    click.echo(
        f"benguerir scenario, seed {seed}, {days:g} days, "
        f"{'motion only' if motion_only else 'ride events'}; reported figures x {scale:.3f}"
    )
    header = f"{'indicator':<34}{'computed':>14}{'simulator truth':>17}{'reported':>12}{'diff':>9}"
    click.echo(header)
    click.echo("-" * len(header))
    for row in rows:
        error = row.error(scale)
        target = row.reported * scale
        computed = "n/a" if row.computed is None else f"{row.computed:,.1f}"
        reported = "" if np.isnan(target) else f"{target:,.0f}"
        diff = "" if error is None else f"{error:+.1%}"
        click.echo(f"{row.indicator:<34}{computed:>14}{row.truth:>17,.1f}{reported:>12}{diff:>9}")
    click.echo(
        f"(ams-iii-c is shown beside the calibration, not reconciled; "
        f"{time.perf_counter() - began:.0f} s)"
    )
    if any(row.off(scale) for row in rows):
        raise SystemExit(1)
