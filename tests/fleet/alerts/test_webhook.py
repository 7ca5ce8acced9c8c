"""Delivery of the alert outbox (fleet/alerts/webhook.py) to a real local HTTP receiver:
signed, retried with backoff while the receiver is down, bounded in time, never twice."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from fleet.alerts import backoff_s
from tests.fixtures.receiver import WEBHOOK_SECRET, Receiver, free_port
from tests.fleet.alerts.builders import build, outbox, send, store
from tests.fleet.builders import parked, vehicle_key


def _two_alerts(db_url: str, db: Any) -> None:
    """Two vehicles' low batteries opened: two deliveries queued."""
    for name in ("m1", "m2"):
        store(db, vehicle_key(db, name), parked(0, 300, soc_pct=10.0), 301)
    build(db_url, 310)


def test_a_receiver_that_is_down_gets_retries_and_a_later_run_delivers(
    db_url: str, db: Any, start_receiver: Any
) -> None:
    """While nothing listens the run records the failure, schedules a retry with backoff and
    returns; a run before the retry is due sends nothing; once due, the receiver (up again on
    the same port) gets each delivery once, with the same delivery id as the failed attempt."""
    _two_alerts(db_url, db)
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    first = send(db_url, url)
    assert (first.delivered, first.failed) == (0, 1)  # unreachable: the rest wait
    assert "unreachable" in first.errors[0] and str(port) not in first.errors[0]
    rows = outbox(db)
    failed = [r for r in rows if r["attempts"] == 1]
    assert len(failed) == 1 and failed[0]["delivered_at"] is None
    assert failed[0]["last_error"].startswith("unreachable")
    receiver = start_receiver(port)
    assert send(db_url, url, later_s=1).delivered == 1  # the other one; the failed one waits
    assert send(db_url, url, later_s=backoff_s(1) + 1).delivered == 1
    assert send(db_url, url, later_s=3600).delivered == 0
    ids = [d.headers["x-pogo-delivery"] for d in receiver.deliveries]
    assert sorted(ids) == sorted(str(r["delivery_id"]) for r in rows)
    assert all(d.signed_by(WEBHOOK_SECRET) for d in receiver.deliveries)
    assert all(r["delivered_at"] is not None for r in outbox(db))


def test_an_error_status_is_retried_with_growing_backoff(
    db_url: str, db: Any, receiver: Receiver
) -> None:
    """A 503 is not a delivery: each attempt moves the next one further away (30 s, 60 s,
    ...), and the first 2xx ends it."""
    store(db, vehicle_key(db), parked(0, 300, soc_pct=10.0), 301)
    build(db_url, 310)
    receiver.status = 503
    assert send(db_url, receiver.url).failed == 1
    (row,) = outbox(db)
    first_retry = row["next_attempt_at"]
    assert row["last_error"] == "HTTP 503"
    assert send(db_url, receiver.url, later_s=backoff_s(1) + 1).failed == 1
    (row,) = outbox(db)
    assert row["attempts"] == 2
    assert (row["next_attempt_at"] - first_retry).total_seconds() >= backoff_s(2)
    receiver.status = 200
    assert send(db_url, receiver.url, later_s=backoff_s(1) + backoff_s(2) + 2).delivered == 1
    assert len(receiver.deliveries) == 3
    assert len({d.body for d in receiver.deliveries}) == 1  # the same bytes every time


def test_a_redirect_is_not_followed(db_url: str, db: Any, receiver: Receiver) -> None:
    """A 3xx is an error: the signed body never goes to another URL."""
    store(db, vehicle_key(db), parked(0, 300, soc_pct=10.0), 301)
    build(db_url, 310)
    receiver.status = 307
    report = send(db_url, receiver.url)
    assert report.failed == 1 and report.errors == ["HTTP 307"]
    assert len(receiver.deliveries) == 1


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(sock.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(sock.getsockname()[1])
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    sock.close()


def test_a_hanging_receiver_costs_at_most_the_budget(
    db_url: str, db: Any, silent_port: int
) -> None:
    """A receiver that never answers times out within the run's budget; the delivery waits
    for a later run, counted as failed."""
    _two_alerts(db_url, db)
    began = time.monotonic()
    report = send(db_url, f"http://127.0.0.1:{silent_port}/", budget_s=1.0)
    assert time.monotonic() - began < 3.0
    assert report.delivered == 0 and report.failed == 1
    assert sum(r["delivered_at"] is None for r in outbox(db)) == 2


def test_two_deliverers_at_once_send_each_transition_once(
    db_url: str, db: Any, receiver: Receiver
) -> None:
    """Two processes delivering the same outbox at the same time (each row is locked while it
    is sent) send every delivery exactly once."""
    for i in range(6):
        store(db, vehicle_key(db, f"m{i}"), parked(0, 300, soc_pct=10.0), 301)
    build(db_url, 310)
    threads = [threading.Thread(target=send, args=(db_url, receiver.url)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [d.headers["x-pogo-delivery"] for d in receiver.deliveries]
    assert len(ids) == 6 == len(set(ids))
