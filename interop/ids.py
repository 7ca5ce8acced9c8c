"""The identifiers MDS and GBFS publish, derived from ours.

MDS wants lower-case UUIDs that stay the same for the same vehicle, trip, event and telemetry
point from one request to the next. Our keys are not UUIDs (a vehicle is its fleet and its id
on the wire, a trip its vehicle and start time; the database's integer keys change when a trip
is rebuilt), so each MDS id is a UUID version 5 (RFC 9562, SHA-1 name-based) of a text naming
the thing under :data:`NAMESPACE`, this project's fixed namespace: the same name gives the same
UUID on every machine, from any copy of the data, and no one can go back from the UUID to the
name without guessing it.

GBFS wants the opposite for the public feed: a ``vehicle_id`` that changes after every trip, so
that a public observer cannot follow a vehicle, and so its riders, from trip to trip
(GBFS 3.0, vehicle_status.json: "vehicle_id ... MUST be rotated to a random string after each
trip to protect user privacy"). :func:`gbfs_vehicle_id` is an HMAC-SHA256, under a server
secret, of the vehicle and the number of trips it has made: stable while the vehicle stands
between two trips (a map can track it as it charges or waits), new after each trip, and,
without the secret, unlinkable to the vehicle or to its previous id, which is what a random
string gives, without having to store one.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid

__all__ = [
    "NAMESPACE",
    "device_id",
    "event_id",
    "gbfs_vehicle_id",
    "provider_id",
    "telemetry_id",
    "trip_id",
]

#: This project's UUID namespace: fixed forever, or every published id changes.
NAMESPACE = uuid.UUID("cb13d714-5683-4178-82ef-160b4c924088")


def _uuid(name: str) -> str:
    return str(uuid.uuid5(NAMESPACE, name))  # str(UUID) is lower case


def provider_id() -> str:
    """The provider's UUID when none is configured (``POGO_MDS_PROVIDER_ID``)."""
    return _uuid("provider")


def device_id(fleet: str, vehicle: str) -> str:
    """The MDS ``device_id`` of a vehicle, from its fleet and its id on the wire."""
    return _uuid(f"device/{fleet}/{vehicle}")


def trip_id(fleet: str, vehicle: str, start_ms: int) -> str:
    """The MDS ``trip_id`` of a trip, from its vehicle and its start time (ms since the epoch):
    a vehicle starts one trip at a time, and a rebuild that finds the same trip finds the same
    start."""
    return _uuid(f"trip/{fleet}/{vehicle}/{start_ms}")


def event_id(fleet: str, vehicle: str, t_ms: int, kind: str) -> str:
    """The MDS ``event_id`` of a vehicle's event of ``kind`` at ``t_ms``."""
    return _uuid(f"event/{fleet}/{vehicle}/{t_ms}/{kind}")


def telemetry_id(fleet: str, vehicle: str, t_ms: int) -> str:
    """The MDS ``telemetry_id`` of a fix: a vehicle has one fix per device timestamp."""
    return _uuid(f"telemetry/{fleet}/{vehicle}/{t_ms}")


def gbfs_vehicle_id(key: bytes, fleet: str, vehicle: str, trips: int) -> str:
    """The public GBFS ``vehicle_id`` of a vehicle that has made ``trips`` trips: 32 hex digits
    of HMAC-SHA256 under ``key`` (see the module's notes).

    >>> key = b"k" * 32
    >>> a = gbfs_vehicle_id(key, "pogo", "m1", 7)
    >>> a == gbfs_vehicle_id(key, "pogo", "m1", 7), a == gbfs_vehicle_id(key, "pogo", "m1", 8)
    (True, False)
    """
    message = f"{fleet}/{vehicle}/{trips}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]
