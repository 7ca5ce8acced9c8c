"""Mosquitto 2 configuration files: ``mosquitto.conf``, the password file and the ACL file.

:func:`render` is pure (a :class:`BrokerConfig` in, file names and texts out); :func:`write`
puts them in place atomically, so a broker reloading on SIGHUP never reads half a file. The
same renderer writes the private brokers of ``pogo demo`` and the tests (open or secured) and
``pogo broker config``'s production configuration, so there is one place that says how a
broker serving this project is set.

A secured configuration: no anonymous clients; a password file of the active devices
(username ``{fleet}/{vehicle}``) and the ingester accounts; an ACL file in which each device
may write only ``{root}/{fleet}/{vehicle}/telemetry|events|status`` and read nothing, and
each ingester may read ``{root}/#`` and write nothing; ``use_username_as_clientid``, so the
client id is the authenticated username and no client can take over another's session. ACL
entries are one ``user`` block per account rather than ``%u`` patterns: patterns apply to
every account (an ingester would get write access to ``{root}/{its name}/telemetry``), and
Mosquitto looks a client's block up once, at connect, so checking a message costs the same.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fleet.devices import device_username
from wire.topics import DEFAULT_ROOT, KINDS, format_topic, subscription

__all__ = [
    "ACL_FILE",
    "BROKER_LIMITS",
    "CONF_FILE",
    "PASSWORD_FILE",
    "Account",
    "BrokerConfig",
    "DeviceAccount",
    "TlsListener",
    "render",
    "write",
]

CONF_FILE = "mosquitto.conf"
PASSWORD_FILE = "passwd"  # noqa: S105 - a file name
ACL_FILE = "acl"

# Mosquitto's defaults silently drop QoS 1 messages for a slow or absent subscriber once 1,000
# are queued, and let only 20 be in flight to one client. A fleet's bursts and an ingester
# that is down for a while need room: one million queued messages per client (~300 MB at
# telemetry sizes), no byte cap, and enough in flight for batched manual acknowledgements.
BROKER_LIMITS: dict[str, str] = {
    "max_queued_messages": "1000000",
    "max_queued_bytes": "0",
    "max_inflight_messages": "1000",
    "persistent_client_expiration": "14d",
    "autosave_interval": "30",
    "message_size_limit": "0",
    "max_packet_size": "4194304",
}


@dataclass(frozen=True)
class Account:
    """An ingester's MQTT account: its username (also its client id) and password hash."""

    username: str
    password_hash: str = field(repr=False)


@dataclass(frozen=True)
class DeviceAccount:
    """A device's MQTT account (username ``{fleet}/{vehicle}``)."""

    fleet: str
    vehicle: str
    password_hash: str = field(repr=False)

    @property
    def username(self) -> str:
        return device_username(self.fleet, self.vehicle)


@dataclass(frozen=True)
class TlsListener:
    """A TLS listener: server certificate and key; with ``client_cafile`` every client must
    also present a certificate signed by that CA (on top of its password)."""

    port: int
    certfile: Path
    keyfile: Path
    client_cafile: Path | None = None
    host: str | None = None


@dataclass(frozen=True)
class BrokerConfig:
    """What :func:`render` needs.

    ``directory`` holds the files (and the persistence, unless ``persistence_dir`` says
    otherwise); ``port`` None writes no plain listener; ``host`` None binds every interface.
    ``secured`` False writes the open broker of the tests and the benchmark's reference run
    (anonymous clients, no password or ACL file).
    """

    directory: Path
    port: int | None = 1883
    host: str | None = None
    persistence_dir: Path | None = None
    topic_root: str = DEFAULT_ROOT
    devices: Sequence[DeviceAccount] = ()
    ingesters: Sequence[Account] = ()
    tls: TlsListener | None = None
    secured: bool = True
    run_as: str | None = None  # the `user` Mosquitto drops root privileges to


def _listener(port: int, host: str | None) -> str:
    return f"listener {port} {host}" if host else f"listener {port}"


