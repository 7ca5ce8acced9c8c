"""`pogo serve`: the city service under uvicorn, configured from POGO_* settings."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx

from pogo.embedded import free_port


def test_pogo_serve_answers_and_stops_on_sigterm(db_url: str) -> None:
    """`pogo serve --host --port` serves /readyz (ready on a migrated database) and the API,
    enforces POGO_API_READ_TOKEN from the environment, and exits 0 on SIGTERM."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("POGO_")}
    env.update(POGO_DATABASE_URL=db_url, POGO_API_READ_TOKEN="r-token", POGO_LOG_FORMAT="json")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pogo", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                ready = httpx.get(f"{url}/readyz", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.communicate()[0]
                assert time.monotonic() < deadline, "pogo serve did not answer in 90 s"
                time.sleep(0.1)
        assert ready.status_code == 200, ready.text
        assert ready.json()["status"] == "ready"
        params = {"from": "2025-01-01T00:00:00Z", "to": "2025-02-01T00:00:00Z"}
        assert httpx.get(f"{url}/api/v1/mobility/summary", params=params).status_code == 401
        authorised = httpx.get(
            f"{url}/api/v1/mobility/summary",
            params=params,
            headers={"Authorization": "Bearer r-token"},
        )
        assert authorised.status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output


def test_pogo_serve_without_a_database_url_names_the_setting() -> None:
    """With no POGO_DATABASE_URL, `pogo serve` stops before starting and names the setting."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POGO_")}
    result = subprocess.run(
        [sys.executable, "-m", "pogo", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "POGO_DATABASE_URL" in result.stderr
