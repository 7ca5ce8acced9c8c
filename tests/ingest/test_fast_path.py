"""The msgspec fast path for JSON telemetry gives exactly what the general decoder gives.

Every input is run through :class:`ingest.batch.Batch` twice, once with the fast path and once
with only the general path (``fast_json=False``), and the whole :class:`WriteSet` is compared:
the point arrays byte for byte, every dead letter's reason, detail and payload, the message
results. Inputs: the bad-input corpus, edge cases chosen where the two JSON decoders differ,
random well-formed batches and the benchmark's payloads.
"""

from __future__ import annotations

import json
import random
import time
from typing import Any

import orjson
import pytest

from ingest.batch import Batch, Message, WriteSet
from ingest.errors import DecodeError
from ingest.payload import decode_telemetry
from ingest.validation import Rules
from tests.ingest.builders import full_point, now_ms, point, track
from tests.ingest.test_bad_input import MAX_PAYLOAD, corpus

ROOT = "pogo"
FLEET = f"{ROOT}/benguerir"


def _bytes(payload: Any) -> bytes:
    if isinstance(payload, bytes):
        return payload
    try:
        return orjson.dumps(payload)
    except TypeError:
        return json.dumps(payload).encode()


def _edge_cases() -> list[tuple[str, bytes]]:
    ts = now_ms(-60)
    good = f'"ts": {ts}, "lat": 32.2, "lon": -7.9'
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts / 1000))
    raw = [
        ("minus zero integer", f'{{"ts": {ts}, "lat": 32.2, "lon": -7.9, "speed_kmh": -0}}'),
        ("minus zero float", f'{{"ts": {ts}, "lat": 32.2, "lon": -7.9, "hdop": -0.0}}'),
        ("integer lat", f'{{"ts": {ts}, "lat": 32, "lon": -8}}'),
        ("lat 2**53 + 1", f'{{"ts": {ts}, "lat": 9007199254740993, "lon": -7.9}}'),
        ("odometer 1e29 integer", f'{{{good}, "odometer_km": 100000000000000000000000000001}}'),
        ("float beyond double", f'{{{good}, "voltage_v": 1e400}}'),
        ("unknown float beyond double", f'{{{good}, "x": 1e400}}'),
        ("unknown huge integer", f'{{{good}, "x": 123456789012345678901234567890}}'),
        ("duplicate key", f'{{"ts": {ts}, "lat": 95.0, "lon": -7.9, "lat": 32.2}}'),
        ("values null", f'{{{good}, "values": null}}'),
        ("values beside lat", f'[{{{good}, "values": {{"lat": 32.3}}}}]'),
        ("ThingsBoard batch", f'[{{"ts": {ts}, "values": {{"lat": 32.2, "lon": -7.9}}}}]'),
        ("ThingsBoard object", f'{{"ts": {ts}, "values": {{"lat": 32.2, "lon": -7.9}}}}'),
        ("null lat", f'{{"ts": {ts}, "lat": null, "lon": -7.9}}'),
        ("null optional fields", f'{{{good}, "soc_pct": null, "seq": null}}'),
        ("seq as float", f'{{{good}, "seq": 5.0}}'),
        ("seq int64 min", f'[{{{good}, "seq": {-(2**63)}}}]'),
        ("seq int64 min beside none", f'[{{{good}, "seq": {-(2**63)}}}, {{{good}}}]'),
        ("ts beyond int64", f'{{"ts": {2**64 - 1}, "lat": 32.2, "lon": -7.9}}'),
        ("ts with an offset", f'{{"ts": "{iso}.250+01:00", "lat": 32.2, "lon": -7.9}}'),
        ("ts with microseconds", f'{{"ts": "{iso}.123456Z", "lat": 32.2, "lon": -7.9}}'),
        ("ts with nanoseconds", f'{{"ts": "{iso}.123456789Z", "lat": 32.2, "lon": -7.9}}'),
        ("ts with a space", f'{{"ts": "{iso.replace("T", " ")}.000Z", "lat": 32.2, "lon": 1}}'),
        ("ts mixed forms", f'[{{{good}}}, {{"ts": "{iso}.000Z", "lat": 32.2, "lon": -7.9}}]'),
        ("ts february 30", '{"ts": "2026-02-30T00:00:00.000Z", "lat": 32.2, "lon": -7.9}'),
        ("lone surrogate", f'{{{good}, "x": "\\ud800"}}'),
        ("unknown nested 1010 deep", f'{{{good}, "x": {"[" * 1010}{"]" * 1010}}}'),
        ("trailing comma", f"[{{{good}}},]"),
        ("trailing text", f"{{{good}}} x"),
        ("boolean speed", f'{{{good}, "speed_kmh": true}}'),
        ("single point in an array", f"[{{{good}}}]"),
        ("unknown fields", f'{{{good}, "fw": "1.2.3", "extra": {{"a": [1, 2]}}}}'),
    ]
    cases = [(name, text.encode()) for name, text in raw]
    cases.append(("invalid UTF-8 in an unknown field", f'{{{good}, "x": "'.encode() + b'\xff"}'))
    cases.append(("UTF-8 in an unknown field", f'{{{good}, "x": "é"}}'.encode()))
    cases.append(("byte order mark", b"\xef\xbb\xbf" + f"{{{good}}}".encode()))
    return cases