def _conf(config: BrokerConfig) -> str:
    directory = config.directory
    persistence = config.persistence_dir or directory
    lines = [
        "# Written by `pogo broker config`; regenerate it rather than editing it.",
        "per_listener_settings false",
    ]
    if config.port is not None:
        lines.append(_listener(config.port, config.host))
    if config.tls is not None:
        tls = config.tls
        lines += [
            _listener(tls.port, tls.host),
            f"certfile {tls.certfile}",
            f"keyfile {tls.keyfile}",
            "tls_version tlsv1.2",
        ]
        if tls.client_cafile is not None:
            lines += [f"cafile {tls.client_cafile}", "require_certificate true"]
    if config.secured:
        lines += [
            "allow_anonymous false",
            f"password_file {directory / PASSWORD_FILE}",
            f"acl_file {directory / ACL_FILE}",
            "use_username_as_clientid true",
        ]
    else:
        lines.append("allow_anonymous true")
    lines += [
        "persistence true",
        f"persistence_location {persistence}/",
        "log_dest stderr",
        "log_type error",
        "log_type warning",
    ]
    if config.secured:
        lines.append("log_type notice")  # refused connections, with their client and address
    if config.run_as:
        lines.append(f"user {config.run_as}")
    lines.extend(f"{key} {value}" for key, value in BROKER_LIMITS.items())
    return "\n".join(lines) + "\n"


def _check_ingesters(ingesters: Sequence[Account]) -> None:
    names = [a.username for a in ingesters]
    for name in names:
        if not name or "/" in name or any(c.isspace() or c in ":+#" for c in name):
            raise ValueError(
                f"ingester username {name!r}; expected no '/', ':', '+', '#' or spaces "
                "(a '/' is what makes a device's username)"
            )
    if len(set(names)) != len(names):
        raise ValueError(f"ingester usernames repeat: {names}; each ingester needs its own")


def _passwords(config: BrokerConfig) -> str:
    accounts = [(a.username, a.password_hash) for a in config.ingesters]
    accounts += [(d.username, d.password_hash) for d in config.devices]
    return "".join(f"{user}:{hashed}\n" for user, hashed in accounts)


def _acl(config: BrokerConfig) -> str:
    root = config.topic_root
    lines = ["# Written by `pogo broker config` from the device registry.", ""]
    lines.append("# Ingesters: read the whole tree, publish nothing.")
    for account in config.ingesters:
        lines += [f"user {account.username}", f"topic read {subscription(root)}", ""]
    lines.append("# Devices: publish on their own subtree only, read nothing.")
    for device in config.devices:
        lines.append(f"user {device.username}")
        lines += [
            f"topic write {format_topic(device.fleet, device.vehicle, kind, root)}"
            for kind in KINDS
        ]
    return "\n".join(lines) + "\n"


def render(config: BrokerConfig) -> dict[str, str]:
    """The files of ``config``: file name -> text (``mosquitto.conf``, and when secured the
    password and ACL files it names).

    Raises
    ------
    ValueError
        When an ingester's username could be taken for a device's or repeats.
    """
    files = {CONF_FILE: _conf(config)}
    if config.secured:
        _check_ingesters(config.ingesters)
        files[PASSWORD_FILE] = _passwords(config)
        files[ACL_FILE] = _acl(config)
    return files


def _replace(path: Path, text: str, mode: int) -> None:
    """Write ``text`` to ``path`` atomically (a temporary file in the same folder, renamed)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        Path(tmp).chmod(mode)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write(config: BrokerConfig, owner: tuple[int, int] | None = None) -> list[Path]:
    """Render ``config`` into its directory (created if needed); the paths written. The
    password file is readable by its owner only; run as root, the files and the persistence
    folder are given to ``owner`` (uid, gid: the account the broker runs as), when given."""
    files = render(config)
    config.directory.mkdir(parents=True, exist_ok=True)
    (config.persistence_dir or config.directory).mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in files.items():
        path = config.directory / name
        _replace(path, text, 0o600 if name == PASSWORD_FILE else 0o644)
        written.append(path)
    if owner and os.geteuid() == 0:
        # Written by root for a broker that drops to ``owner``: it must read the password
        # file and write the persistence folder.
        for path in [config.directory, *written, config.persistence_dir or config.directory]:
            os.chown(path, *owner)
    return written
