"""Rider pseudonyms (fleet/riders.py): the token shape, the HMAC, dead letters without rider
values, the upgrade that rewrites tokens an older version stored, and dead-letter retention."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from fleet import upgrade
from fleet.errors import StoreError
from fleet.riders import PSEUDONYM, RiderKey, is_opaque, pseudonym, strip_riders
from fleet.store import StoreOptions, delete_old_dead_letters
from tests.fixtures.settings import TEST_RIDER_KEY

RAW = "rdr-5f2a9c81d4e07b3a"


@pytest.mark.parametrize(
    "token",
    ["rdr-5f2a9c81d4e07b3a", "tok_5f2a9c81d4e07b3a", "3f1c2b7e-9a4d-4c1e-8f00-5b6a7c8d9e0f"],
)
def test_opaque_tokens_pass(token: str) -> None:
    """Hex, base64url and UUID tokens of 16 to 128 characters with a letter and a digit."""
    assert is_opaque(token)


@pytest.mark.parametrize(
    "token",
    [
        "0612345678",  # a phone number
        "0612345678a",  # ... with a letter
        "tel:0612345678",  # ... as a URI
        "+212600112233",
        "0612345678901234",  # sixteen digits: a card number
        "fatima-zahra-el-idrissi",  # a name, long enough
        "Fatima Zahra",
        "fatima.zahra@example.com",
        "abc123",  # too short
        "x1" * 65,  # too long
        612345678,
        None,
    ],
)
def test_anything_else_is_refused(token: object) -> None:
    """Phone numbers in any spelling, names, e-mail addresses, short or long strings and
    non-strings do not have the shape (an allow-list, not a list of phone formats)."""
    assert not is_opaque(token)


def test_pseudonyms_are_the_hmac_under_the_key() -> None:
    """p1_ + HMAC-SHA256(key, token) in hex: stable for a key, different under another, and
    not the plain SHA-256 anyone could compute from a guessed token."""
    expected = hmac.new(TEST_RIDER_KEY.secret, RAW.encode(), hashlib.sha256).hexdigest()
    assert pseudonym(TEST_RIDER_KEY, RAW) == "p1_" + expected
    assert PSEUDONYM.fullmatch(pseudonym(TEST_RIDER_KEY, RAW))
    other = RiderKey(b"another-key-of-at-least-32-bytes-long")
    assert pseudonym(other, RAW) != pseudonym(TEST_RIDER_KEY, RAW)
    assert hashlib.sha256(RAW.encode()).hexdigest() not in pseudonym(TEST_RIDER_KEY, RAW)
    with pytest.raises(ValueError, match="32 bytes"):
        RiderKey(b"short")
    assert TEST_RIDER_KEY.secret.decode() not in repr(TEST_RIDER_KEY)


def test_dead_letter_payloads_keep_no_rider_value() -> None:
    """Every rider member of a JSON payload (nested, in arrays) loses its value; a payload
    that names a rider but is not JSON is not kept at all; others are left as they are."""
    batch = b'[{"ts": 1, "type": "x", "rider": "%s"}, {"a": {"rider": "%s"}}]' % (
        RAW.encode(),
        RAW.encode(),
    )
    stripped = strip_riders(batch)
    assert stripped is not None and RAW.encode() not in stripped and b"rider" in stripped
    assert strip_riders(b'{"rider": "%s"' % RAW.encode()) is None  # truncated JSON
    assert strip_riders(b'{"lat": 1}') == b'{"lat": 1}'


def _raw_rows(db: psycopg.Connection[Any]) -> None:
    key = db.execute(
        "INSERT INTO vehicles (fleet, vehicle) VALUES ('f', 'v') RETURNING vehicle_key"
    ).fetchone()[0]
    at = datetime(2025, 3, 1, 8, tzinfo=UTC)
    db.execute(
        "INSERT INTO vehicle_events (vehicle_key, ts, type, ride_id, rider, received_at)"
        " VALUES (%s, %s, 'ride_start', 'r1', %s, %s), (%s, %s, 'ride_end', 'r1', %s, %s)",
        (key, at, RAW, at, key, at + timedelta(minutes=9), RAW, at),
    )
    db.execute(
        "INSERT INTO trips (vehicle_key, rider, source, start_ts, end_ts, start_lat, start_lon,"
        " end_lat, end_lon, distance_km, duration_s, avg_speed_kmh, max_speed_kmh, fixes_used)"
        " VALUES (%s, %s, 'events', %s, %s, 32.2, -7.9, 32.3, -7.9, 3, 540, 20, 30, 10)",
        (key, RAW, at, at + timedelta(minutes=9)),
    )
    for payload in (
        b'{"ts": 1, "type": "wheelie", "rider": "%s"}' % RAW.encode(),
        b'{"ts": 1, "type": "wheelie", "rider": "other-token-0123456789"}',  # same once stripped
        b'{"rider": "%s"' % RAW.encode(),
    ):
        db.execute(
            "INSERT INTO dead_letters (topic, payload, reason, detail, received_at,"
            " last_received_at) VALUES ('pogo/v1/f/v/events', %s, 'bad_event', 'd', now(), now())",
            (payload,),
        )


def test_upgrade_pseudonymises_tokens_an_older_version_stored(
    db_url: str, db: psycopg.Connection[Any]
) -> None:
    """Raw tokens in vehicle_events and trips become their pseudonyms (the same for the same
    token, so distinct counts hold), dead letters lose their rider values (two that become
    equal fold into one with both occurrences), and a second upgrade changes nothing; without
    a key the upgrade refuses to leave them, naming POGO_RIDER_KEY."""
    _raw_rows(db)
    with pytest.raises(StoreError, match="POGO_RIDER_KEY"):
        upgrade(db_url)
    report = upgrade(db_url, StoreOptions(rider_key=TEST_RIDER_KEY))
    assert (report.riders.events, report.riders.trips, report.riders.dead_letters) == (2, 1, 3)
    expected = pseudonym(TEST_RIDER_KEY, RAW)
    assert db.execute("SELECT DISTINCT rider FROM vehicle_events").fetchall() == [(expected,)]
    assert db.execute("SELECT rider FROM trips").fetchall() == [(expected,)]
    letters = db.execute("SELECT payload, occurrences FROM dead_letters ORDER BY 2").fetchall()
    assert all(RAW.encode() not in bytes(p) and b"other-token" not in bytes(p) for p, _ in letters)
    assert sorted(n for _, n in letters) == [1, 2]
    again = upgrade(db_url, StoreOptions(rider_key=TEST_RIDER_KEY))
    assert (again.riders.events, again.riders.trips, again.riders.dead_letters) == (0, 0, 0)
    assert upgrade(db_url).riders.events == 0  # nothing raw is left: no key needed


def test_dead_letters_older_than_the_retention_are_deleted(
    db_url: str, db: psycopg.Connection[Any]
) -> None:
    """Dead letters last received more than the retention ago are deleted, newer ones kept."""
    for days in (31, 29, 1):
        db.execute(
            "INSERT INTO dead_letters (topic, payload, reason, detail, received_at,"
            " last_received_at) VALUES ('t', %s, 'bad_topic', 'd', now() - %s, now() - %s)",
            (str(days).encode(), timedelta(days=days), timedelta(days=days)),
        )
    assert delete_old_dead_letters(db_url, 30) == 1
    kept = db.execute("SELECT payload FROM dead_letters ORDER BY payload").fetchall()
    assert [bytes(p) for (p,) in kept] == [b"1", b"29"]
    assert delete_old_dead_letters(db_url, 30) == 0