def _inputs() -> list[tuple[str, str, bytes]]:
    """(name, topic, payload) for every input the tests compare."""
    out = []
    for i, case in enumerate(corpus()):
        topic = f"{ROOT}/{case.topic}" if case.topic else f"{FLEET}/c{i:03d}/{case.kind}"
        out.append((case.name, topic, _bytes(case.payload)))
    for i, (name, payload) in enumerate(_edge_cases()):
        out.append((name, f"{FLEET}/e{i:03d}/telemetry", payload))
    return out


def _random_batch(rng: random.Random, n: int) -> list[dict[str, Any]]:
    start = now_ms(-3600)
    points = []
    for i in range(n):
        p = full_point(start + rng.randrange(3_600_000), seq=rng.randrange(2**40))
        p["lat"] = float(f"{rng.uniform(-89.9, 89.9):.{rng.randrange(1, 17)}g}")
        p["lon"] = rng.uniform(-179.9, 179.9)
        p["odometer_km"] = rng.uniform(0, 1e7) if i % 3 else rng.randrange(10**7)
        p["speed_kmh"] = rng.choice([rng.uniform(0, 90), rng.randrange(90), None])
        if i % 4 == 0:
            del p["hdop"]
        if i % 5 == 0:
            p["ts"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(p["ts"] / 1000)) + (
                f".{p['ts'] % 1000:03d}Z"
            )
        points.append(p)
    return points


def _build(
    messages: list[tuple[str, bytes]], fast: bool, received_at: float, max_payload: int
) -> WriteSet:
    batch = Batch(ROOT, Rules(), max_payload, fast_json=fast)
    for mid, (topic, payload) in enumerate(messages):
        batch.add(Message(topic, payload, mid, 1, received_at))
    return batch.build()


def _assert_same(messages: list[tuple[str, bytes]], max_payload: int = MAX_PAYLOAD) -> WriteSet:
    received_at = time.time()
    fast = _build(messages, True, received_at, max_payload)
    general = _build(messages, False, received_at, max_payload)
    assert fast.points.tobytes() == general.points.tobytes()
    assert fast.point_vehicle.tolist() == general.point_vehicle.tolist()
    assert fast.point_received_ms.tolist() == general.point_received_ms.tolist()
    assert fast.vehicles == general.vehicles
    assert fast.events == general.events
    assert fast.statuses == general.statuses
    assert fast.dead_letters == general.dead_letters
    assert fast.message_results == general.message_results
    assert fast.rejected_points == general.rejected_points
    return fast


