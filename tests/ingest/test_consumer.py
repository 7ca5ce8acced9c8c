"""Tests of ingest/consumer.py against the real broker and database: the happy paths."""

from __future__ import annotations

import datetime as dt
import json
import random

import orjson
import psycopg

from fleet.riders import pseudonym
from ingest.payload import MAX_BATCH
from tests.fixtures.settings import TEST_RIDER_KEY, SettingsFactory
from tests.ingest.builders import full_point, now_ms, point, track
from tests.ingest.harness import Publisher, config_for, count, running, telemetry_count, wait_for
from wire import binary
from wire.topics import format_topic

TOKEN = "tok_5f2a9c81d4e07b3a"


def test_every_wire_format_is_stored(
    make_settings: SettingsFactory, mqtt_url: str, db_url: str, topic_root: str
) -> None:
    """A JSON point, a JSON batch, a ThingsBoard batch and a binary batch all land in telemetry."""
    config = config_for(make_settings())
    t = lambda v: format_topic("benguerir", v, "telemetry", topic_root)  # noqa: E731
    tb_start = now_ms(-30)
    thingsboard = [
        {"ts": tb_start + i * 1000, "values": {"lat": 32.2 + i * 1e-4, "lon": -7.95, "soc_pct": 80}}
        for i in range(5)
    ]
    with running(config, db_url) as ing, Publisher(mqtt_url) as pub:
        pub.publish_all(
            [
                (t("m1"), full_point()),
                (t("m2"), track(50)),
                (t("m3"), thingsboard),
                (t("m4"), binary.encode(track(20))),
            ]
        )
        wait_for(lambda: telemetry_count(db_url) == 76, what="76 stored points")
        # counted just after the commit that made the points visible, messages before points
        wait_for(lambda: ing.value("pogo_ingest_points_total", result="stored") == 76)
        assert ing.value("pogo_ingest_messages_total", result="accepted") == 4
    with psycopg.connect(db_url) as conn:
        rows = dict(
            conn.execute(
                "SELECT v.vehicle, count(*) FROM telemetry JOIN vehicles v USING (vehicle_key)"
                " GROUP BY 1"
            ).fetchall()
        )
        assert rows == {"m1": 1, "m2": 50, "m3": 5, "m4": 20}
        full = conn.execute(
            "SELECT speed_kmh, heading_deg, hdop, soc_pct, voltage_v, current_a, batt_temp_c,"
            " odometer_km, seq FROM telemetry JOIN vehicles v USING (vehicle_key)"
            " WHERE v.vehicle = 'm1'"
        ).fetchone()
        assert full is not None
        assert full[0] == 27.4 and full[3] == 76.5 and full[7] == 10234.52 and full[8] == 1
        sparse = conn.execute(
            "SELECT count(*) FROM telemetry JOIN vehicles v USING (vehicle_key)"
            " WHERE v.vehicle = 'm3' AND speed_kmh IS NULL AND seq IS NULL AND soc_pct = 80"
        ).fetchone()
        assert sparse == (5,)


def test_redelivered_points_are_stored_once_and_counted(
    make_settings: SettingsFactory, mqtt_url: str, db_url: str, topic_root: str
) -> None:
    """The same points sent twice are stored once; the second copy counts as duplicate."""
    config = config_for(make_settings())
    topic = format_topic("benguerir", "dup", "telemetry", topic_root)
    points = track(10)
    with running(config, db_url) as ing, Publisher(mqtt_url) as pub:
        pub.publish_all([(topic, points)])
        wait_for(lambda: ing.value("pogo_ingest_points_total", result="stored") == 10)
        pub.publish_all([(topic, points)])
        wait_for(lambda: ing.value("pogo_ingest_points_total", result="duplicate") == 10)
    assert telemetry_count(db_url) == 10


def test_a_bad_message_sent_again_is_one_dead_letter_counted_as_duplicate(
    make_settings: SettingsFactory, mqtt_url: str, db_url: str, topic_root: str
) -> None:
    """A bad point arriving twice (a redelivery, a device resending) leaves one dead-letter
    row with two occurrences: one dead letter and one duplicate point in the metrics."""
    config = config_for(make_settings())
    topic = format_topic("benguerir", "bad2", "telemetry", topic_root)
    bad = point(now_ms(-10), lat=95.0)
    with running(config, db_url) as ing, Publisher(mqtt_url) as pub:
        pub.publish_all([(topic, bad)])
        wait_for(lambda: ing.value("pogo_ingest_dead_letters_total", reason="lat_range") == 1)
        pub.publish_all([(topic, bad)])
        wait_for(
            lambda: ing.value("pogo_ingest_dead_letters_repeated_total", reason="lat_range") == 1
        )
        assert ing.value("pogo_ingest_dead_letters_total", reason="lat_range") == 1
        assert ing.value("pogo_ingest_points_total", result="dead_letter") == 1
        assert ing.value("pogo_ingest_points_total", result="duplicate") == 1
    assert count(db_url, "SELECT count(*) FROM dead_letters") == 1
    assert count(db_url, "SELECT occurrences FROM dead_letters") == 2


