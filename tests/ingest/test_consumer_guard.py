"""The whole-message guard of ingest/consumer.py: an error nobody foresaw dead-letters the
message that caused it as ``internal_error`` (its exception's type in the detail), the rest
of its batch is stored, and writing a dead letter can neither loop nor stop the ingester.

The decoders raise nothing for anything a message carries (test_payload_properties.py), so
the unforeseen errors here are injected into our own code with ``monkeypatch``: the broker
and the database are the real ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from prometheus_client import CollectorRegistry
from psycopg_pool import ConnectionPool

from ingest import Ingester
from ingest.batch import Batch, Message
from ingest.errors import Reason
from ingest.writer import Writer, prepare_connection
from tests.fixtures.settings import TEST_RIDER_KEY, SettingsFactory
from tests.ingest.builders import now_ms, point, track
from tests.ingest.harness import Publisher, config_for, count, running, telemetry_count, wait_for
from tests.ingest.test_batch_properties import POISON
from wire.topics import format_topic

MARK = b"poison-marker"


class Unforeseen(Exception):
    """What the injected bug raises."""


def _raise_on_marker(original: Callable[..., Any]) -> Callable[..., Any]:
    def add(self: Batch, message: Message) -> None:
        if MARK in message.payload:
            raise Unforeseen("injected")
        original(self, message)

    return add


def _dead_letters(db_url: str) -> list[tuple[str, str, str]]:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT topic, reason, detail FROM dead_letters ORDER BY topic")
        return [(str(t), str(r), str(d)) for t, r, d in rows]


def _poisoned_point() -> dict[str, Any]:
    return point(now_ms(-5), note=MARK.decode())


@pytest.mark.parametrize("stage", ["add", "build", "write"])
def test_an_unforeseen_error_dead_letters_only_its_message(
    stage: str,
    monkeypatch: pytest.MonkeyPatch,
    make_settings: SettingsFactory,
    mqtt_url: str,
    db_url: str,
    topic_root: str,
) -> None:
    """Whether decoding one message, building its batch or writing it raises, that message
    becomes an internal_error dead letter naming the exception's type, the good messages of
    the same batch are stored, and the ingester goes on to store what comes next."""
    if stage == "add":
        monkeypatch.setattr(Batch, "add", _raise_on_marker(Batch.add))
    elif stage == "build":
        original_build = Batch.build

        def build(self: Batch) -> Any:
            if any(MARK in m.payload for m in self.messages):
                raise Unforeseen("injected")
            return original_build(self)

        monkeypatch.setattr(Batch, "build", build)
    else:
        original_write = Writer.write

        def write(self: Writer, ws: Any) -> Any:
            if any(MARK in d.payload for d in ws.dead_letters):
                return original_write(self, ws)  # its dead letter is written
            if len(ws.points) and (ws.points["lat"] == 1.5).any():
                raise Unforeseen("injected")
            return original_write(self, ws)

        monkeypatch.setattr(Writer, "write", write)
    config = config_for(make_settings(), flush_interval_s=0.5)
    t = lambda v: format_topic("fleet", v, "telemetry", topic_root)  # noqa: E731
    poisoned = _poisoned_point()
    if stage == "write":
        poisoned["lat"] = 1.5
    with running(config, db_url) as ing, Publisher(mqtt_url) as pub:
        pub.publish_all([(t("good1"), track(5)), (t("bad"), poisoned), (t("good2"), track(3))])
        wait_for(lambda: telemetry_count(db_url) == 8, what="the 8 good points")
        wait_for(
            lambda: ing.value("pogo_ingest_dead_letters_total", reason="internal_error") == 1,
            what="one internal_error dead letter",
        )
        pub.publish_all([(t("after"), track(2, start_ms=now_ms(-60)))])
        wait_for(lambda: telemetry_count(db_url) == 10, what="the points sent afterwards")
        # (counted just after the commit that made the points visible)
        wait_for(lambda: ing.value("pogo_ingest_messages_total", result="accepted") == 3)
        assert ing.value("pogo_ingest_messages_total", result="rejected") == 1
        assert ing.thread.is_alive()
    [(topic, reason, detail)] = _dead_letters(db_url)
    assert (topic, reason) == (t("bad"), "internal_error")
    assert "Unforeseen" in detail and "injected" in detail


def _writer(db_url: str) -> tuple[ConnectionPool[Any], Writer]:
    pool: ConnectionPool[Any] = ConnectionPool(
        db_url, min_size=1, max_size=1, configure=prepare_connection, open=True
    )
    return pool, Writer(pool, TEST_RIDER_KEY)


def test_a_dead_letter_the_database_refuses_is_written_printable(
    make_settings: SettingsFactory, db_url: str
) -> None:
    """A dead letter whose text the database cannot hold (a NUL in the topic and detail) is
    written again with those made printable: one attempt more, never a loop."""
    registry = CollectorRegistry()
    ingester = Ingester(config_for(make_settings()), db_url, registry=registry)
    message = Message("pogo/v1/f/v\x00/telemetry", b"\x00raw", 1, 1, time.time())
    pool, writer = _writer(db_url)
    with pool:
        result = ingester._write_dead_letter(
            writer, message, Reason.DB_REJECTED, "detail with \x00 in it", 1
        )
    assert [d.reason for d in result.dead_letters] == [Reason.DB_REJECTED]
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT topic, payload, detail FROM dead_letters").fetchone()
    assert row == ("pogo/v1/f/v\\x00/telemetry", b"\x00raw", "detail with \\x00 in it")
    assert registry.get_sample_value("pogo_ingest_unwritable_messages_total") == 0


def test_a_dead_letter_refused_twice_is_logged_counted_and_let_go(
    monkeypatch: pytest.MonkeyPatch, make_settings: SettingsFactory, db_url: str
) -> None:
    """Should the database refuse even the printable dead letter, the message is counted as
    unwritable and the call returns (the message can then be acknowledged): no loop."""
    calls: list[int] = []

    def refuse(self: Writer, ws: Any) -> Any:
        calls.append(1)
        raise psycopg.errors.DataError("refused")

    registry = CollectorRegistry()
    ingester = Ingester(config_for(make_settings()), db_url, registry=registry)
    message = Message("pogo/v1/f/v/telemetry", b"{}", 1, 1, time.time())
    pool, writer = _writer(db_url)
    monkeypatch.setattr(Writer, "write", refuse)
    with pool:
        result = ingester._write_dead_letter(writer, message, Reason.DB_REJECTED, "d", 1)
    assert result.dead_letters == [] and len(calls) == 2
    assert registry.get_sample_value("pogo_ingest_unwritable_messages_total") == 1
    assert count(db_url, "SELECT count(*) FROM dead_letters") == 0


def test_poison_messages_then_a_good_point_which_is_stored(
    make_settings: SettingsFactory, mqtt_url: str, db_url: str, topic_root: str
) -> None:
    """The messages that used to stop the ingester (an unhashable event type, nesting
    thousands of levels deep in a value, a batch element, an event ts, ThingsBoard values)
    published through the real broker, then a good point: each poison message is a dead
    letter with its own reason (never internal_error), and the good point is stored."""
    config = config_for(make_settings())
    poison = [(topic.replace("pogo/v1", topic_root, 1), payload) for topic, payload in POISON]
    good = format_topic("fleet", "after", "telemetry", topic_root)
    with running(config, db_url) as ing, Publisher(mqtt_url) as pub:
        pub.publish_all(poison)
        pub.publish_all([(good, point(now_ms(-5)))])
        wait_for(lambda: telemetry_count(db_url) == 1, what="the good point")
        wait_for(
            lambda: ing.value("pogo_ingest_messages_total", result="rejected") == len(poison),
            what="every poison message rejected",
        )
        wait_for(lambda: ing.value("pogo_ingest_messages_total", result="accepted") == 1)
        assert ing.value("pogo_ingest_dead_letters_total", reason="internal_error") == 0
        assert ing.thread.is_alive()
    letters = _dead_letters(db_url)
    assert {topic for topic, _, _ in letters} == {topic for topic, _ in poison}
    reasons = {reason for _, reason, _ in letters}
    assert "internal_error" not in reasons
    assert {"bad_event", "bad_type", "bad_timestamp", "not_a_point"} <= reasons, reasons
