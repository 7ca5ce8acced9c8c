"""Fixtures of the city service's tests: the service on this test's real database, under a real
uvicorn on a free port, called over real HTTP with httpx."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
import uvicorn

from city import ServiceConfig, create_app
from pogo.embedded import free_port

WRITE_TOKEN = "write-secret"
READ_TOKEN = "read-secret"

ClientFactory = Callable[..., httpx.Client]


class LiveServer:
    """The service under a real uvicorn in a thread, on a free loopback port."""

    def __init__(self, config: ServiceConfig) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(
                create_app(config),
                host="127.0.0.1",
                port=self.port,
                log_level="warning",
                lifespan="on",
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


@pytest.fixture
def make_client(db_url: str) -> Iterator[ClientFactory]:
    """``make_client(read_token=..., ...)``: the service on this test's database under a real
    uvicorn (its lifespan opens the pool), and an httpx client for it; stopped after the test."""
    stack = contextlib.ExitStack()

    def build(**overrides: object) -> httpx.Client:
        options: dict[str, object] = {"dsn": db_url, "write_token": WRITE_TOKEN, "pool_size": 2}
        options.update(overrides)
        server = stack.enter_context(LiveServer(ServiceConfig(**options)))  # type: ignore[arg-type]
        return stack.enter_context(httpx.Client(base_url=server.url, timeout=30))

    with stack:
        yield build


@pytest.fixture
def client(make_client: ClientFactory) -> httpx.Client:
    """The service with a write token and no read token (reading is open)."""
    return make_client()


@pytest.fixture
def live_server(db_url: str) -> Iterator[LiveServer]:
    """The service on this test's database under a real uvicorn."""
    with LiveServer(ServiceConfig(dsn=db_url, write_token=WRITE_TOKEN, pool_size=2)) as server:
        yield server