def test_events_and_status_are_stored(
    make_settings: SettingsFactory, mqtt_url: str, db_url: str, topic_root: str
) -> None:
    """Ride events go to vehicle_events (duplicates once) with the rider's pseudonym and only
    the allow-listed fields, the status to vehicle_status."""
    config = config_for(make_settings())
    events = format_topic("benguerir", "e1", "events", topic_root)
    status = format_topic("benguerir", "e1", "status", topic_root)
    start = now_ms(-60)
    ride = [
        {
            "ts": start,
            "type": "ride_start",
            "ride_id": "r-1",
            "rider": TOKEN,
            "soc_pct": 81,
            "name": "Fatima",
            "phone": "+212600112233",
        },
        {"ts": start + 50_000, "type": "ride_end", "ride_id": "r-1", "rider": TOKEN},
    ]
    with running(config, db_url) as ing, Publisher(mqtt_url) as pub:
        pub.publish_all([(events, ride), (events, ride[0]), (status, b"online")])
        wait_for(lambda: ing.value("pogo_ingest_events_total", result="duplicate") == 1)
        wait_for(lambda: count(db_url, "SELECT count(*) FROM vehicle_status") == 1)
        pub.publish_all([(status, b"offline")])
        wait_for(lambda: count(db_url, "SELECT count(*) FROM vehicle_status WHERE NOT online") == 1)
        pub.client.publish(status, b"", retain=True)  # clear our retained message
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT type, ride_id, rider, attributes FROM vehicle_events ORDER BY ts"
        ).fetchall()
    stored = pseudonym(TEST_RIDER_KEY, TOKEN)
    assert rows == [
        ("ride_start", "r-1", stored, {"soc_pct": 81}),  # fields off the allow-list dropped
        ("ride_end", "r-1", stored, {}),
    ]


def test_single_point_messages_flush_on_time(
    make_settings: SettingsFactory, mqtt_url: str, db_url: str, topic_root: str
) -> None:
    """A trickle far below the batch size is committed by the flush interval."""
    config = config_for(make_settings(), batch_points=100_000, flush_interval_s=0.2)
    topic = format_topic("benguerir", "slow", "telemetry", topic_root)
    with running(config, db_url) as ing, Publisher(mqtt_url) as pub:
        for i in range(3):
            pub.publish_all([(topic, point(now_ms() - 1000 + i))])
        wait_for(lambda: telemetry_count(db_url) == 3, timeout=5, what="three points")
        # the lag is observed last, just after the commit that made the points visible
        wait_for(lambda: ing.value("pogo_ingest_lag_seconds_count") == 3, timeout=5)
        assert ing.value("pogo_ingest_batch_commit_seconds_count") >= 1


def _widest_batch(n: int = MAX_BATCH) -> list[dict[str, object]]:
    """The largest batch the contract allows: every field, each float with 17 significant
    digits, RFC 3339 times with nanoseconds and an offset, 19-digit sequence numbers."""
    rng = random.Random(7)

    def wide(lo: float, hi: float) -> float:
        while True:
            value = rng.uniform(lo, hi)
            if len(repr(value)) >= 18:
                return value

    start = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=n + 60)
    plus_one = dt.timezone(dt.timedelta(hours=1))
    return [
        {
            "ts": (start + dt.timedelta(seconds=i))
            .astimezone(plus_one)
            .isoformat("T", "microseconds")[:-6]
            + "789+01:00",
            "lat": wide(-89.9, -10.0),
            "lon": wide(-179.9, -100.0),
            "speed_kmh": wide(10.0, 99.0),
            "heading_deg": wide(100.0, 359.0),
            "hdop": wide(0.1, 0.99),
            "soc_pct": wide(10.0, 99.0),
            "voltage_v": wide(10.0, 99.0),
            "current_a": wide(-99.0, -10.0),
            "batt_temp_c": wide(-39.0, -10.0),
            "odometer_km": wide(10_000.0, 99_999.0),
            "seq": 9_223_372_036_854_775_807 - i,
        }
        for i in range(n)
    ]


def test_the_largest_batch_of_the_contract_fits_the_default_payload_limit(
    make_settings: SettingsFactory, mqtt_url: str, db_url: str, topic_root: str
) -> None:
    """A 1,000-point batch with every field at full precision, even indented, is within the
    default POGO_INGEST_MAX_PAYLOAD_BYTES, and all its points are stored."""
    config = config_for(make_settings())
    batch = _widest_batch()
    compact, indented = orjson.dumps(batch), json.dumps(batch, indent=2).encode()
    assert len(compact) > 350_000  # it is the wide batch the limit must admit
    assert len(indented) <= config.max_payload_bytes
    topic = format_topic("benguerir", "wide", "telemetry", topic_root)
    with running(config, db_url) as ing, Publisher(mqtt_url) as pub:
        pub.publish_all([(topic, indented)])
        wait_for(lambda: telemetry_count(db_url) == MAX_BATCH, what="the 1,000 points")
        wait_for(lambda: ing.value("pogo_ingest_messages_total", result="accepted") == 1)
        assert ing.value("pogo_ingest_dead_letters_total", reason="oversize") == 0
