"""Every expected failure of every command is one line on stderr with a documented exit status
(2: a wrong setting or argument; 3: a service unreachable or refused, or an address in use):
no traceback, no secret. The commands run as subprocesses, as a user runs them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.pogo.test_cli import run_pogo

#: A port on loopback where nothing listens (bound and closed: the kernel hands it out again
#: only after the whole ephemeral range).
UNREACHABLE_DB = "postgresql://pogo:s3cret-pw@127.0.0.1:{port}/pogo"


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield int(sock.getsockname()[1])


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("pogo: error:")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    return lines[0]


@pytest.mark.parametrize("command", [("db", "upgrade"), ("trips",)])
def test_unreachable_database_is_one_line_with_status_3(
    command: tuple[str, ...], closed_port: int
) -> None:
    env = {"POGO_DATABASE_URL": UNREACHABLE_DB.format(port=closed_port)}
    result = run_pogo(*command, env=env)
    assert result.returncode == 3, result.stderr
    line = _one_line(result)
    assert "the database is unreachable" in line
    assert f"port {closed_port}" in line
    assert "POGO_DATABASE_URL" in line
    assert "s3cret-pw" not in result.stderr + result.stdout


def test_refused_login_is_one_line_without_the_password(db_url: str) -> None:
    """A user the server does not know: libpq's refusal, in one line, no password echoed."""
    bad = db_url.replace("postgres@", "no_such_role:pw-SECRET@", 1)
    assert bad != db_url
    result = run_pogo("db", "upgrade", env={"POGO_DATABASE_URL": bad})
    assert result.returncode == 3, result.stderr
    line = _one_line(result)
    assert "no_such_role" in line
    assert "pw-SECRET" not in result.stderr + result.stdout


def test_busy_http_port_is_one_line_with_status_3(db_url: str, busy_port: int) -> None:
    result = run_pogo(
        "serve", "--host", "127.0.0.1", "--port", str(busy_port), env={"POGO_DATABASE_URL": db_url}
    )
    assert result.returncode == 3, result.stderr
    line = _one_line(result)
    assert f"127.0.0.1:{busy_port} is already in use" in line
    assert "--port" in line


def test_serve_starts_not_ready_while_the_database_is_down(closed_port: int) -> None:
    """`pogo serve` comes up, says once why it is not ready, answers /readyz and data requests
    with 503 (no 500, no traceback), and exits 0 on SIGTERM."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        http_port = int(sock.getsockname()[1])
    env = {k: v for k, v in os.environ.items() if not k.startswith("POGO_")}
    env["POGO_DATABASE_URL"] = UNREACHABLE_DB.format(port=closed_port)
    process = subprocess.Popen(
        [sys.executable, "-m", "pogo", "serve", "--host", "127.0.0.1", "--port", str(http_port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    base = f"http://127.0.0.1:{http_port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                assert httpx.get(f"{base}/healthz", timeout=2).status_code == 200
                break
            except httpx.TransportError:
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline
                time.sleep(0.2)
        ready = httpx.get(f"{base}/readyz", timeout=10)
        assert ready.status_code == 503
        assert ready.json()["database"] is False
        window = "from=2025-01-01T00:00:00Z&to=2025-02-01T00:00:00Z"
        data = httpx.get(f"{base}/api/v1/mobility/summary?{window}", timeout=30)
        assert data.status_code == 503
        assert data.headers["Retry-After"]
        assert "database is unavailable" in data.json()["detail"]
    finally:
        process.terminate()
        stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stdout + stderr
    assert "database_unreachable" in stderr
    assert "s3cret-pw" not in stdout + stderr


def test_misspelled_key_names_the_key_not_its_value(tmp_path: Path) -> None:
    config = tmp_path / "pogo.toml"
    config.write_text('api_write_tokn = "hunter2-SECRET"\n', encoding="utf-8")
    result = run_pogo("--config", str(config), "db", "upgrade")
    assert result.returncode == 2
    line = _one_line(result)
    assert "'api_write_tokn' is not a setting; did you mean 'api_write_token'?" in line
    assert "hunter2" not in result.stderr + result.stdout


def test_version() -> None:
    result = run_pogo("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("pogo, version ")
