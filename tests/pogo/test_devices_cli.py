"""`pogo devices add|list|revoke|rotate`: a credential printed once, nothing secret listed,
errors in one line."""

from __future__ import annotations

import json

import psycopg

from fleet import devices
from tests.fixtures.secured_broker import run_pogo


def test_add_prints_the_credential_once_and_list_hides_it(db_url: str) -> None:
    """`add --json` prints username and password; the registry holds only a hash of it;
    `list` shows the device and its state, never the password or the hash."""
    env = {"POGO_DATABASE_URL": db_url}
    added = run_pogo("devices", "add", "city", "m1", "--json", env=env)
    assert added.returncode == 0, added.stderr
    credential = json.loads(added.stdout)
    assert set(credential) == {"username", "password"}
    assert credential["username"] == "city/m1"
    with psycopg.connect(db_url) as conn:
        (device,) = devices.list_devices(conn)
    assert devices.verify_password(credential["password"], device.password_hash)
    assert run_pogo("devices", "add", "city", "m2", env=env).returncode == 0
    assert run_pogo("devices", "revoke", "city", "m2", env=env).returncode == 0
    listed = run_pogo("devices", "list", env=env)
    assert listed.returncode == 0
    assert "city/m1" in listed.stdout and "revoked" in listed.stdout
    assert credential["password"] not in listed.stdout and "$7$" not in listed.stdout
    records = [
        json.loads(line)
        for line in run_pogo("devices", "list", "--json", env=env).stdout.splitlines()
    ]
    assert [(r["username"], r["state"]) for r in records] == [
        ("city/m1", "active"),
        ("city/m2", "revoked"),
    ]


def test_errors_are_one_line(db_url: str, empty_db_url: str) -> None:
    """A second add, an unknown device, a bad id, a database without the registry: exit 2,
    one line naming the problem, no traceback; an unreachable database: exit 3."""
    env = {"POGO_DATABASE_URL": db_url}
    assert run_pogo("devices", "add", "city", "m1", env=env).returncode == 0
    cases = [
        (["devices", "add", "city", "m1"], env, "already registered"),
        (["devices", "rotate", "city", "m9"], env, "not registered"),
        (["devices", "revoke", "city", "m9"], env, "not registered"),
        (["devices", "add", "city", "a/b"], env, "expected [A-Za-z0-9_-]"),
        (["devices", "list"], {"POGO_DATABASE_URL": empty_db_url}, "pogo db upgrade"),
    ]
    for args, case_env, expected in cases:
        result = run_pogo(*args, env=case_env)
        assert result.returncode == 2, (args, result.stderr)
        assert expected in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    unreachable = run_pogo(
        "devices", "list", env={"POGO_DATABASE_URL": "postgresql://x@127.0.0.1:1/x"}
    )
    assert unreachable.returncode == 3 and "Traceback" not in unreachable.stderr
