"""``fleet.readers`` against a real PostgreSQL: ``read_ahead``'s order, how far ahead it
reads, errors, and its connections closed; ``WriteBehind``'s order, one write in flight, and
a failed write stopping the ones after it."""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg
import pytest

from fleet.readers import WriteBehind, read_ahead


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


def writer_table(conn: psycopg.Connection[Any]) -> None:
    conn.execute("CREATE TEMP TABLE written (k serial PRIMARY KEY, item int NOT NULL)")
    conn.commit()


def written(conn: psycopg.Connection[Any]) -> list[int]:
    return [int(r[0]) for r in conn.execute("SELECT item FROM written ORDER BY k").fetchall()]


@pytest.mark.parametrize("background", [True, False])
def test_writes_run_in_order_one_at_a_time(db_url: str, background: bool) -> None:
    """Twelve writes on one connection, each its own transaction: stored in the order
    submitted; in the background on a thread other than the caller's, inline on the
    caller's; each write had finished before the next began."""
    running: list[int] = []
    threads: set[int] = set()
    overlapped = []
    with psycopg.connect(db_url) as conn:
        writer_table(conn)
        writes = WriteBehind(background)

        def write(item: int) -> None:
            overlapped.append(bool(running))
            running.append(item)
            threads.add(threading.get_ident())
            time.sleep(0.01)
            with conn.transaction():
                conn.execute("INSERT INTO written (item) VALUES (%s)", (item,))
            running.remove(item)

        for item in range(12):
            writes.submit(lambda item=item: write(item))
        writes.close()
        assert written(conn) == list(range(12))
    assert not any(overlapped)
    assert (threading.get_ident() not in threads) is background


def test_a_failed_write_is_raised_and_no_later_write_runs(db_url: str) -> None:
    """The third write fails: its error comes out of the next submit, whose write never
    runs, and the two before it are stored."""
    with psycopg.connect(db_url) as conn:
        writer_table(conn)
        writes = WriteBehind()

        def write(item: int) -> None:
            with conn.transaction():
                if item == 2:
                    conn.execute("INSERT INTO no_such_table VALUES (1)")
                conn.execute("INSERT INTO written (item) VALUES (%s)", (item,))

        for item in range(3):
            writes.submit(lambda item=item: write(item))
        with pytest.raises(psycopg.errors.UndefinedTable):
            writes.submit(lambda: write(3))
        writes.close()  # nothing left in flight
        assert written(conn) == [0, 1]
