"""The bad-input corpus: every rule of DESIGN.md against the real broker and database.

Each input goes to a vehicle (or topic) of its own, so its dead letters can be told apart; the
good points sent beside bad ones must be stored, and the ingester must still be running and
storing at the end.
"""

from __future__ import annotations

import struct
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import psycopg

from fleet.riders import pseudonym
from tests.fixtures.settings import TEST_RIDER_KEY, SettingsFactory
from tests.ingest.builders import now_ms, point, track
from tests.ingest.harness import (
    Publisher,
    config_for,
    count,
    running,
    telemetry_count,
    wait_for,
)
from wire import binary
from wire.topics import format_topic

MAX_PAYLOAD = 4096


@dataclass
class Case:
    """One bad input: where it goes, what it carries, the dead letters and good points due."""

    name: str
    payload: Any
    reasons: list[str]
    stored: int = 0
    duplicates: int = 0
    kind: str = "telemetry"
    topic: str | None = None  # a raw topic (relative to the root) instead of a vehicle's
    extra: dict[str, Any] = field(default_factory=dict)


def _binary_with_bad_point() -> bytes:
    points = track(3)
    points[1]["lat"] = 95.0
    return binary.encode(points)


def _binary_version(version: int) -> bytes:
    payload = bytearray(binary.encode(track(1)))
    struct.pack_into("<B", payload, 2, version)
    return bytes(payload)


def corpus() -> list[Case]:
    """At least 25 distinct bad inputs (here 40)."""
    ts = now_ms()
    good = point(ts - 5000)
    same = point(ts - 7000)
    return [
        Case("malformed JSON", b'{"ts": 1, "lat":', ["malformed_json"]),
        Case("empty payload", b"", ["malformed_json"]),
        Case("JSON string", b'"hello"', ["not_a_point"]),
        Case("JSON number", b"42", ["not_a_point"]),
        Case("JSON null", b"null", ["not_a_point"]),
        Case("string for lat", point(lat="32.1"), ["bad_type"]),
        Case("string for speed", point(speed_kmh="fast"), ["bad_type"]),
        Case("boolean for lon", point(lon=True), ["bad_type"]),
        Case("object for soc", point(soc_pct={"v": 1}), ["bad_type"]),
        Case(
            "NaN literal",
            f'{{"ts": {ts}, "lat": NaN, "lon": -7.95}}'.encode(),
            ["not_finite"],
        ),
        Case(
            "Infinity beside a good point",
            f'[{{"ts": {ts - 1000}, "lat": 32.2, "lon": -7.9}},'
            f' {{"ts": {ts}, "lat": 32.2, "lon": Infinity}}]'.encode(),
            ["not_finite"],
            stored=1,
        ),
        Case("latitude 95", point(lat=95.0), ["lat_range"]),
        Case("latitude -90.5", point(lat=-90.5), ["lat_range"]),
        Case("longitude -181", point(lon=-181.0), ["lon_range"]),
        Case("the 0,0 fix", point(lat=0.0, lon=0), ["null_island"]),
        Case("SoC 101", point(soc_pct=101), ["soc_range"]),
        Case("SoC -1", point(soc_pct=-1.0), ["soc_range"]),
        Case("ts a day ahead", point(now_ms(86_400)), ["ts_future"]),
        Case("ts ten days old", point(now_ms(-10 * 86_400)), ["ts_past"]),
        Case("ts without offset", point("2026-11-22T08:15:30"), ["bad_timestamp"]),
        Case("ts as a float", point(float(ts)), ["bad_timestamp"]),
        Case("ts as nonsense", point("yesterday"), ["bad_timestamp"]),
        Case("no lat", {"ts": ts, "lon": -7.9}, ["missing_field"]),
        Case("no ts", {"lat": 32.2, "lon": -7.9}, ["missing_field"]),
        Case("seq beyond int64", point(seq=2**70), ["value_range"]),
        Case("speed beyond real", point(speed_kmh=1e39), ["value_range"]),
        Case("oversize payload", b"[" + b" " * MAX_PAYLOAD + b"]", ["oversize"]),
        Case("binary garbage", b"\x00\xffgarbage\x01\x02", ["unknown_encoding"]),
        Case("invalid UTF-8", b"\xff\xfe\xfd", ["unknown_encoding"]),
        Case("truncated binary", binary.encode(track(3))[:-5], ["binary_length"]),
        Case("binary version 9", _binary_version(9), ["binary_version"]),
        Case("binary with a bad record", _binary_with_bad_point(), ["lat_range"], stored=2),
        Case("empty batch", b"[]", ["empty_batch"]),
        Case("batch of 1001", b"[" + b",".join([b"{}"] * 1001) + b"]", ["batch_too_large"]),
        Case(
            "ThingsBoard values not an object",
            [{"ts": ts, "values": [1, 2]}],
            ["not_a_point"],
        ),
        Case("a number inside a batch", [good, 5], ["not_a_point"], stored=1),
        Case("duplicates inside one batch", [same, same], [], stored=1, duplicates=1),
        Case("invalid vehicle id", point(), ["bad_topic"], topic="benguerir/bad.id/telemetry"),
        Case("unknown topic kind", point(), ["bad_topic"], topic="benguerir/b99/gps"),
        Case("a level too many", point(), ["bad_topic"], topic="benguerir/b98/telemetry/x"),
        Case("event of unknown type", {"ts": ts, "type": "wheelie"}, ["bad_event"], kind="events"),
        *[
            Case(
                f"rider {what}",
                {"ts": ts, "type": "ride_start", "rider": rider},
                ["bad_event"],
                kind="events",
            )
            for what, rider in [
                ("as a phone number", "+212 600 112233"),
                ("as a tel: URI", "tel:0612345678"),
                ("as a phone number and a letter", "0612345678a"),
                ("as sixteen digits", "0612345678901234"),
                ("as a name", "Fatima Zahra El Idrissi"),
                ("as a long name", "fatima-zahra-el-idrissi"),
                ("as an e-mail address", "fatima.zahra@example.com"),
                ("as a number", 612345678),
            ]
        ],
        Case("status neither online nor offline", b"maybe", ["bad_status"], kind="status"),
    ]


