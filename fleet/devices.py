"""The device registry: one MQTT credential per motorcycle, printed once, stored hashed.

A device is named by its fleet and vehicle id, and its MQTT username is ``{fleet}/{vehicle}``
(ids never contain ``/``, so the username maps back one to one and can never be the name of an
ingester account). Its password is 256 random bits (``secrets``), shown once by
:func:`add_device` / :func:`rotate_device`; the registry keeps only the hash, in Mosquitto's
own PBKDF2-SHA512 format (``$7$iterations$salt$hash``), so that the broker's password file is
rendered from the registry (``pogo broker config``) and no password is ever stored.

Functions take an open psycopg connection and leave the transaction to the caller
(``with psycopg.connect(dsn) as conn`` commits on success).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import psycopg

from fleet import queries
from fleet.errors import DeviceError

__all__ = [
    "HASH_ITERATIONS",
    "Credential",
    "Device",
    "active_accounts",
    "active_vehicles",
    "add_device",
    "device_username",
    "hash_password",
    "list_devices",
    "new_password",
    "provision",
    "revoke_device",
    "rotate_device",
    "verify_password",
]

Conn = psycopg.Connection[Any]

# Mosquitto's own default for $7$ hashes. The passwords are 256 random bits, which no
# stretching makes harder to guess; more iterations would only cost the broker CPU on every
# connect (a few thousand devices reconnect at once after a broker restart).
HASH_ITERATIONS = 101
_SALT_BYTES = 12  # what mosquitto_passwd uses
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_HASH = re.compile(r"\$7\$(\d+)\$([A-Za-z0-9+/]+=*)\$([A-Za-z0-9+/]+=*)")


@dataclass(frozen=True)
class Credential:
    """A device's MQTT username and its password, as printed once."""

    fleet: str
    vehicle: str
    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class Device:
    """A row of the registry (the hash stays out of ``repr``)."""

    fleet: str
    vehicle: str
    password_hash: str = field(repr=False)
    created_at: dt.datetime
    rotated_at: dt.datetime | None
    revoked_at: dt.datetime | None

    @property
    def username(self) -> str:
        return device_username(self.fleet, self.vehicle)

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def device_username(fleet: str, vehicle: str) -> str:
    """The MQTT username of a device: ``{fleet}/{vehicle}``."""
    return f"{fleet}/{vehicle}"


def new_password() -> str:
    """256 random bits, URL-safe base64 (43 characters, never ``:`` nor ``$``)."""
    return secrets.token_urlsafe(32)


def hash_password(
    password: str, iterations: int = HASH_ITERATIONS, salt: bytes | None = None
) -> str:
    """Mosquitto 2's PBKDF2-SHA512 hash of ``password``: ``$7$iterations$salt$hash``.

    Examples
    --------
    >>> h = hash_password("secret", salt=b"0123456789ab")
    >>> h.split("$")[1:3]
    ['7', '101']
    >>> verify_password("secret", h)
    True
    """
    salt = secrets.token_bytes(_SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    encoded_salt = base64.b64encode(salt).decode()
    return f"$7${iterations}${encoded_salt}${base64.b64encode(digest).decode()}"


def verify_password(password: str, hashed: str) -> bool:
    """Whether ``password`` matches a ``$7$`` hash (constant-time comparison)."""
    match = _HASH.fullmatch(hashed)
    if match is None:
        return False
    iterations, salt, digest = match.groups()
    computed = hashlib.pbkdf2_hmac(
        "sha512", password.encode(), base64.b64decode(salt), int(iterations)
    )
    return hmac.compare_digest(computed, base64.b64decode(digest))


def _check(fleet: str, vehicle: str) -> None:
    for name, value in (("fleet", fleet), ("vehicle", vehicle)):
        if not _ID.fullmatch(value):
            raise DeviceError(f"{name} id is {value!r}; expected [A-Za-z0-9_-]{{1,64}}")


def _device(row: queries.DeviceRow) -> Device:
    return Device(*row)


def _credential(fleet: str, vehicle: str, password: str) -> Credential:
    return Credential(fleet, vehicle, device_username(fleet, vehicle), password)


def list_devices(conn: Conn) -> list[Device]:
    """Every device, revoked ones included, in (fleet, vehicle) order."""
    return [_device(row) for row in queries.device_rows(conn)]


def _find(conn: Conn, fleet: str, vehicle: str) -> Device | None:
    _check(fleet, vehicle)
    rows = queries.device_rows(conn, fleet, vehicle)
    return _device(rows[0]) if rows else None


def add_device(conn: Conn, fleet: str, vehicle: str) -> Credential:
    """Register a device (or reinstate a revoked one) with a new password.

    Raises
    ------
    DeviceError
        When the device is already registered and active (``rotate_device`` gives it a new
        password), or an id is invalid.
    """
    existing = _find(conn, fleet, vehicle)
    if existing is not None and existing.active:
        raise DeviceError(
            f"device {device_username(fleet, vehicle)} is already registered; "
            "`pogo devices rotate` gives it a new password"
        )
    password = new_password()
    queries.register_devices(conn, [(fleet, vehicle, hash_password(password))], replace=True)
    return _credential(fleet, vehicle, password)


def rotate_device(conn: Conn, fleet: str, vehicle: str) -> Credential:
    """A new password for an active device (the old one is refused once the broker reloads).

    Raises
    ------
    DeviceError
        When there is no such device, or it is revoked.
    """
    existing = _find(conn, fleet, vehicle)
    if existing is None or not existing.active:
        state = (
            "not registered" if existing is None else "revoked (`pogo devices add` reinstates it)"
        )
        raise DeviceError(f"device {device_username(fleet, vehicle)} is {state}")
    password = new_password()
    queries.rotate_device(conn, fleet, vehicle, hash_password(password))
    return _credential(fleet, vehicle, password)


def revoke_device(conn: Conn, fleet: str, vehicle: str) -> bool:
    """Revoke a device; False when it was already revoked.

    Raises
    ------
    DeviceError
        When there is no such device.
    """
    existing = _find(conn, fleet, vehicle)
    if existing is None:
        raise DeviceError(f"device {device_username(fleet, vehicle)} is not registered")
    return queries.revoke_device(conn, fleet, vehicle)


def provision(conn: Conn, fleet: str, vehicles: Iterable[str]) -> dict[str, Credential]:
    """Register every vehicle of a fleet with a new password (reinstating revoked ones and
    rotating active ones): the simulated fleet of ``pogo demo``. Returns vehicle -> credential."""
    credentials = {}
    for vehicle in vehicles:
        _check(fleet, vehicle)
        credentials[vehicle] = _credential(fleet, vehicle, new_password())
    rows = [(fleet, v, hash_password(c.password)) for v, c in credentials.items()]
    queries.register_devices(conn, rows, replace=True)
    return credentials


def active_accounts(conn: Conn) -> list[Device]:
    """The active devices, for the broker's password and ACL files."""
    return [d for d in list_devices(conn) if d.active]


def active_vehicles(conn: Conn) -> frozenset[tuple[str, str]]:
    """(fleet, vehicle) of every active device: the ingester's registry check."""
    return frozenset((f, v) for f, v, _ in queries.active_devices(conn))
