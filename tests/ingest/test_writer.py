"""Tests of ingest/writer.py against the real database: the COPY fast path, the staging slow
path for points already stored, duplicates inside a batch, and dead letters stored once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import orjson
import psycopg
import pytest
from psycopg_pool import ConnectionPool

from ingest.batch import Batch, Message, WriteSet
from ingest.validation import Rules
from ingest.writer import Writer, prepare_connection
from tests.fixtures.settings import TEST_RIDER_KEY
from tests.fleet.dropping import DROPPED_LAT, drop_marked_rows
from tests.ingest.builders import full_point, now_ms, point, track
from wire.topics import format_topic

ROOT = "pogo/v1"


def write_set(*messages: tuple[str, Any], received_at: float | None = None) -> WriteSet:
    """The :class:`WriteSet` of these ``(vehicle or raw topic, payload)`` messages."""
    batch = Batch(ROOT, Rules(), 64 * 1024)
    when = time.time() if received_at is None else received_at
    for mid, (where, payload) in enumerate(messages, start=1):
        topic = where if "/" in where else format_topic("wt", where, "telemetry", ROOT)
        body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        batch.add(Message(topic, body, mid, 1, when))
    return batch.build()


@pytest.fixture
def writer(db_url: str) -> Iterator[Writer]:
    """A writer on a pool of this test's database."""
    with ConnectionPool(db_url, min_size=1, max_size=2, configure=prepare_connection) as pool:
        yield Writer(pool, TEST_RIDER_KEY)


