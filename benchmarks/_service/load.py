"""A closed-loop HTTP load generator: N concurrent clients, each sending its next request as
soon as the previous one is answered, every latency kept."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import numpy as np

from pogo.embedded import free_port


@dataclass(frozen=True)
class LoadResult:
    clients: int
    requests: int
    seconds: float
    latencies_s: np.ndarray

    def percentile_ms(self, q: float) -> float:
        return float(np.percentile(self.latencies_s, q) * 1000)

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds

    def line(self, label: str) -> str:
        return (
            f"{label}: {self.clients} clients, {self.requests} requests, "
            f"{self.throughput:.0f} req/s; p50 {self.percentile_ms(50):.1f} ms, "
            f"p95 {self.percentile_ms(95):.1f} ms, p99 {self.percentile_ms(99):.1f} ms, "
            f"max {self.percentile_ms(100):.1f} ms"
        )


class _Connection:
    """One keep-alive HTTP/1.1 connection: GET and read the answer (Content-Length bodies).

    Leaner than a general client, so the load generator's CPU stays small beside the
    service's on a small machine; answers are checked by status and by ``check``.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> tuple[int, bytes]:
        try:
            return await self._get(path)
        except (asyncio.IncompleteReadError, ConnectionError):
            # The server closed an idle keep-alive connection: open a new one, once.
            self.close()
            self.writer = None
            return await self._get(path)

    async def _get(self, path: str) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        request = f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n\r\n"
        self.writer.write(request.encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.lower() == "content-length":
                length = int(value.strip())
        body = await self.reader.readexactly(length)
        return status, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def _load(
    base_url: str,
    path_for: Callable[[int, int], str],
    clients: int,
    per_client: int,
    check: Callable[[int, bytes], None],
    check_every: int,
) -> LoadResult:
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    connections = [_Connection(host, port) for _ in range(clients)]
    latencies: list[float] = []
    try:
        # Open the keep-alive connections (and warm the server's pool) before measuring.
        await asyncio.gather(*(conn.get(path_for(c, 0)) for c, conn in enumerate(connections)))

        async def one(c: int) -> None:
            for i in range(per_client):
                began = time.perf_counter()
                status, body = await connections[c].get(path_for(c, i))
                latencies.append(time.perf_counter() - began)
                if status != 200:
                    raise AssertionError(f"HTTP {status}: {body[:300]!r}")
                if (c * per_client + i) % check_every == 0:
                    check(status, body)

        # The load generator's own objects (the whole test session's) are set aside from its
        # garbage collector while it measures: a full collection of them paused every client
        # at once for tens of milliseconds, counted as the service's latency.
        gc.collect()
        gc.freeze()
        began = time.perf_counter()
        await asyncio.gather(*(one(c) for c in range(clients)))
        seconds = time.perf_counter() - began
    finally:
        gc.unfreeze()
        for conn in connections:
            conn.close()
    return LoadResult(clients, len(latencies), seconds, np.array(latencies))


def _ok(status: int, body: bytes) -> None:
    if status != 200:
        raise AssertionError(f"HTTP {status}: {body[:300]!r}")


def run_load(
    base_url: str,
    path_for: Callable[[int, int], str],
    clients: int = 50,
    per_client: int = 20,
    check: Callable[[int, bytes], None] = _ok,
    check_every: int = 1,
) -> LoadResult:
    """``clients`` concurrent clients, ``per_client`` requests each, to ``path_for(c, i)``.

    Every answer must be 200; ``check`` (parsing the body, which costs the load generator CPU
    the service then lacks) sees every ``check_every``-th answer.
    """
    return asyncio.run(_load(base_url, path_for, clients, per_client, check, check_every))


@contextmanager
def served(dsn: str, pool_size: int = 8) -> Iterator[str]:
    """``pogo serve`` in a process of its own (the load generator keeps its own CPU)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("POGO_")}
    env.update(
        POGO_DATABASE_URL=dsn,
        POGO_DATABASE_POOL_SIZE=str(pool_size),
        POGO_LOG_LEVEL="warning",
        POGO_LOG_FORMAT="json",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "pogo", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("pogo serve did not become ready")
            time.sleep(0.2)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
