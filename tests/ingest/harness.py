"""Helpers for the ingester's tests: publishers, an in-process ingester, a subprocess one."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from prometheus_client import CollectorRegistry

from ingest import IngestConfig, Ingester
from pogo.commands.ingest import ingest_config
from pogo.embedded import free_port
from pogo.settings import MqttUrl, Settings
from tests.fixtures.settings import RIDER_KEY

REPO = Path(__file__).resolve().parents[2]


class Publisher:
    """A QoS 1 publisher (MQTT 5) that waits for every PUBACK."""

    def __init__(self, url: str, client_id: str | None = None) -> None:
        parsed = MqttUrl.parse(url)
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id or f"test-pub-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        self.client.max_inflight_messages_set(200)
        self.client.max_queued_messages_set(0)
        self.client.connect(parsed.host, parsed.port)
        self.client.loop_start()

    def publish(
        self, topic: str, payload: bytes | str | Any, retain: bool = False, qos: int = 1
    ) -> mqtt.MQTTMessageInfo:
        if not isinstance(payload, bytes | str):
            try:
                payload = orjson.dumps(payload)
            except TypeError:  # an integer beyond 64 bits: the standard library writes it
                payload = json.dumps(payload).encode()
        return self.client.publish(topic, payload, qos=qos, retain=retain)

    def publish_all(
        self, items: Sequence[tuple[str, bytes | str | Any]], timeout: float = 60
    ) -> None:
        infos = [self.publish(topic, payload) for topic, payload in items]
        for info in infos:
            info.wait_for_publish(timeout)
            assert info.is_published()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def wait_for(predicate: Callable[[], bool], timeout: float = 30, what: str = "condition") -> None:
    """Poll ``predicate`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def count(db_url: str, query: str, params: Sequence[object] = ()) -> int:
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute(query.encode(), params).fetchone()
        return int(row[0]) if row else 0


def telemetry_count(db_url: str) -> int:
    return count(db_url, "SELECT count(*) FROM telemetry")


def config_for(settings: Settings, **changes: Any) -> IngestConfig:
    config = ingest_config(settings)
    changes.setdefault("client_id", f"test-ingest-{uuid.uuid4().hex[:8]}")
    changes.setdefault("metrics_port", None)
    changes.setdefault("session_expiry_s", 600)
    return replace(config, **changes)


class RunningIngester:
    """An :class:`Ingester` in a thread of the test process, with its own registry."""

    def __init__(self, config: IngestConfig, dsn: str) -> None:
        self.registry = CollectorRegistry()
        self.ingester = Ingester(config, dsn, registry=self.registry)
        self.stop = threading.Event()
        self.result: bool | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.result = self.ingester.run(self.stop)

    def start(self) -> RunningIngester:
        self.thread.start()
        if not self.ingester.ready.wait(15):
            self.stop.set()  # not left running behind the failed test
            self.thread.join(30)
            raise AssertionError("ingester did not connect")
        return self

    def value(self, name: str, **labels: str) -> float:
        got = self.registry.get_sample_value(name, labels)
        return 0.0 if got is None else got

    def close(self) -> None:
        self.stop.set()
        self.thread.join(60)
        assert not self.thread.is_alive()


@contextlib.contextmanager
def running(config: IngestConfig, dsn: str) -> Iterator[RunningIngester]:
    ingester = RunningIngester(config, dsn).start()
    try:
        yield ingester
    finally:
        ingester.close()


class IngestProcess:
    """``python -m pogo ingest`` as a real subprocess, configured by environment variables."""

    def __init__(
        self, db_url: str, mqtt_url: str, root: str, client_id: str, tmp: Path, **env: str
    ) -> None:
        self.metrics_port = free_port()
        self.env = {
            **os.environ,
            "POGO_DATABASE_URL": db_url,
            "POGO_MQTT_URL": mqtt_url,
            "POGO_MQTT_TOPIC_ROOT": root,
            "POGO_MQTT_CLIENT_ID": client_id,
            "POGO_INGEST_METRICS_PORT": str(self.metrics_port),
            "POGO_LOG_FORMAT": "json",
            "POGO_MQTT_SESSION_EXPIRY_S": "600",  # do not leave week-long sessions behind
            "POGO_RIDER_KEY": RIDER_KEY,
            **env,
        }
        self.log_path = tmp / f"ingest-{client_id}-{uuid.uuid4().hex[:6]}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, wait_ready: bool = True) -> IngestProcess:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pogo", "ingest"],
            env=self.env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        if wait_ready:
            try:
                wait_for(
                    lambda: '"connected"' in self.log(), 30, f"ingester to connect:\n{self.log()}"
                )
            except BaseException:
                self.cleanup()  # a process that never connected is not left running
                raise
        return self

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def metric(self, name: str, **labels: str) -> float:
        """A sample scraped from the process's metrics endpoint (0 when absent)."""
        with urllib.request.urlopen(
            f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5
        ) as r:
            text = r.read().decode()
        want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        pattern = r"(?m)^" + re.escape(name + (f"{{{want}}}" if want else "")) + r" ([0-9.e+-]+)"
        match = re.search(pattern, text)
        return float(match.group(1)) if match else 0.0

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def terminate(self, timeout: float = 30) -> int:
        assert self.process is not None
        self.process.terminate()
        return self.process.wait(timeout)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def cleanup(self) -> None:
        if self.alive():
            self.kill()
