"""Process orchestration of the ingest benchmark: publishers, ingesters and references."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import psycopg

from tests.fixtures.settings import RIDER_KEY

from . import workload

REPO = Path(__file__).resolve().parents[2]


def vehicle_keys(conn: psycopg.Connection[Any]) -> np.ndarray:
    """Create the workload's vehicles; their keys indexed by workload vehicle number."""
    names = [f"v{v:04d}" for v in range(workload.VEHICLES)]
    conn.execute(
        "INSERT INTO vehicles (fleet, vehicle) SELECT 'bench', unnest(%s::text[])"
        " ON CONFLICT DO NOTHING",
        (names,),
    )
    rows = dict(conn.execute("SELECT vehicle, vehicle_key FROM vehicles").fetchall())
    conn.commit()
    return np.array([rows[n] for n in names], dtype=np.int32)


def stored(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT count(*) FROM telemetry").fetchone()
        return int(row[0]) if row else 0


def distinct(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT count(DISTINCT (vehicle_key, ts)) FROM telemetry").fetchone()
        return int(row[0]) if row else 0


def _python(module: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def _close(process: subprocess.Popen[str]) -> None:
    """Close the pipes of a finished helper process."""
    for pipe in (process.stdin, process.stdout):
        if pipe is not None:
            pipe.close()


def _expect(process: subprocess.Popen[str], word: str) -> str:
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith(word):
        raise RuntimeError(f"expected {word!r} from {process.args}, got {line!r}")
    return line


@dataclass(frozen=True)
class Access:
    """How a run's clients reach the broker. The default: ``env.broker`` (open, plain TCP),
    one publisher connection per process. ``devices``: one connection per vehicle
    (``_ingest/devices.py``), with ``publisher_args`` (credentials, CA); ``ingester_env(i)``
    gives ingester ``i`` its settings (URL, CA, client id...); ``root`` and ``group`` fixed
    for a broker whose ACLs name the tree and whose sessions outlive a run."""

    port: int | None = None
    devices: bool = False
    publisher_args: tuple[str, ...] = ()
    ingester_env: Callable[[int], dict[str, str]] | None = None
    root: str | None = None
    group: str | None = None
    broker_pid: int | None = None


_TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far, from ``/proc/PID/stat``; a
    finished child not yet waited for still reports its totals there."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
    return (int(fields[11]) + int(fields[12])) * _TICK_S


def _backend_cpu_s(dsn: str) -> float:
    """CPU seconds of the database's server processes serving the other clients of ``dsn``."""
    with psycopg.connect(dsn) as conn:
        pids = conn.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    total = 0.0
    for (pid,) in pids:
        try:
            total += cpu_s(pid)
        except (FileNotFoundError, ProcessLookupError):
            continue  # ended in between
    return total


class Publishers:
    """``parts`` publisher processes, each ready with its share of the messages."""

    def __init__(
        self,
        env: Any,
        root: str,
        kind: str,
        points: int,
        start_ms: int,
        parts: int,
        access: Access | None = None,
    ):
        access = access or Access()
        port = str(access.port or env.broker.port)
        module = "benchmarks._ingest.devices" if access.devices else "benchmarks._ingest.publisher"
        self.processes = [
            _python(
                module,
                "--host",
                "127.0.0.1",
                "--port",
                port,
                "--root",
                root,
                "--kind",
                kind,
                "--points",
                str(points),
                "--start-ms",
                str(start_ms),
                "--part",
                str(part),
                "--parts",
                str(parts),
                *access.publisher_args,
            )
            for part in range(parts)
        ]
        for p in self.processes:
            _expect(p, "ready")

    def go(self) -> float:
        self.cpu_at_go = [cpu_s(p.pid) for p in self.processes]
        t0 = time.time()
        for p in self.processes:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        return t0

    def finish(self) -> tuple[int, float]:
        """Messages published (every PUBACK received) and the time the last one was."""
        total, last = 0, 0.0
        self.cpu_used = 0.0
        for p, before in zip(self.processes, self.cpu_at_go, strict=True):
            _, count, at = _expect(p, "done").split()
            total += int(count)
            last = max(last, float(at))
            self.cpu_used += cpu_s(p.pid) - before
            p.wait(30)
            _close(p)
        return total, last


def _messages(kind: str, points: int) -> int:
    return points if kind == "single" else points // 50


def _wait_committed(logs: list[Path], expected: int, timeout: float = 180) -> float:
    """The time of the commit that completed ``expected`` stored points, from the ingesters'
    JSON logs ("batch committed" is logged right after each commit and its acks). Reading
    the logs costs the machine nothing, where polling ``count(*)`` over a growing table
    every 50 ms took a third of a core from the system being measured; the database count
    is checked exactly afterwards."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        stored, last = 0, 0.0
        for path in logs:
            for line in path.read_text().splitlines():
                if '"batch committed"' in line:
                    record = json.loads(line)
                    stored += int(record["stored"])
                    when = dt.datetime.fromisoformat(record["timestamp"]).timestamp()
                    last = max(last, when)
        if stored >= expected:
            return last
        time.sleep(0.05)
    raise AssertionError(f"the ingesters committed {stored} of {expected} points in {timeout}s")


def _check_exact(dsn: str, expected: int) -> None:
    time.sleep(1.0)  # late duplicates or stragglers would show now
    n, d = stored(dsn), distinct(dsn)
    if n != expected or d != expected:
        raise AssertionError(f"stored {n} ({d} distinct) of {expected}: lost or duplicated")


def run_ingest(
    env: Any,
    kind: str,
    points: int,
    start_ms: int,
    publishers: int,
    ingesters: int,
    access: Access | None = None,
) -> dict[str, float]:
    """``pogo ingest`` processes on a shared subscription; points per second to commit, and
    the CPU seconds per million points each part of the pipeline used from the publishers'
    start to the last commit (publishers, broker when ``access.broker_pid`` is known,
    ingesters, the database's server processes): a cost that a busy machine changes far less
    than it changes a rate."""
    access = access or Access()
    dsn = env.database()
    root = access.root or f"bench/{uuid.uuid4().hex[:8]}/pogo/v1"
    group = access.group or f"bench{uuid.uuid4().hex[:6]}"
    logs = []
    procs = []
    for i in range(ingesters):
        log_path = env.tmp / f"ingest-{group}-{i}.log"
        logs.append(log_path)
        with log_path.open("w") as log:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "pogo", "ingest"],
                    cwd=REPO,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env={
                        **os.environ,
                        "POGO_DATABASE_URL": dsn,
                        "POGO_RIDER_KEY": RIDER_KEY,
                        "POGO_MQTT_URL": env.broker.url,
                        "POGO_MQTT_TOPIC_ROOT": root,
                        "POGO_MQTT_CLIENT_ID": f"{group}-{i}",
                        "POGO_MQTT_SESSION_EXPIRY_S": "60",
                        "POGO_INGEST_METRICS_PORT": "0",
                        "POGO_LOG_FORMAT": "json",
                        "POGO_LOG_LEVEL": "debug",  # the per-batch commit lines timed below
                        **({"POGO_MQTT_SHARED_GROUP": group} if ingesters > 1 else {}),
                        **(access.ingester_env(i) if access.ingester_env else {}),
                    },
                )
            )
    try:
        deadline = time.time() + 30
        while not all('"connected"' in p.read_text() for p in logs):
            if time.time() > deadline:
                raise RuntimeError("ingesters did not connect: " + logs[0].read_text())
            time.sleep(0.05)
        pubs = Publishers(env, root, kind, points, start_ms, publishers, access)
        ingest_cpu = [cpu_s(p.pid) for p in procs]
        broker_cpu = cpu_s(access.broker_pid) if access.broker_pid else 0.0
        database_cpu = _backend_cpu_s(dsn)
        t0 = pubs.go()
        t1 = _wait_committed(logs, points)
        published, last_puback = pubs.finish()
        used = {
            "publishers": pubs.cpu_used,
            "ingesters": sum(cpu_s(p.pid) for p in procs) - sum(ingest_cpu),
            "database": _backend_cpu_s(dsn) - database_cpu,
        }
        if access.broker_pid:
            used["broker"] = cpu_s(access.broker_pid) - broker_cpu
        cpu = {f"{part}_cpu_s_per_mpoint": s * 1e6 / points for part, s in used.items()}
        assert published == _messages(kind, points)
        _check_exact(dsn, points)
    finally:
        for p in procs:
            p.terminate()
        codes = [p.wait(60) for p in procs]
    assert codes == [0] * len(procs), codes
    return {
        "points_per_s": points / (t1 - t0),
        "publish_points_per_s": points / (last_puback - t0),
        **cpu,
    }


def run_counter(env: Any, kind: str, points: int, start_ms: int, publishers: int) -> float:
    """The bare subscriber: messages per second until it counted them all (exactly)."""
    root = f"bench/{uuid.uuid4().hex[:8]}/pogo/v1"
    expected = _messages(kind, points)
    counter = _python(
        "benchmarks._ingest.counter",
        "--host", "127.0.0.1", "--port", str(env.broker.port), "--root", root,
        "--expect", str(expected),
    )  # fmt: skip
    _expect(counter, "ready")
    pubs = Publishers(env, root, kind, points, start_ms, publishers)
    t0 = pubs.go()
    pubs.finish()
    _, count, last = _expect(counter, "done").split()
    counter.wait(30)
    _close(counter)
    if int(count) != expected:
        raise AssertionError(f"bare subscriber counted {count} of {expected}")
    return expected / (float(last) - t0)


def run_naive(env: Any, kind: str, points: int, start_ms: int, publishers: int) -> float:
    """The naive ingester: points per second to commit."""
    dsn = env.database()
    root = f"bench/{uuid.uuid4().hex[:8]}/pogo/v1"
    naive = _python(
        "benchmarks._ingest.naive",
        "--host", "127.0.0.1", "--port", str(env.broker.port), "--root", root, "--dsn", dsn,
        "--expect", str(points),
    )  # fmt: skip
    try:
        _expect(naive, "ready")
        pubs = Publishers(env, root, kind, points, start_ms, publishers)
        t0 = pubs.go()
        t1 = float(_expect(naive, "done").split()[1])
        pubs.finish()
        _check_exact(dsn, points)
    finally:
        naive.kill()
        naive.wait(10)
        _close(naive)
    return points / (t1 - t0)