def test_bad_input_corpus_is_dead_lettered_and_the_ingester_keeps_going(
    make_settings: SettingsFactory, mqtt_url: str, db_url: str, topic_root: str
) -> None:
    """Each bad input becomes dead-letter rows with its reason and a counted metric, the good
    points beside it are stored, duplicates are counted, and the ingester keeps storing."""
    cases = corpus()
    assert len(cases) >= 25
    config = config_for(make_settings(), max_payload_bytes=MAX_PAYLOAD)
    topics = {}
    for i, case in enumerate(cases):
        topics[case.name] = (
            f"{topic_root}/{case.topic}"
            if case.topic
            else format_topic("corpus", f"b{i:02d}", case.kind, topic_root)  # type: ignore[arg-type]
        )
    sentinel_topic = format_topic("corpus", "sentinel", "telemetry", topic_root)
    expected_stored = sum(c.stored for c in cases)
    with running(config, db_url) as ing, Publisher(mqtt_url) as pub:
        pub.publish_all([(topics[c.name], c.payload) for c in cases])
        pub.publish_all([(sentinel_topic, point(now_ms(-1)))])
        wait_for(
            lambda: telemetry_count(db_url) == expected_stored + 1,
            what=f"{expected_stored + 1} good points",
        )
        assert ing.thread.is_alive()
        # still storing after all of it
        pub.publish_all([(sentinel_topic, track(5, start_ms=now_ms(-100)))])
        wait_for(lambda: telemetry_count(db_url) == expected_stored + 6, what="5 more points")
        metrics = {
            reason: ing.value("pogo_ingest_dead_letters_total", reason=reason)
            for reason in {r for c in cases for r in c.reasons}
        }
        duplicates = ing.value("pogo_ingest_points_total", result="duplicate")
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT topic, reason, payload, detail FROM dead_letters").fetchall()
    by_topic: dict[str, list[str]] = {}
    for topic, reason, payload, detail in rows:
        by_topic.setdefault(topic, []).append(reason)
        assert isinstance(payload, bytes) and detail
    for case in cases:
        assert sorted(by_topic.get(topics[case.name], [])) == sorted(case.reasons), case.name
    in_db = Counter(r[1] for r in rows)
    for reason, value in metrics.items():
        assert value == in_db[reason], reason
    assert duplicates == sum(c.duplicates for c in cases)


