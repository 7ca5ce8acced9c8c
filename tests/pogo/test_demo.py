"""`pogo demo` with no configuration: starts its own PostgreSQL and Mosquitto, migrates, runs
the simulated fleet, the ingester, the trip builder and the city service, prints the report's
URL, and stops everything on Ctrl-C or SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest

OPERATOR = "demo-operator-token"
AS_OPERATOR = {"Authorization": f"Bearer {OPERATOR}"}


@pytest.fixture
def state_dir() -> Iterator[Path]:
    # Not under pytest's tmp_path: run as root, the private PostgreSQL runs as 'postgres',
    # which must be able to enter the folder's parents.
    folder = Path(tempfile.mkdtemp(prefix="pogo-demo-", dir="/tmp"))
    folder.chmod(0o755)
    yield folder
    subprocess.run(["rm", "-rf", str(folder)], check=False)


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_demo_starts_and_stops_its_own_services(state_dir: Path, sig: signal.Signals) -> None:
    """With no POGO_DATABASE_URL or POGO_MQTT_URL, the demo starts private services, migrates,
    says where they run, makes its rider key (owner-only) in its state directory, and stops
    them on Ctrl-C (SIGINT), SIGTERM or a closed terminal (SIGHUP), exiting 0."""
    proc, output = _start_demo(state_dir)
    assert "ready" in output, output
    db = re.search(r"private PostgreSQL at (postgresql://\S+)", output)
    broker = re.search(r"private Mosquitto at mqtt://127\.0\.0\.1:(\d+)", output)
    assert db and broker, output
    with psycopg.connect(db.group(1)) as conn:
        assert conn.execute("SELECT to_regclass('telemetry')").fetchone() == ("telemetry",)
    db_port = int(re.search(r":(\d+)/", db.group(1)).group(1))  # type: ignore[union-attr]
    mqtt_port = int(broker.group(1))
    assert _port_open(db_port) and _port_open(mqtt_port)
    proc.send_signal(sig)
    rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output + rest
    assert "stopped" in rest
    assert not _port_open(db_port)
    assert not _port_open(mqtt_port)
    assert (state_dir / "postgres" / "PG_VERSION").exists()
    key = state_dir / "rider.key"
    assert len(key.read_text().strip()) == 64 and key.stat().st_mode & 0o077 == 0


def _start_demo(state_dir: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POGO_")}
    env.update(
        POGO_STATE_DIR=str(state_dir),
        POGO_HTTP_PORT="0",
        POGO_LOG_FORMAT="json",
        POGO_API_OPERATOR_TOKEN=OPERATOR,
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "pogo", "demo", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("ready"):
            break
    return proc, "".join(lines)


@pytest.mark.slow
def test_demo_report_answers_with_the_simulated_fleets_figures(state_dir: Path) -> None:
    """The demo prints the report's URL; while it runs, the simulated fleet's past day goes
    through the broker, the ingester and the trip builder, so the service's summary counts
    trips and kilometres, the report page shows the figures, and the fleet is live within
    the first minutes (its clock has caught up with now: most vehicles online, their last
    fix minutes old at most); Ctrl-C then stops every part (the service's port closes) and
    the demo exits 0."""
    proc, output = _start_demo(state_dir, "--trips-interval", "2")
    try:
        found = re.search(r"report: (http://127\.0\.0\.1:(\d+))/report", output)
        assert found, output
        base, port = found.group(1), int(found.group(2))
        assert httpx.get(f"{base}/api/v1/vehicles", timeout=10).status_code == 401
        deadline = time.monotonic() + 180
        while True:
            body = httpx.get(f"{base}/api/v1/learning-city", headers=AS_OPERATOR, timeout=10).json()
            live = next(p for p in body["programmes"] if p["programme_id"] == "pogo-live")
            figures = {i["indicator_id"]: i["value"] for i in live["indicators"]}
            vehicles = httpx.get(f"{base}/api/v1/vehicles", headers=AS_OPERATOR, timeout=10).json()[
                "vehicles"
            ]
            on_air = [v for v in vehicles if v["state"] != "offline"]
            seen = [datetime.fromisoformat(v["last_seen"]) for v in vehicles if v["last_seen"]]
            newest = max(seen, default=None)  # a registered vehicle has no fix before its first
            caught_up = newest is not None and datetime.now(UTC) - newest < timedelta(minutes=5)
            if figures["trips"] > 0 and caught_up and len(on_air) >= 30:
                break
            assert time.monotonic() < deadline, (figures, newest, [v["state"] for v in vehicles])
            time.sleep(2)
        assert figures["km"] > 0 and figures["people"] > 0
        assert len(vehicles) == 40
        page = httpx.get(f"{base}/report", timeout=30)
        assert page.status_code == 200
        assert re.search(r'data-figure="trips">[1-9]', page.text)
        assert httpx.get(f"{base}/readyz", timeout=10).status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=90)
    assert proc.returncode == 0, output + rest[-3000:]
    assert "stopped" in rest
    assert not _port_open(port)


@pytest.mark.slow
def test_a_rerun_continues_a_killed_run_is_recovered_and_fresh_starts_afresh(
    state_dir: Path,
) -> None:
    """A demo killed with SIGKILL leaves its private PostgreSQL and Mosquitto running; the
    next run stops both leftovers and starts, and continues after the last stored fix instead
    of replaying the seeded fleet; `--fresh` deletes the kept data and starts from nothing."""
    first, output = _start_demo(state_dir)
    db = re.search(r"private PostgreSQL at (postgresql://\S+)", output)
    broker = re.search(r"private Mosquitto at mqtt://127\.0\.0\.1:(\d+)", output)
    assert db and broker, output
    deadline = time.monotonic() + 120
    while True:
        with psycopg.connect(db.group(1)) as conn:
            row = conn.execute("SELECT count(*) FROM telemetry").fetchone()
        if row and row[0] > 0:
            break
        assert time.monotonic() < deadline, "no telemetry stored"
        time.sleep(1)
    first.kill()  # the private services, in sessions of their own, stay behind
    first.communicate(timeout=30)
    assert (state_dir / "postgres" / "postmaster.pid").exists()
    assert _port_open(int(broker.group(1)))

    second, output = _start_demo(state_dir)
    assert "continuing after the last stored fix" in output, output
    assert not _port_open(int(broker.group(1))), "the killed run's broker is still running"
    second.send_signal(signal.SIGTERM)
    rest, _ = second.communicate(timeout=60)
    assert second.returncode == 0, output + rest

    third, output = _start_demo(state_dir, "--fresh")
    assert "fresh: deleted" in output, output
    assert "continuing" not in output
    third.send_signal(signal.SIGTERM)
    rest, _ = third.communicate(timeout=60)
    assert third.returncode == 0, output + rest
