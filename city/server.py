"""Running the service under uvicorn, in the foreground or in a thread of a larger process."""

from __future__ import annotations

import contextlib
import errno
import signal
import socket
import threading
import time
from collections.abc import Iterator
from types import TracebackType
from typing import Self

import uvicorn

from city.app import create_app
from city.config import ServiceConfig
from city.errors import CityError

__all__ = ["BackgroundServer", "Server", "listen", "run"]


class Server(uvicorn.Server):
    """uvicorn's server, stopping on SIGINT/SIGTERM and then returning normally.

    uvicorn re-raises the signal it caught once it has shut down, so the process dies by that
    signal; a ``pogo`` command that stopped cleanly exits 0 instead.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {s: signal.signal(s, self.handle_exit) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _uvicorn_config(config: ServiceConfig, host: str, port: int, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(config),
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        lifespan="on",
    )


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (as uvicorn binds it), or a one-line error.

    Raises
    ------
    CityError
        When the address is in use or cannot be bound, naming it and what to change.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise CityError(
                f"{host}:{port} is already in use; choose another port with --port or "
                "POGO_HTTP_PORT"
            ) from None
        raise CityError(
            f"cannot listen on {host}:{port} ({exc.strerror}); check --host/POGO_HTTP_HOST"
        ) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def run(config: ServiceConfig, host: str, port: int, log_level: str = "info") -> None:
    """Serve until SIGINT or SIGTERM, then shut down gracefully and return.

    Raises
    ------
    CityError
        When ``host:port`` cannot be listened on.
    """
    sock = listen(host, port)
    try:
        Server(_uvicorn_config(config, host, port, log_level)).run(sockets=[sock])
    finally:
        sock.close()


class BackgroundServer:
    """The service in a thread: ``with BackgroundServer(config, port=0) as s: s.url``."""

    def __init__(
        self,
        config: ServiceConfig,
        host: str = "127.0.0.1",
        port: int = 0,
        log_level: str = "warning",
    ) -> None:
        self._config = _uvicorn_config(config, host, port, log_level)
        self.server = Server(self._config)
        self.thread = threading.Thread(target=self.server.run, name="city-service", daemon=True)
        self.host = host

    @property
    def port(self) -> int:
        """The bound port (the real one when asked for port 0)."""
        for server in self.server.servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        return self._config.port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise CityError(f"the city service did not start on {self.host}")
            time.sleep(0.02)

    def stop(self, timeout: float = 30) -> None:
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(timeout)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
