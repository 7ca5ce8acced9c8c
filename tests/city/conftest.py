"""Fixtures of the city service's tests: the service on this test's real database, under a real
uvicorn on a free port, called over real HTTP with httpx."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import httpx
import pytest

from city import BackgroundServer, ServiceConfig
from pogo.embedded import free_port

WRITE_TOKEN = "write-secret"
READ_TOKEN = "read-secret"
OPERATOR_TOKEN = "operator-secret"
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}

ClientFactory = Callable[..., httpx.Client]


@pytest.fixture
def make_client(db_url: str) -> Iterator[ClientFactory]:
    """``make_client(read_token=..., ...)``: the service on this test's database under a real
    uvicorn (its lifespan opens the pool), and an httpx client for it; stopped after the test."""
    stack = contextlib.ExitStack()

    def build(**overrides: object) -> httpx.Client:
        options: dict[str, object] = {
            "dsn": db_url,
            "write_token": WRITE_TOKEN,
            "operator_token": OPERATOR_TOKEN,
            "pool_size": 2,
        }
        options.update(overrides)
        config = ServiceConfig(**options)  # type: ignore[arg-type]
        server = stack.enter_context(BackgroundServer(config, port=free_port()))
        return stack.enter_context(httpx.Client(base_url=server.url, timeout=30))

    with stack:
        yield build


@pytest.fixture
def client(make_client: ClientFactory) -> httpx.Client:
    """The service with a write token and no read token (reading is open)."""
    return make_client()


@pytest.fixture
def live_server(db_url: str) -> Iterator[BackgroundServer]:
    """The service on this test's database under a real uvicorn on a free port."""
    config = ServiceConfig(
        dsn=db_url, write_token=WRITE_TOKEN, operator_token=OPERATOR_TOKEN, pool_size=2
    )
    with BackgroundServer(config, port=free_port()) as server:
        yield server
