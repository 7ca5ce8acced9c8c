"""``pogo db upgrade``: create or upgrade the schema."""

from __future__ import annotations

import click

from fleet import upgrade
from pogo.commands._context import pass_settings, store_options
from pogo.settings import Settings

__all__ = ["db"]


@click.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@pass_settings
def upgrade_command(settings: Settings) -> None:
    """Create or upgrade the schema (idempotent; safe to run concurrently)."""
    settings.require("database_url")
    report = upgrade(settings.dsn, store_options(settings))
    path = "TimescaleDB" if report.timescaledb else "plain PostgreSQL"
    applied = ", ".join(report.applied) if report.applied else "nothing to apply"
    click.echo(f"schema at version {report.current_version} ({path}); {applied}")
