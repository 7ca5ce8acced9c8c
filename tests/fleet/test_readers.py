"""``fleet.readers.read_ahead`` against a real PostgreSQL: order, how far ahead it reads,
errors, and its connections closed."""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg
import pytest

from fleet.readers import read_ahead


def backend(conn: psycopg.Connection[Any], item: int) -> tuple[int, int]:
    row = conn.execute("SELECT %s::int, pg_backend_pid()", (item,)).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def test_results_come_in_order_each_read_on_a_reader_connection(db_url: str, db: Any) -> None:
    """Twenty reads by two readers: results in the order of the items, from two
    connections other than the caller's, closed once the reads are consumed."""
    results = list(read_ahead(db_url, backend, list(range(20)), readers=2))
    assert [item for item, _ in results] == list(range(20))
    pids = {pid for _, pid in results}
    assert 1 <= len(pids) <= 2 and db.info.backend_pid not in pids
    for _ in range(50):  # a backend leaves pg_stat_activity shortly after its client closed
        still = db.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (list(pids),)
        ).fetchone()
        if still == (0,):
            break
        time.sleep(0.1)
    assert still == (0,)


def test_it_reads_at_most_readers_items_ahead(db_url: str) -> None:
    """While the caller holds one result, at most ``readers`` further items were read."""
    started: list[int] = []
    lock = threading.Lock()

    def read(conn: psycopg.Connection[Any], item: int) -> int:
        with lock:
            started.append(item)
        return item

    reads = read_ahead(db_url, read, list(range(10)), readers=2)
    assert next(reads) == 0
    with lock:
        assert max(started) <= 2
    assert list(reads) == list(range(1, 10))


def test_a_failed_read_is_raised_where_its_result_was_due(db_url: str) -> None:
    """Results before the failed item arrive; the failed item raises its own error."""

    def read(conn: psycopg.Connection[Any], item: int) -> int:
        if item == 3:
            conn.execute("SELECT * FROM no_such_table")
        return item

    got: list[int] = []
    with pytest.raises(psycopg.errors.UndefinedTable):
        for item in read_ahead(db_url, read, list(range(8)), readers=2):
            got.append(item)
    assert got == [0, 1, 2]


def test_each_reader_connection_gets_the_session_settings_once(db_url: str) -> None:
    """``session`` runs on every reader's connection when it opens, before its first read."""
    opened: list[int] = []

    def session(conn: psycopg.Connection[Any]) -> None:
        conn.execute("SET jit = off")
        opened.append(conn.info.backend_pid)

    def read(conn: psycopg.Connection[Any], item: int) -> tuple[int, str]:
        row = conn.execute("SELECT pg_backend_pid(), current_setting('jit')").fetchone()
        assert row is not None
        return int(row[0]), str(row[1])

    got = list(read_ahead(db_url, read, list(range(12)), readers=2, session=session))
    assert {setting for _, setting in got} == {"off"}
    assert sorted(opened) == sorted({pid for pid, _ in got})  # once per connection
