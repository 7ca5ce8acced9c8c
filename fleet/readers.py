"""Readers and a writer: the database reads the next batches and writes the last one while
the builder works.

A run of the trip builder over many batches (a first build, ``pogo trips --rebuild``, a build
after a long outage) would otherwise alternate: the database reads a batch while Python
waits, then Python segments it while the database waits. With :func:`read_ahead`, ``readers``
threads, each on its own connection, read the following batches meanwhile: psycopg releases
the GIL while it waits for the server, so the database reads on as many cores as there are
readers while the builder segments on its own connection. :class:`WriteBehind` writes one
batch's results on that connection, in a thread of its own, while the builder segments the
next (on two simulated years the writes were a quarter of the builder's thread).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import psycopg

__all__ = ["WriteBehind", "read_ahead"]

Conn = psycopg.Connection[Any]
T = TypeVar("T")
R = TypeVar("R")


def read_ahead(
    dsn: str,
    read: Callable[[Conn, T], R],
    items: Sequence[T],
    readers: int = 2,
    session: Callable[[Conn], None] | None = None,
) -> Generator[R, None, None]:
    """``read(conn, item)`` of every item, in order, computed ``readers`` at a time ahead.

    Parameters
    ----------
    dsn : str
        libpq URL; each reader opens one autocommit connection to it, closed at the end.
    read : callable
        Reads one item on the connection it is given; it must only read (each reader has its
        own snapshot, so what one batch writes must not be what another reads).
    items : sequence
        What to read, in the order the results are yielded.
    readers : int, default 2
        Threads (and connections); at most this many results wait unconsumed, so memory
        holds at most ``readers + 1`` batches.
    session : callable, optional
        Called once on each reader's connection when it opens (session settings).

    Yields
    ------
    The result of ``read`` for each item. An error of a read is raised where its result
    would have been yielded; reads still running then finish before the connections close.
    """
    opened: list[Conn] = []
    lock = threading.Lock()
    local = threading.local()

    def run(item: T) -> R:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = psycopg.connect(dsn, autocommit=True)
            with lock:
                opened.append(conn)
            if session is not None:
                session(conn)
        return read(conn, item)

    pool = ThreadPoolExecutor(max_workers=max(1, readers), thread_name_prefix="trip-reader")
    waiting: deque[Future[R]] = deque()
    try:
        ahead = iter(items)
        for item in ahead:
            waiting.append(pool.submit(run, item))
            if len(waiting) >= readers:
                break
        while waiting:
            result = waiting.popleft().result()
            for item in ahead:
                waiting.append(pool.submit(run, item))
                break
            yield result
    finally:
        for future in waiting:
            future.cancel()
        pool.shutdown(wait=True)
        for conn in opened:
            conn.close()


class WriteBehind:
    """Runs writes in order, each while the caller goes on, at most one at a time.

    :meth:`submit` waits for the write before it (raising its error) and starts the next in
    a thread of its own; :meth:`wait` waits for the write in flight; :meth:`close` waits too
    and ends the thread. With ``background`` false every write runs in :meth:`submit`.
    Each write's error is raised where the caller next submits, waits or closes, so a write
    that failed is never followed by another.
    """

    def __init__(self, background: bool = True) -> None:
        self._pool = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="trip-writer")
            if background
            else None
        )
        self._pending: Future[None] | None = None

    def submit(self, write: Callable[[], None]) -> None:
        """Wait for the write in flight, then start ``write``."""
        self.wait()
        if self._pool is None:
            write()
        else:
            self._pending = self._pool.submit(write)

    def wait(self) -> None:
        """Wait for the write in flight (raising its error)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        """Wait for the write in flight and end the thread."""
        try:
            self.wait()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
