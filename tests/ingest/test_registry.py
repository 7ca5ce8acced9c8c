"""POGO_INGEST_REQUIRE_REGISTERED: the ingester's registry check behind the broker's ACLs."""

from __future__ import annotations

import time

import psycopg

from fleet import devices
from ingest.registry import Registry
from tests.fixtures.settings import SettingsFactory
from tests.ingest.harness import Publisher, config_for, count, running, wait_for


def _point(offset_s: float = 0.0) -> dict[str, object]:
    return {"ts": int((time.time() - 30 + offset_s) * 1000), "lat": 32.2361, "lon": -7.9531}


def test_snapshot_is_refreshed_on_age_and_on_a_miss() -> None:
    """A known vehicle is answered from memory; an unknown one in a message received after
    the last read makes a new read, one received before it does not; an old snapshot is
    read again; a failed read keeps the last one."""
    reads: list[float] = []
    active = {("f", "a")}
    now = [100.0]
    failing = [False]

    def load() -> frozenset[tuple[str, str]]:
        reads.append(now[0])
        if failing[0]:
            raise psycopg.OperationalError("down")
        return frozenset(active)

    registry = Registry(load, refresh_s=30, clock=lambda: now[0])
    assert registry.refresh()
    assert registry.admits("f", "a", received_at=100.5) and len(reads) == 1
    now[0] = 101.0
    assert not registry.admits("f", "b", received_at=99.0) and len(reads) == 1  # read after it
    active.add(("f", "b"))
    assert registry.admits("f", "b", received_at=100.8) and len(reads) == 2  # received after
    assert not registry.admits("f", "c", received_at=100.9) and len(reads) == 2
    active.discard(("f", "a"))
    now[0] = 140.0
    assert not registry.admits("f", "a", received_at=139.0) and len(reads) == 3  # old snapshot
    failing[0] = True
    now[0] = 180.0
    assert registry.admits("f", "b", received_at=179.0)  # the read failed; the last one stands


def test_unregistered_and_revoked_vehicles_are_dead_lettered(
    make_settings: SettingsFactory, db_url: str, topic_root: str
) -> None:
    """With the check on, a registered vehicle's points are stored; an unknown vehicle's and
    a revoked one's are dead-lettered as `unregistered` (topic and payload kept, nothing
    stored, no vehicle row created); a vehicle registered while the ingester runs is
    admitted at once."""
    with psycopg.connect(db_url) as conn:
        devices.add_device(conn, "city", "good")
        devices.add_device(conn, "city", "gone")
        devices.revoke_device(conn, "city", "gone")
    settings = make_settings(ingest_require_registered="true")
    config = config_for(settings)
    assert config.require_registered
    with running(config, db_url) as ingester, Publisher(settings.mqtt.url()) as pub:
        pub.publish_all(
            [
                (f"{topic_root}/city/good/telemetry", _point()),
                (f"{topic_root}/city/gone/telemetry", _point()),
                (f"{topic_root}/city/nobody/telemetry", [_point(), _point(1)]),
                (f"{topic_root}/city/nobody/status", b"online"),
            ]
        )
        wait_for(
            lambda: count(db_url, "SELECT count(*) FROM dead_letters") == 3,
            what="three dead letters",
        )
        assert ingester.value("pogo_ingest_dead_letters_total", reason="unregistered") == 3
        with psycopg.connect(db_url) as conn:
            devices.add_device(conn, "city", "new")
        pub.publish_all([(f"{topic_root}/city/new/telemetry", _point())])
        wait_for(lambda: count(db_url, "SELECT count(*) FROM telemetry") == 2, what="points")
    rows = count(db_url, "SELECT count(*) FROM dead_letters WHERE reason = 'unregistered'")
    assert rows == 3
    vehicles = count(db_url, "SELECT count(*) FROM vehicles WHERE vehicle IN ('gone', 'nobody')")
    assert vehicles == 0
    detail = count(
        db_url,
        "SELECT count(*) FROM dead_letters WHERE detail LIKE %s AND topic LIKE %s",
        ("%city/gone is not registered or is revoked%", "%/city/gone/telemetry"),
    )
    assert detail == 1
