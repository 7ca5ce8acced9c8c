"""The `pogo` command: sub-commands listed, bad settings stop it with a named message."""

from __future__ import annotations

import os
import subprocess
import sys

from fleet import UpgradeReport
from pogo.commands.db import describe_upgrade


def run_pogo(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("POGO_")}
    clean.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "pogo", *args],
        capture_output=True,
        text=True,
        env=clean,
        timeout=120,
        check=False,
    )


def test_help_lists_every_sub_command() -> None:
    """`pogo --help` lists the sub-commands of DESIGN.md."""
    result = run_pogo("--help")
    assert result.returncode == 0
    for sub in ("db", "ingest", "trips", "serve", "simulate", "demo", "devices", "broker"):
        assert f"  {sub} " in result.stdout


def test_bad_setting_stops_with_named_message() -> None:
    """A wrong setting stops the command before anything connects: non-zero, named setting."""
    result = run_pogo(
        "db",
        "upgrade",
        env={"POGO_DATABASE_URL": "postgresql://x@127.0.0.1/x", "POGO_MQTT_URL": "tcp://x"},
    )
    assert result.returncode == 2
    assert "POGO_MQTT_URL is 'tcp://x'; expected mqtt:// or mqtts://" in result.stderr


def test_missing_database_url_is_named() -> None:
    """`pogo db upgrade` without a database names POGO_DATABASE_URL."""
    result = run_pogo("db", "upgrade")
    assert result.returncode == 2
    assert "POGO_DATABASE_URL unset" in result.stderr


def test_db_upgrade_twice(empty_db_url: str) -> None:
    """`pogo db upgrade` creates the schema, then finds nothing to do."""
    first = run_pogo("db", "upgrade", env={"POGO_DATABASE_URL": empty_db_url})
    assert first.returncode == 0, first.stderr
    assert "0001_core" in first.stdout
    second = run_pogo("db", "upgrade", env={"POGO_DATABASE_URL": empty_db_url})
    assert second.returncode == 0, second.stderr
    assert "nothing to apply" in second.stdout


def test_db_upgrade_says_which_store_and_why() -> None:
    """The upgrade's lines name the store (with TimescaleDB's version), one line per policy
    change, and one warning line saying why TimescaleDB is not used."""
    plain = describe_upgrade(
        UpgradeReport(current_version=40, plain_reason="it is not installed on this server")
    )
    assert plain[0] == "schema at version 40 (plain PostgreSQL); nothing to apply"
    assert plain[1:] == [
        "warning: not using TimescaleDB: it is not installed on this server "
        "(POGO_TIMESCALEDB=off silences this; =require makes it an error)"
    ]
    timescale = describe_upgrade(
        UpgradeReport(
            applied=["0040_telemetry_imports"], current_version=40, timescaledb=True,
            timescaledb_version="2.28.3", changes=["retention policy removed (was: 90 days)"],
        )
    )  # fmt: skip
    assert timescale == [
        "schema at version 40 (TimescaleDB 2.28.3); 0040_telemetry_imports",
        "policy: retention policy removed (was: 90 days)",
    ]
