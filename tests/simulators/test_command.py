"""pogo/commands/simulate.py: ``pogo simulate`` as a real subprocess.

(The command's tests sit with the simulator's, whose options they exercise.)
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from pogo.commands.simulate import SimulateRun, simulate
from pogo.embedded import PrivateMosquitto
from simulators import FaultRates, read_truth
from tests.fixtures.secured_broker import SecuredBroker, run_pogo
from tests.fixtures.settings import RIDER_KEY

REPO = Path(__file__).resolve().parents[2]


def pogo(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("POGO_")}
    clean.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "pogo", "simulate", *args],
        capture_output=True, text=True, env=clean, cwd=REPO, timeout=300, check=False,
    )  # fmt: skip


def test_calibration_prints_simulated_against_reported() -> None:
    """``--output none --calibration`` prints each figure beside the city's scaled one."""
    result = pogo("--output", "none", "--days", "60", "--calibration")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "60 simulated days" in lines[0]
    rows = {line.split()[0]: line for line in lines[2:]}
    assert {"trips", "km", "distinct"} <= set(rows)
    assert "%" in rows["trips"]


def test_backfill_writes_history_and_truth(db_url: str, tmp_path: Path) -> None:
    """``--output backfill`` stores telemetry and events; ``--truth`` writes the rides;
    ``--no-ride-events`` leaves ride events out (a motion-only fleet)."""
    truth = tmp_path / "truth.csv"
    env = {"POGO_DATABASE_URL": db_url, "POGO_RIDER_KEY": RIDER_KEY}
    args = ("--output", "backfill", "--days", "1", "--vehicles", "5", "--start", "2024-05-06")
    result = pogo(*args, "--no-ride-events", "--truth", str(truth), env=env)
    assert result.returncode == 0, result.stderr
    assert "backfill:" in result.stdout
    rides = read_truth(truth)
    assert rides.size > 0
    with psycopg.connect(db_url) as conn:
        points = conn.execute("SELECT count(*) FROM telemetry").fetchone()
        kinds = conn.execute("SELECT DISTINCT type FROM vehicle_events").fetchall()
    assert points is not None and points[0] > 1000
    assert {k for (k,) in kinds} <= {"charge_start", "charge_end", "fault"}


def test_missing_database_url_is_named() -> None:
    """Backfill without a database stops with the setting's name, before any work."""
    result = pogo("--output", "backfill", "--days", "1")
    assert result.returncode == 2
    assert "POGO_DATABASE_URL" in result.stderr


def test_flat_out_refuses_a_window_the_ingester_would_reject() -> None:
    """Publishing flat out more than 2.5 days of history is refused with the reason."""
    result = pogo(
        "--output", "mqtt-json", "--days", "5", env={"POGO_MQTT_URL": "mqtt://127.0.0.1:1"}
    )
    assert result.returncode == 2
    assert "pogo: error: pogo simulate: days is 5.0" in result.stderr
    assert "3 days" in result.stderr


def test_load_mode_prints_exact_counts(private_broker: PrivateMosquitto) -> None:
    """``--output load`` publishes from several processes and prints what was acknowledged."""
    env = {"POGO_MQTT_URL": private_broker.url, "POGO_MQTT_TOPIC_ROOT": "cli/load/pogo/v1"}
    args = ("--output", "load", "--days", "0.2", "--vehicles", "6", "--processes", "2")
    result = pogo(*args, "--load-encoding", "binary", "--no-faults", env=env)
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip().splitlines()[-1]
    assert line.startswith("load: ") and "from 2 processes" in line
    acked, sent = line.split(" acknowledged")[0].rsplit(" ", 1)[1].split("/")
    assert acked == sent


def test_devices_publish_with_their_own_accounts(secured_broker: SecuredBroker) -> None:
    """`pogo simulate --credentials FILE` (lines of `pogo devices add --json`): every unit
    connects with its own account to a broker that refuses anonymous clients, and what it
    publishes is acknowledged; a malformed credentials file stops it in one line."""
    lines = []
    for vehicle in ("pogo-001", "pogo-002"):
        added = run_pogo("devices", "add", "pogo", vehicle, "--json", env=secured_broker.env())
        assert added.returncode == 0, added.stderr
        lines.append(added.stdout.strip())
    secured_broker.apply()
    path = secured_broker.directory.parent / "credentials.jsonl"
    path.write_text("\n".join(lines) + "\n")
    env = {"POGO_MQTT_URL": secured_broker.url(None, None), "POGO_MQTT_TOPIC_ROOT": "pogo/v1"}
    args = ["--vehicles", "2", "--days", "0.5", "--output", "mqtt-json", "--no-faults"]
    result = pogo(*args, "--credentials", str(path), env=env)
    assert result.returncode == 0, result.stderr
    published = re.search(r"(\d[\d,]*)/(\d[\d,]*) acknowledged", result.stdout)
    assert published and published.group(1) == published.group(2), result.stdout
    refused = pogo(*args, env=env)  # no credentials: the broker refuses every unit
    assert refused.returncode != 0 and "refused" in refused.stderr
    path.write_text("not json\n")
    bad = pogo(*args, "--credentials", str(path), env=env)
    assert bad.returncode == 2 and "line 1" in bad.stderr and "Traceback" not in bad.stderr


def test_the_options_make_one_run_with_fault_rates_by_field() -> None:
    """The command's options become one SimulateRun: a given rate replaces its default, the
    others keep theirs (none with --no-faults); history defaults to 730 days from 2024-01-01."""
    defaults = {p.name: p.default for p in simulate.params if p.name}
    run = SimulateRun.from_options({**defaults, "output": "backfill", "malformed_rate": 0.1})
    assert run.load_encoding == "binary" and run.historical
    assert run.fault_rates() == FaultRates(malformed=0.1)
    config = run.scenario_config(datetime(2026, 12, 1, tzinfo=UTC))
    assert (config.days, config.start) == (730.0, datetime(2024, 1, 1, tzinfo=UTC))
    quiet = SimulateRun.from_options({**defaults, "faults": False, "duplicate_rate": 0.2})
    assert quiet.fault_rates() == FaultRates(**{**FaultRates.none().__dict__, "duplicate": 0.2})
