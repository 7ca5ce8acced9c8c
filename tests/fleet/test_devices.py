"""fleet/devices.py: the registry keeps only Mosquitto-compatible hashes, and add, rotate,
revoke and reinstate do what they say."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest

from fleet import devices
from fleet.errors import DeviceError


@pytest.mark.skipif(shutil.which("mosquitto_passwd") is None, reason="needs mosquitto_passwd")
def test_hashes_match_mosquitto_passwd(tmp_path: Path) -> None:
    """A hash written by the real mosquitto_passwd verifies here, and ours has its format
    ($7$, 101 iterations, 12-byte salt, 64-byte PBKDF2-SHA512 digest)."""
    path = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(path), "u", "pa55"], check=True)
    theirs = path.read_text().strip().split(":", 1)[1]
    assert devices.verify_password("pa55", theirs)
    assert not devices.verify_password("pa56", theirs)
    ours = devices.hash_password("pa55")
    _, kind, iterations, salt, digest = ours.split("$")
    assert (kind, iterations) == ("7", "101")
    assert len(salt) == 16 and len(digest) == 88  # base64 of 12 and 64 bytes
    assert theirs.split("$")[:3] == ours.split("$")[:3]
    assert devices.hash_password("pa55") != ours  # a new salt each time


def test_passwords_are_random_and_never_stored(db_url: str) -> None:
    """Each device gets 256 random bits; the registry holds no password, only its hash."""
    with psycopg.connect(db_url) as conn:
        a = devices.add_device(conn, "city", "m1")
        b = devices.add_device(conn, "city", "m2")
        rows = conn.execute("SELECT * FROM devices").fetchall()
    assert a.password != b.password and len(a.password) == 43
    assert a.username == "city/m1"
    dump = repr(rows)
    assert a.password not in dump and b.password not in dump
    assert "password" not in repr(a)


def test_add_rotate_revoke_reinstate(db_url: str) -> None:
    """add refuses an active device; rotate replaces the hash; revoke removes it from the
    active set (twice is a no-op); add reinstates a revoked device with a new password;
    rotate refuses unknown and revoked devices."""
    with psycopg.connect(db_url) as conn:
        first = devices.add_device(conn, "city", "m1")
        with pytest.raises(DeviceError, match="already registered"):
            devices.add_device(conn, "city", "m1")
        second = devices.rotate_device(conn, "city", "m1")
        (device,) = devices.list_devices(conn)
        assert devices.verify_password(second.password, device.password_hash)
        assert not devices.verify_password(first.password, device.password_hash)
        assert device.rotated_at is not None
        assert devices.active_vehicles(conn) == {("city", "m1")}
        assert devices.revoke_device(conn, "city", "m1") is True
        assert devices.revoke_device(conn, "city", "m1") is False
        assert devices.active_vehicles(conn) == frozenset()
        with pytest.raises(DeviceError, match="revoked"):
            devices.rotate_device(conn, "city", "m1")
        with pytest.raises(DeviceError, match="not registered"):
            devices.rotate_device(conn, "city", "m9")
        with pytest.raises(DeviceError, match="not registered"):
            devices.revoke_device(conn, "city", "m9")
        third = devices.add_device(conn, "city", "m1")
        (device,) = devices.list_devices(conn)
        assert device.active and devices.verify_password(third.password, device.password_hash)


@pytest.mark.parametrize(("fleet", "vehicle"), [("city", "a/b"), ("ci ty", "m1"), ("", "m1"),
                                                ("city", "x" * 65), ("city", "m+")])  # fmt: skip
def test_bad_ids_are_refused(db_url: str, fleet: str, vehicle: str) -> None:
    """Ids outside [A-Za-z0-9_-]{1,64} (a '/' would break the username's mapping) are refused
    with the id named."""
    with psycopg.connect(db_url) as conn, pytest.raises(DeviceError, match="expected"):
        devices.add_device(conn, fleet, vehicle)


def test_provision_registers_and_rotates_a_fleet(db_url: str) -> None:
    """provision() gives every vehicle a fresh password, registered or not, revoked or not."""
    with psycopg.connect(db_url) as conn:
        devices.add_device(conn, "sim", "v1")
        devices.revoke_device(conn, "sim", "v1")
        creds = devices.provision(conn, "sim", ["v1", "v2"])
        hashes = {d.vehicle: d.password_hash for d in devices.list_devices(conn)}
        assert devices.active_vehicles(conn) == {("sim", "v1"), ("sim", "v2")}
    assert all(devices.verify_password(c.password, hashes[v]) for v, c in creds.items())