def _rows(db_url: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(db_url) as conn:
        return conn.execute(query).fetchall()


def test_a_clean_batch_is_copied_straight_in_with_absent_fields_as_null(
    writer: Writer, db_url: str
) -> None:
    """New points take the fast path; absent optional fields are NULL, present ones exact,
    whatever mix of fields the points of one batch carry."""
    start = now_ms(-60)
    sparse = track(3, start_ms=start)  # seq but no speed, soc...
    sparse[1]["soc_pct"] = 55.5
    full = [full_point(start + 10_000 + i, seq=7) for i in range(2)]
    result = writer.write(write_set(("a", sparse), ("b", full)))
    assert (result.stored, result.duplicates, result.slow_path) == (5, 0, False)
    rows = _rows(
        db_url,
        "SELECT v.vehicle, t.seq, t.soc_pct, t.speed_kmh, t.odometer_km FROM telemetry t"
        " JOIN vehicles v USING (vehicle_key) ORDER BY v.vehicle, t.ts",
    )
    assert rows == [
        ("a", 0, None, None, None),
        ("a", 1, 55.5, None, None),
        ("a", 2, None, None, None),
        ("b", 7, 76.5, 27.4, 10234.52),
        ("b", 7, 76.5, 27.4, 10234.52),
    ]


def test_duplicates_inside_one_batch_keep_the_first_and_are_counted(
    writer: Writer, db_url: str
) -> None:
    """Two points of one vehicle with the same ts in one batch: the first arrival is stored,
    the second counted as a duplicate, and the batch still takes the fast path."""
    ts = now_ms(-30)
    result = writer.write(
        write_set(("d", [point(ts, lat=32.1), point(ts + 1)]), ("d", point(ts, lat=32.9)))
    )
    assert (result.stored, result.duplicates, result.slow_path) == (2, 1, False)
    assert _rows(db_url, "SELECT lat FROM telemetry ORDER BY ts") == [(32.1,), (32.2361,)]


def test_points_already_stored_take_the_slow_path_and_are_counted_exactly(
    writer: Writer, db_url: str
) -> None:
    """A batch overlapping what is stored (a redelivery) stores only the new points, counts
    the rest as duplicates, and keeps the stored values."""
    start = now_ms(-120)
    first = writer.write(write_set(("r", track(10, start_ms=start))))
    assert (first.stored, first.slow_path) == (10, False)
    again = track(15, start_ms=start + 5000, soc_pct=20.0)  # 5 old, 10 new
    again.append(dict(again[-1]))  # and one duplicate inside the batch
    second = writer.write(write_set(("r", again)))
    assert (second.stored, second.duplicates, second.slow_path) == (10, 6, True)
    assert _rows(db_url, "SELECT count(*), count(soc_pct) FROM telemetry") == [(20, 10)]


def test_a_redelivered_bad_message_leaves_one_dead_letter_row(writer: Writer, db_url: str) -> None:
    """The same write set committed twice (the process killed after the commit, before its
    acks: the broker redelivers) leaves one row per dead letter, with two occurrences and the
    later time received; the second write reports them as repeats, not new rows."""
    topic = format_topic("wt", "bad", "telemetry", ROOT)
    messages = (
        (topic, b'{"ts": 1, "lat":'),
        (topic, [point(now_ms(-5)), point(now_ms(-4), soc_pct=140)]),
        (f"{ROOT}/wt/bad.id/telemetry", point()),
    )
    t0 = time.time()
    first = writer.write(write_set(*messages, received_at=t0))
    assert (len(first.dead_letters), len(first.repeated_dead_letters)) == (3, 0)
    assert sum(d.points for d in first.dead_letters) == 3
    second = writer.write(write_set(*messages, received_at=t0 + 60))
    assert (len(second.dead_letters), len(second.repeated_dead_letters)) == (0, 3)
    assert second.duplicates == 1  # the good point of the batch
    rows = _rows(
        db_url,
        "SELECT reason, occurrences, extract(epoch FROM last_received_at - received_at)"
        " FROM dead_letters ORDER BY reason",
    )
    assert rows == [("bad_topic", 2, 60), ("malformed_json", 2, 60), ("soc_range", 2, 60)]


def test_identical_dead_letters_in_one_batch_make_one_row(writer: Writer, db_url: str) -> None:
    """The same bad bytes twice in one batch: one row with two occurrences, one new and one
    repeat; different bad bytes on the same topic stay separate rows."""
    topic = format_topic("wt", "twice", "telemetry", ROOT)
    result = writer.write(write_set((topic, b"[]"), (topic, b"[]"), (topic, b"{")))
    assert [str(d.reason) for d in result.dead_letters] == ["empty_batch", "malformed_json"]
    assert [str(d.reason) for d in result.repeated_dead_letters] == ["empty_batch"]
    assert _rows(db_url, "SELECT reason, occurrences FROM dead_letters ORDER BY reason") == [
        ("empty_batch", 2),
        ("malformed_json", 1),
    ]


def test_a_point_the_database_drops_becomes_a_not_stored_dead_letter(
    writer: Writer, db_url: str
) -> None:
    """On the slow path, a point the database neither stores nor holds (a row dropped
    without a conflict) is not counted as a duplicate: it becomes a ``not_stored`` dead
    letter holding the point, on its vehicle's topic."""
    start = now_ms(-60)
    writer.write(write_set(("n", track(2, start_ms=start))))
    with psycopg.connect(db_url, autocommit=True) as conn:
        drop_marked_rows(conn, "always")
    lost = point(start + 5000, lat=DROPPED_LAT, soc_pct=50.0)
    result = writer.write(write_set(("n", [*track(3, start_ms=start), lost])))
    assert (result.stored, result.duplicates, result.slow_path) == (1, 2, True)
    (dead,) = result.dead_letters
    assert (str(dead.reason), dead.points, dead.topic) == (
        "not_stored",
        1,
        f"{ROOT}/wt/n/telemetry",
    )
    assert orjson.loads(dead.payload) == {
        "ts": start + 5000,
        "lat": DROPPED_LAT,
        "lon": -7.9531,
        "soc_pct": 50.0,
    }
    assert _rows(db_url, "SELECT count(*) FROM telemetry") == [(3,)]
    assert _rows(db_url, "SELECT reason FROM dead_letters") == [("not_stored",)]