@pytest.mark.parametrize("name", [name for name, _, _ in _inputs()])
def test_each_input_alone_gives_the_general_paths_result(name: str) -> None:
    """For every corpus and edge-case input, in a batch of its own, the fast path's points,
    dead letters (reason, detail, payload) and results equal the general decoder's."""
    (message,) = [(topic, payload) for n, topic, payload in _inputs() if n == name]
    _assert_same([message])


def test_all_inputs_in_one_batch_give_the_general_paths_result() -> None:
    """The whole corpus plus clean messages in one batch: the same WriteSet either way, so
    fast and general messages mixed keep their order (the first of two equal keys wins)."""
    ts = now_ms(-30)
    messages = [(topic, payload) for _, topic, payload in _inputs()]
    clean = orjson.dumps(track(5, start_ms=ts))
    messages = [(f"{FLEET}/mix/telemetry", clean), *messages, (f"{FLEET}/mix/telemetry", clean)]
    messages.append((f"{FLEET}/mix/telemetry", b'{"ts": %d, "lat": 32.2, "lon": NaN}' % ts))
    out = _assert_same(messages)
    reasons = {d.reason.value for d in out.dead_letters}
    assert len(out.points) > 15 and len(reasons) > 20 and "bad_topic" in reasons


def test_mixed_messages_keep_the_first_of_two_equal_keys() -> None:
    """A general-path message (it holds a NaN) before a clean one with the same key: the
    stored point is the first one's, as with the general decoder alone."""
    ts = now_ms(-30)
    first = b'[{"ts": %d, "lat": 32.2, "lon": -7.9, "soc_pct": 11}, {"ts": %d, "lat": NaN}]' % (
        ts,
        ts + 1,
    )
    second = orjson.dumps(point(ts, soc_pct=99.0))
    topic = f"{FLEET}/dup/telemetry"
    out = _assert_same([(topic, first), (topic, second)])
    assert out.points["soc_pct"].tolist() == [11.0, 99.0]  # the writer keeps the first


def test_random_clean_batches_take_the_fast_path_and_match() -> None:
    """Random well-formed batches (floats of every precision, integers for floats, absent
    and null fields, RFC 3339 and epoch ms): decoded by msgspec, identical results."""
    rng = random.Random(3)
    messages = []
    for i in range(40):
        payload = orjson.dumps(_random_batch(rng, rng.randrange(1, 60)))
        assert decode_telemetry(payload).encoding == "fast"
        messages.append((f"{FLEET}/r{i % 7}/telemetry", payload))
    out = _assert_same(messages, max_payload=1 << 20)
    assert len(out.points) > 500 and not out.dead_letters


def test_the_benchmark_payloads_take_the_fast_path() -> None:
    """The 50-point batches of benchmarks/ decode by msgspec and give the general result."""
    from benchmarks._ingest.workload import messages

    batches = messages(ROOT, "batch50", 2000, now_ms(-600))
    for _, payload in batches:
        assert decode_telemetry(payload).encoding == "fast"
    out = _assert_same(batches, max_payload=1 << 20)
    assert len(out.points) == 2000 and not out.dead_letters


def test_inputs_the_fast_path_refuses_go_to_the_general_path() -> None:
    """Bad or unusual payloads are not decoded by msgspec: their reasons come from the
    general path (so this suite compares the two paths where it matters)."""
    refused = {
        "NaN literal",
        "empty batch",
        "batch of 1001",
        "ThingsBoard batch",
        "values null",
        "null lat",
        "invalid UTF-8 in an unknown field",
        "string for lat",
        "seq as float",
    }
    by_name = {name: payload for name, _, payload in _inputs()}
    for name in refused:
        assert not _fast(by_name[name]), name
    assert _fast(by_name["null optional fields"])


def _fast(payload: bytes) -> bool:
    try:
        return decode_telemetry(payload).encoding == "fast"
    except DecodeError:  # only the general path raises
        return False
