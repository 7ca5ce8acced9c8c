"""Rider pseudonyms: what of a rider token the store keeps (an HMAC, never the token).

A device's ride events may carry ``rider``, a token the operator's booking system gives a
rider. The store never keeps it: every write of events replaces it by
``HMAC-SHA256(POGO_RIDER_KEY, token)`` (:func:`pseudonym`), so the same rider gets the same
pseudonym (distinct-rider counts stay exact) while nobody without the key can go back to the
token, nor test a guessed phone number against the stored values.

Tokens must *look* opaque (an allow-list shape, :data:`RIDER_TOKEN`): 16 to 128 characters of
``A-Z a-z 0-9 _ -`` (hex, base64url, UUIDs), with at least one letter and one digit. That
refuses names (``Fatima``), phone numbers in any spelling (``0612345678``, ``+212 6 12…``,
``tel:0612345678``, ``0612345678a``: too short, or outside the alphabet) and e-mail addresses.

Dead letters keep no rider value either (:func:`strip_riders`), and :func:`pseudonymise_stored`
rewrites whatever an older version stored as sent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from typing import Any, Final

import psycopg

from fleet import queries

__all__ = [
    "PSEUDONYM",
    "RIDER_TOKEN",
    "RiderKey",
    "StoredRiders",
    "is_opaque",
    "pseudonym",
    "pseudonymise_stored",
    "strip_riders",
]

RIDER_TOKEN: Final = re.compile(r"(?=[^A-Za-z]*[A-Za-z])(?=[^0-9]*[0-9])[A-Za-z0-9_-]{16,128}")
#: What the store keeps: ``p1_`` and the 64 hex digits of the HMAC (``p1``: HMAC-SHA256).
PSEUDONYM: Final = re.compile(r"p1_[0-9a-f]{64}")
_REDACTED: Final = "<rider removed>"


@dataclass(frozen=True)
class RiderKey:
    """The secret key of the pseudonyms (``POGO_RIDER_KEY``), hidden from ``repr``."""

    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.secret) < 32:
            raise ValueError("a rider key needs at least 32 bytes (openssl rand -hex 32)")


def is_opaque(token: object) -> bool:
    """Whether ``token`` has the shape of an opaque rider token (:data:`RIDER_TOKEN`)."""
    return type(token) is str and RIDER_TOKEN.fullmatch(token) is not None


def pseudonym(key: RiderKey, token: str) -> str:
    """The stored pseudonym of ``token``: ``p1_`` + hex HMAC-SHA256 under ``key``."""
    return "p1_" + hmac.new(key.secret, token.encode(), hashlib.sha256).hexdigest()


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _REDACTED if k == "rider" else _strip(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def strip_riders(payload: bytes) -> bytes | None:
    """A dead letter's payload without rider values: JSON with every ``rider`` member's value
    replaced, or None when the payload is not JSON (it cannot be searched; keep nothing)."""
    if b"rider" not in payload:
        return payload
    try:
        value = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    return json.dumps(_strip(value), separators=(",", ":")).encode()


@dataclass
class StoredRiders:
    """What :func:`pseudonymise_stored` rewrote."""

    events: int = 0
    trips: int = 0
    dead_letters: int = 0


def pseudonymise_stored(conn: psycopg.Connection[Any], key: RiderKey) -> StoredRiders:
    """Replace every raw rider token an older version stored by its pseudonym (events,
    trips), and strip rider values from dead letters; idempotent, in the caller's transaction.
    The tokens travel to the database by COPY only, never in a statement's text."""
    done = StoredRiders()
    tokens: set[str] = set()
    for table in queries.RIDER_TABLES:
        tokens.update(str(r[0]) for r in conn.execute(queries.raw_riders(table)).fetchall())
    if tokens:
        conn.execute(queries.CREATE_RIDER_MAP)
        with conn.cursor().copy(queries.COPY_RIDER_MAP) as copy:
            for token in tokens:
                copy.write_row((token, pseudonym(key, token)))
        done.events = conn.execute(queries.pseudonymise_riders("vehicle_events")).rowcount
        done.trips = conn.execute(queries.pseudonymise_riders("trips")).rowcount
    for letter_id, payload, _ in conn.execute(queries.DEAD_LETTERS_WITH_RIDER).fetchall():
        stripped = strip_riders(bytes(payload))
        if stripped == bytes(payload):
            continue
        params = {"id": letter_id, "payload": b"" if stripped is None else stripped}
        try:
            with conn.transaction():
                conn.execute(queries.SET_DEAD_LETTER_PAYLOAD, params)
        except psycopg.errors.UniqueViolation:
            conn.execute(queries.FOLD_DEAD_LETTER, params)
        done.dead_letters += 1
    return done