def test_a_rejected_point_keeps_its_own_payload_and_a_detail(
    make_settings: SettingsFactory, mqtt_url: str, db_url: str, topic_root: str
) -> None:
    """A bad point in a batch is dead-lettered with its own JSON and a detail naming field and
    value; a bad binary record with its 40 raw bytes."""
    config = config_for(make_settings())
    topic = format_topic("corpus", "detail", "telemetry", topic_root)
    points = track(3)
    points[2]["soc_pct"] = 130
    records = track(2, start_ms=now_ms(-50))
    records[0]["lon"] = -200.0
    payload = binary.encode(records)
    with running(config, db_url), Publisher(mqtt_url) as pub:
        pub.publish_all([(topic, points), (topic, payload)])
        wait_for(lambda: telemetry_count(db_url) == 3, what="3 good points")
    with psycopg.connect(db_url) as conn:
        rows = dict(
            (r[0], (bytes(r[1]), r[2]))
            for r in conn.execute("SELECT reason, payload, detail FROM dead_letters")
        )
    soc_payload, soc_detail = rows["soc_range"]
    assert b'"soc_pct":130' in soc_payload and b'"seq":2' in soc_payload
    assert soc_detail == "point 2: soc_pct is 130; expected 0 to 100"
    lon_payload, lon_detail = rows["lon_range"]
    assert lon_payload == payload[8:48]
    assert lon_detail.startswith("point 0: lon is -200.0")


def test_dead_letters_and_logs_keep_no_rider_token(
    make_settings: SettingsFactory, mqtt_url: str, db_url: str, topic_root: str
) -> None:
    """Events refused for their type, their time or their JSON, each carrying a valid rider
    token, and one whose rider is a phone number: none of the tokens is in any dead letter,
    and the good event's rider is stored as its pseudonym only."""
    config = config_for(make_settings())
    topic = format_topic("corpus", "riders", "events", topic_root)
    token, phone = "rdr-5f2a9c81d4e07b3a", "+212600112233"
    ts = now_ms(-5)
    messages: list[tuple[str, object]] = [
        (
            topic,
            [
                {"ts": ts, "type": "wheelie", "rider": token},
                {"ts": ts, "type": "ride_start", "rider": token},
            ],
        ),
        (topic, {"ts": now_ms(3600), "type": "ride_end", "rider": token}),  # in the future
        (topic, b'{"ts": 1, "type": "ride_start", "rider": "' + token.encode() + b'"'),
        (topic, {"ts": ts, "type": "ride_end", "rider": phone}),
    ]
    with running(config, db_url), Publisher(mqtt_url) as pub:
        pub.publish_all(messages)
        wait_for(
            lambda: count(db_url, "SELECT count(*) FROM dead_letters") == 4, what="4 dead letters"
        )
    with psycopg.connect(db_url) as conn:
        letters = conn.execute("SELECT payload, detail FROM dead_letters").fetchall()
        riders = conn.execute("SELECT rider FROM vehicle_events").fetchall()
    for payload, detail in letters:
        for secret in (token, phone):
            assert secret.encode() not in bytes(payload) and secret not in detail
    assert riders == [(pseudonym(TEST_RIDER_KEY, token),)]
