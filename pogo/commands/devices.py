"""``pogo devices add|list|revoke|rotate``: the device registry (one MQTT credential per
motorcycle, printed once, stored hashed). The broker applies a change once ``pogo broker
config`` has rewritten its files and it received SIGHUP."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import click
import psycopg

from fleet import devices as registry
from pogo.commands._context import pass_settings
from pogo.errors import PogoError
from pogo.settings import Settings

__all__ = ["devices", "registry_connection"]

_RELOAD_HINT = "apply it: `pogo broker config --out DIR`, then SIGHUP to the broker"


@contextlib.contextmanager
def registry_connection(settings: Settings) -> Iterator[psycopg.Connection[Any]]:
    """A connection to the registry's database, committed on success; a schema without the
    registry is one line (an unreachable database is the CLI's one line, exit status 3)."""
    settings.require("database_url")
    try:
        with psycopg.connect(settings.dsn, connect_timeout=10) as conn:
            yield conn
    except psycopg.errors.UndefinedTable as exc:
        raise PogoError("the database has no device registry; run `pogo db upgrade`") from exc


def _echo_credential(credential: registry.Credential, as_json: bool, what: str) -> None:
    if as_json:
        click.echo(json.dumps({"username": credential.username, "password": credential.password}))
        return
    click.echo(f"{what} {credential.username}")
    click.echo(f"  username: {credential.username}")
    click.echo(f"  password: {credential.password}")
    click.echo("The password is shown only this once; the registry keeps its hash.")
    click.echo(_RELOAD_HINT)


@click.group()
def devices() -> None:
    """The device registry: one MQTT credential per motorcycle."""


_json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print a JSON object with username and password."
)


@devices.command("add")
@click.argument("fleet")
@click.argument("vehicle")
@_json_option
@pass_settings
def add(settings: Settings, fleet: str, vehicle: str, as_json: bool) -> None:
    """Register a motorcycle (or reinstate a revoked one); print its credential once."""
    with registry_connection(settings) as conn:
        credential = registry.add_device(conn, fleet, vehicle)
    _echo_credential(credential, as_json, "registered")


@devices.command("rotate")
@click.argument("fleet")
@click.argument("vehicle")
@_json_option
@pass_settings
def rotate(settings: Settings, fleet: str, vehicle: str, as_json: bool) -> None:
    """Give a motorcycle a new password (the old one is refused once the broker reloads)."""
    with registry_connection(settings) as conn:
        credential = registry.rotate_device(conn, fleet, vehicle)
    _echo_credential(credential, as_json, "rotated")


@devices.command("revoke")
@click.argument("fleet")
@click.argument("vehicle")
@pass_settings
def revoke(settings: Settings, fleet: str, vehicle: str) -> None:
    """Revoke a motorcycle's credential (refused once the broker reloads)."""
    with registry_connection(settings) as conn:
        changed = registry.revoke_device(conn, fleet, vehicle)
    name = registry.device_username(fleet, vehicle)
    click.echo(f"revoked {name}; {_RELOAD_HINT}" if changed else f"{name} was already revoked")


def _when(value: object) -> str:
    return value.isoformat(timespec="seconds") if hasattr(value, "isoformat") else ""


@devices.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per device.")
@pass_settings
def list_command(settings: Settings, as_json: bool) -> None:
    """List the registered motorcycles (never a password or hash)."""
    with registry_connection(settings) as conn:
        rows = registry.list_devices(conn)
    if as_json:
        for d in rows:
            record = {
                "fleet": d.fleet,
                "vehicle": d.vehicle,
                "username": d.username,
                "state": "active" if d.active else "revoked",
                "created_at": _when(d.created_at),
                "rotated_at": _when(d.rotated_at) or None,
                "revoked_at": _when(d.revoked_at) or None,
            }
            click.echo(json.dumps(record))
        return
    click.echo(f"{'username':40s} {'state':8s} {'created':25s} {'rotated':25s} revoked")
    for d in rows:
        state = "active" if d.active else "revoked"
        click.echo(
            f"{d.username:40s} {state:8s} {_when(d.created_at):25s} "
            f"{_when(d.rotated_at) or '-':25s} {_when(d.revoked_at) or '-'}"
        )
    active = sum(d.active for d in rows)
    click.echo(f"{len(rows)} device(s), {active} active")
