"""A closed-loop HTTP load generator: N concurrent clients, each sending its next request as
soon as the previous one is answered, every latency kept."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

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


async def _load(
    base_url: str,
    path_for: Callable[[int, int], str],
    clients: int,
    per_client: int,
    check: Callable[[httpx.Response], None],
) -> LoadResult:
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:
        # Warm the keep-alive connections (and the server's pool) before measuring.
        await asyncio.gather(*(client.get(path_for(c, 0)) for c in range(clients)))

        async def one(c: int) -> None:
            for i in range(per_client):
                began = time.perf_counter()
                response = await client.get(path_for(c, i))
                latencies.append(time.perf_counter() - began)
                check(response)

        began = time.perf_counter()
        await asyncio.gather(*(one(c) for c in range(clients)))
        seconds = time.perf_counter() - began
    return LoadResult(clients, len(latencies), seconds, np.array(latencies))


def run_load(
    base_url: str,
    path_for: Callable[[int, int], str],
    clients: int = 50,
    per_client: int = 20,
    check: Callable[[httpx.Response], None] = lambda r: r.raise_for_status(),
) -> LoadResult:
    """``clients`` concurrent clients, ``per_client`` requests each, to ``path_for(c, i)``."""
    return asyncio.run(_load(base_url, path_for, clients, per_client, check))


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
