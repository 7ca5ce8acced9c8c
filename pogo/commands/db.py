"""``pogo db upgrade``: create or upgrade the schema, and say which store it is and why."""

from __future__ import annotations

import click
import psycopg

from fleet import UpgradeReport, upgrade
from pogo.commands._context import pass_settings, store_options
from pogo.errors import PogoError
from pogo.settings import Settings

__all__ = ["db", "describe_upgrade"]


@click.group()
def db() -> None:
    """The database schema."""


def describe_upgrade(report: UpgradeReport) -> list[str]:
    """The lines an upgrade prints: the version and store, then one line per policy change, and
    the one warning that says why TimescaleDB is not used (``POGO_TIMESCALEDB=auto``)."""
    path = "plain PostgreSQL"
    if report.timescaledb:
        path = f"TimescaleDB {report.timescaledb_version}"
    applied = ", ".join(report.applied) if report.applied else "nothing to apply"
    lines = [f"schema at version {report.current_version} ({path}); {applied}"]
    lines += [f"policy: {change}" for change in report.changes]
    if report.plain_reason:
        lines.append(
            f"warning: not using TimescaleDB: {report.plain_reason} "
            "(POGO_TIMESCALEDB=off silences this; =require makes it an error)"
        )
    return lines


@db.command("upgrade")
@pass_settings
def upgrade_command(settings: Settings) -> None:
    """Create or upgrade the schema (idempotent; safe to run concurrently)."""
    settings.require("database_url")
    try:
        report = upgrade(settings.dsn, store_options(settings))
    except psycopg.OperationalError:
        raise  # unreachable or refusing: the CLI's one line, exit status 3
    except psycopg.Error as exc:  # the whole upgrade rolled back; say what the server said
        raise PogoError(f"the upgrade failed and changed nothing: {exc}".strip()) from exc
    for line in describe_upgrade(report):
        click.echo(line, err=line.startswith("warning:"))
