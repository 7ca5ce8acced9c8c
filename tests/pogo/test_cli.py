"""The `pogo` command: sub-commands listed, bad settings stop it with a named message."""

from __future__ import annotations

import os
import subprocess
import sys


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
    for sub in ("db", "ingest", "trips", "serve", "simulate", "demo"):
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
