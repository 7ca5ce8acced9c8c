"""``pogo broker config --out DIR``: a Mosquitto 2 configuration from the device registry.

Writes ``mosquitto.conf``, the password file and the ACL file (see :mod:`pogo.mosquitto`):
no anonymous clients, each active device may publish only on its own subtree, the ingester
accounts (the user and password of ``POGO_MQTT_URL``, plus ``--ingester`` names sharing that
password) read the whole tree and publish nothing. Run it again after ``pogo devices
add/revoke/rotate`` and send the broker SIGHUP: the change applies without a restart.
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path
from typing import Any

import click
import psycopg

from fleet import devices as registry
from fleet.devices import hash_password
from pogo import mosquitto
from pogo.commands._context import pass_settings
from pogo.commands.devices import registry_connection
from pogo.errors import PogoError, SettingsError
from pogo.mosquitto import Account, BrokerConfig, DeviceAccount, TlsListener
from pogo.settings import Settings

__all__ = ["broker", "registry_config"]


def registry_config(conn: psycopg.Connection[Any], **options: Any) -> BrokerConfig:
    """A secured :class:`BrokerConfig` whose devices are the registry's active ones;
    ``options`` are the other fields of :class:`BrokerConfig` (directory, ingesters...)."""
    devices = [
        DeviceAccount(d.fleet, d.vehicle, d.password_hash) for d in registry.active_accounts(conn)
    ]
    return BrokerConfig(devices=devices, secured=True, **options)


def _ingesters(settings: Settings, extra: tuple[str, ...]) -> list[Account]:
    url = settings.mqtt
    if not url.username or url.password is None:
        raise SettingsError(
            "POGO_MQTT_URL",
            url.url(),
            "mqtt://user:password@host:port, the ingester's account on the broker",
        )
    hashed = hash_password(url.password.get_secret_value())
    names = [url.username, *(name for name in extra if name != url.username)]
    return [Account(name, hashed) for name in names]


def _owner(user: str | None, owner: str | None) -> tuple[int, int] | None:
    """Who gets the files when pogo runs as root: ``--owner UID:GID``, else ``--user``'s
    account, else Mosquitto's default account when it exists here."""
    if os.geteuid() != 0:
        return None
    if owner is not None:
        uid, _, gid = owner.partition(":")
        if not uid.isdigit() or not (gid or uid).isdigit():
            raise click.BadParameter(f"{owner!r}; expected UID:GID", param_hint="--owner")
        return int(uid), int(gid or uid)
    try:
        account = pwd.getpwnam(user or "mosquitto")
    except KeyError as exc:
        if user:
            raise PogoError(f"--user {user}: no such account here; give --owner UID:GID") from exc
        return None
    return account.pw_uid, account.pw_gid


_file = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group()
def broker() -> None:
    """The MQTT broker's configuration."""


@broker.command("config")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for mosquitto.conf, passwd and acl (created if missing).",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=1883,
    show_default=True,
    help="The plain MQTT listener (0: none, TLS only).",
)
@click.option("--bind", default=None, help="Address the listeners bind (default: every one).")
@click.option(
    "--persistence",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the broker keeps sessions and queues [default: --out].",
)
@click.option(
    "--ingester",
    "ingesters",
    multiple=True,
    help="Another ingester account sharing POGO_MQTT_URL's password (one per ingester: the "
    "username is the client id). Repeatable.",
)
@click.option("--certfile", type=_file, default=None, help="Server certificate (PEM): adds TLS.")
@click.option("--keyfile", type=_file, default=None, help="Its private key (PEM).")
@click.option("--tls-port", type=click.IntRange(1, 65535), default=8883, show_default=True)
@click.option(
    "--client-cafile",
    type=_file,
    default=None,
    help="Require client certificates signed by this CA on the TLS listener.",
)
@click.option(
    "--user",
    default=None,
    help="The account Mosquitto runs as (its `user` option). Run as root, pogo gives it the "
    "files [default: Mosquitto's own, 'mosquitto'].",
)
@click.option(
    "--owner",
    default=None,
    help="UID:GID to give the files to when run as root (a broker in another container).",
)
@pass_settings
def config_command(
    settings: Settings,
    out: Path,
    port: int,
    bind: str | None,
    persistence: Path | None,
    ingesters: tuple[str, ...],
    certfile: Path | None,
    keyfile: Path | None,
    tls_port: int,
    client_cafile: Path | None,
    user: str | None,
    owner: str | None,
) -> None:
    """Write a Mosquitto 2 configuration (conf, password and ACL files) from the registry."""
    settings.require("database_url", "mqtt_url")
    if (certfile is None) != (keyfile is None):
        raise click.UsageError("--certfile and --keyfile go together")
    if client_cafile is not None and certfile is None:
        raise click.UsageError("--client-cafile needs the TLS listener (--certfile, --keyfile)")
    if port == 0 and certfile is None:
        raise click.UsageError("--port 0 leaves no listener; give --certfile and --keyfile")
    tls = None
    if certfile is not None and keyfile is not None:
        tls = TlsListener(
            tls_port,
            certfile.resolve(),
            keyfile.resolve(),
            client_cafile.resolve() if client_cafile else None,
            bind,
        )
    accounts = _ingesters(settings, ingesters)
    directory = out.resolve()
    with registry_connection(settings) as conn:
        config = registry_config(
            conn,
            directory=directory,
            port=port or None,
            host=bind,
            persistence_dir=persistence.resolve() if persistence else None,
            topic_root=settings.mqtt_topic_root,
            ingesters=accounts,
            tls=tls,
            run_as=user,
        )
    try:
        written = mosquitto.write(config, owner=_owner(user, owner))
    except ValueError as exc:
        raise PogoError(f"pogo broker config: {exc}") from exc
    except OSError as exc:
        raise PogoError(f"pogo broker config: cannot write {directory}: {exc}") from exc
    listeners = [f"mqtt :{port}"] if port else []
    listeners += [f"mqtts :{tls_port}"] if tls else []
    click.echo(
        f"wrote {', '.join(p.name for p in written)} in {directory}: "
        f"{len(config.devices)} device(s), {len(accounts)} ingester account(s) "
        f"({', '.join(a.username for a in accounts)}), {' and '.join(listeners)}"
    )
    click.echo("a running broker applies it on SIGHUP (kill -HUP <pid>)")
