"""`pogo demo` with no configuration: starts its own PostgreSQL and Mosquitto, migrates,
stops them."""

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
from pathlib import Path

import psycopg
import pytest


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
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_demo_starts_and_stops_its_own_services(state_dir: Path, sig: signal.Signals) -> None:
    """With no POGO_DATABASE_URL or POGO_MQTT_URL, the demo starts private services, migrates,
    says where they run, and stops them on Ctrl-C (SIGINT) or SIGTERM, exiting 0."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POGO_")}
    env["POGO_STATE_DIR"] = str(state_dir)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pogo", "demo"],
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
        if "ready" in line:
            break
    output = "".join(lines)
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
