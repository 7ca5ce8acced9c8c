"""Property-based tests (hypothesis) of the path every message takes in the ingester: topic
parsing, payload decoding, validation and the batch's WriteSet (``Batch.add`` then
``Batch.build``, as ingest/consumer.py calls them).

Whatever the topic and the bytes (arbitrary bytes, arbitrary JSON values, points with arbitrary
values in their fields, events, nesting thousands of levels deep, huge numbers), building a
batch never raises, every message is accounted for (accepted, partial or rejected), every dead
letter has a reason of the closed set and a detail the database can store, and what is kept
obeys the rules. The fast JSON path and the general one agree on all of it.

Inputs hypothesis found that broke these properties are kept as explicit ``@example`` cases
(the corpus below), so they are run every time, first.
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
import orjson
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ingest.batch import Batch, Message, WriteSet
from ingest.errors import Reason
from ingest.payload import EVENT_TYPES
from ingest.validation import Rules
from tests.ingest.test_fast_path import _assert_same
from wire.point import OPTIONAL_FIELDS
from wire.topics import KINDS

ROOT = "pogo/v1"
MAX_PAYLOAD = 1 << 20
NOW_MS = int(time.time() * 1000)
RECEIVED = NOW_MS / 1000
FIELDS = OPTIONAL_FIELDS
DEEP = 3000  # far past Python's recursion limit


def _nested(n: int, leaf: str = "1") -> str:
    return "[" * n + leaf + "]" * n


# -- the corpus: the poison cases and what hypothesis found -----------------------

POISON: list[tuple[str, bytes]] = [
    # An unhashable event type stopped the ingester (TypeError).
    (f"{ROOT}/f/v/events", b'{"ts": %d, "type": []}' % NOW_MS),
    (f"{ROOT}/f/v/events", b'{"ts": %d, "type": {}}' % NOW_MS),
    # About 1,000 levels of nesting anywhere stopped it (RecursionError).
    (
        f"{ROOT}/f/v/telemetry",
        b'{"ts": %d, "lat": %s, "lon": 1}' % (NOW_MS, _nested(DEEP).encode()),
    ),
    (f"{ROOT}/f/v/telemetry", _nested(DEEP).encode()),
    (f"{ROOT}/f/v/telemetry", b"[%s]" % _nested(DEEP).encode()),
    (f"{ROOT}/f/v/events", b'{"ts": %s, "type": "fault"}' % _nested(DEEP).encode()),
    (f"{ROOT}/f/v/events", b"[%s]" % _nested(DEEP).encode()),
    (f"{ROOT}/f/v/telemetry", b'[{"ts": %d, "values": %s}]' % (NOW_MS, _nested(DEEP).encode())),
    (
        f"{ROOT}/f/v/telemetry",
        b'[{"ts": %d, "values": {"lat": %s, "lon": 1}}]' % (NOW_MS, _nested(DEEP).encode()),
    ),
    (
        f"{ROOT}/f/v/telemetry",
        b'{"ts": %d, "lat": 1, "lon": 1, "seq": %s}' % (NOW_MS, _nested(DEEP).encode()),
    ),
    (f"{ROOT}/f/v/status", _nested(DEEP).encode()),
    # 1,000 levels: within orjson's depth limit (1,024), past Python's recursion limit.
    (
        f"{ROOT}/f/v/telemetry",
        b'{"ts": %d, "lat": %s, "lon": 1}' % (NOW_MS, _nested(1000).encode()),
    ),
    (f"{ROOT}/f/v/telemetry", b"[%s]" % _nested(1000).encode()),
    (f"{ROOT}/f/v/events", b'{"ts": %s, "type": "fault"}' % _nested(1000).encode()),
    (f"{ROOT}/f/v/telemetry", b'[{"ts": %d, "values": %s}]' % (NOW_MS, _nested(1000).encode())),
    (
        f"{ROOT}/f/v/telemetry",
        b'[{"ts": %d, "values": {"lat": %s, "lon": 1}}]' % (NOW_MS, _nested(1000).encode()),
    ),
]


# -- strategies ---------------------------------------------------------------------------

ids = st.from_regex(r"[A-Za-z0-9_-]{1,6}", fullmatch=True)
good_topics = st.builds(lambda f, v, k: f"{ROOT}/{f}/{v}/{k}", ids, ids, st.sampled_from(KINDS))
topics = st.one_of(
    good_topics,
    good_topics,
    st.text(max_size=30),
    st.builds(lambda rest: f"{ROOT}/{rest}", st.text(max_size=30)),
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
timestamps = st.one_of(
    st.integers(NOW_MS - 4 * 86_400_000, NOW_MS + 600_000),
    st.integers(),
    st.builds(
        lambda ms, sep, z: (
            time.strftime(f"%Y-%m-%d{sep}%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}{z}"
        ),
        st.integers(NOW_MS - 86_400_000, NOW_MS),
        st.sampled_from(["T", "t", " ", "", "W"]),
        st.sampled_from(["Z", "z", "+01:00", "-00:30", "", "Z\x00", "+0100"]),
    ),
    st.from_regex(r"\d{4}-W\d{2}-\dT\d{2}:\d{2}:\d{2}Z", fullmatch=True),
    json_values,
)
numbers = st.one_of(
    st.floats(-200, 200),
    st.floats(),
    st.integers(-(2**70), 2**70),
    json_values,
)


@st.composite
def points(draw: st.DrawFn) -> dict[str, Any]:
    point: dict[str, Any] = {}
    if draw(st.integers(0, 9)):
        point["ts"] = draw(timestamps)
    for name in ("lat", "lon"):
        if draw(st.integers(0, 9)):
            point[name] = draw(numbers)
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=4, unique=True)):
        point[name] = draw(numbers)
    for name in draw(st.lists(st.text(max_size=6), max_size=2, unique=True)):
        point.setdefault(name, draw(json_values))
    return point


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    event: dict[str, Any] = {
        "ts": draw(timestamps),
        "type": draw(st.sampled_from(sorted(EVENT_TYPES)) | json_values),
    }
    if draw(st.booleans()):
        event["ride_id"] = draw(
            st.from_regex(r"[A-Za-z0-9_.:-]{1,12}", fullmatch=True) | json_values
        )
    if draw(st.booleans()):
        event["rider"] = draw(st.from_regex(r"tok_[a-z0-9]{4,10}", fullmatch=True) | json_values)
    for name in draw(st.lists(st.text(max_size=6), max_size=2, unique=True)):
        event.setdefault(name, draw(json_values))
    return event


def _encode(value: object, style: int) -> bytes:
    if style == 0:
        try:
            return orjson.dumps(value)
        except TypeError:  # an integer beyond 64 bits: the standard library writes it
            pass
    return json.dumps(value, indent=style or None).encode()  # NaN, Infinity literals too


objects = st.one_of(
    points(),
    st.lists(points(), min_size=0, max_size=5),
    st.lists(st.builds(lambda ts, p: {"ts": ts, "values": p}, timestamps, points()), max_size=3),
    events(),
    st.lists(events(), max_size=4),
    json_values,
)
json_payloads = st.builds(_encode, objects, st.integers(0, 2))
deep_payloads = st.builds(
    lambda depth, where: where.replace("NOW", str(NOW_MS)).replace("D", _nested(depth)).encode(),
    st.integers(1, DEEP),
    st.sampled_from(
        [
            '{"ts": NOW, "lat": D, "lon": 1}',
            '{"ts": NOW, "lat": 1, "lon": 1, "extra": D}',
            '[{"ts": NOW, "lat": 1, "lon": 1}, D]',
            '{"ts": D, "type": "fault"}',
            '{"ts": NOW, "type": "fault", "extra": D}',
            '[{"ts": NOW, "values": D}]',
            "D",
        ]
    ),
)
huge_numbers = st.builds(
    lambda digits, where: where.replace("NOW", str(NOW_MS)).replace("N", "9" * digits).encode(),
    st.integers(19, 6000),
    st.sampled_from(
        [
            '{"ts": NOW, "lat": 32.2, "lon": -7.9, "extra": N}',
            '{"ts": NOW, "lat": 32.2, "lon": -7.9, "extra": -N.5e3}',
            '[{"ts": NOW, "lat": 32.2, "lon": -7.9, "extra": N}, {"ts": 1, "lat": "x"}]',
            '{"ts": NOW, "lat": N, "lon": -7.9}',
            '{"ts": NOW, "lat": 32.2, "lon": -7.9, "seq": N}',
            '{"ts": N, "lat": 32.2, "lon": -7.9}',
            '{"ts": NOW, "type": "fault", "extra": N}',
        ]
    ),
)
payloads = st.one_of(
    json_payloads, json_payloads, st.binary(max_size=64), deep_payloads, huge_numbers
)
messages = st.lists(st.tuples(topics, payloads), min_size=1, max_size=6)


# -- the properties -----------------------------------------------------------------------


def _batch(items: list[tuple[str, bytes]], fast: bool = True) -> WriteSet:
    batch = Batch(ROOT, Rules(), MAX_PAYLOAD, fast_json=fast)
    for mid, (topic, payload) in enumerate(items, start=1):
        batch.add(Message(topic, payload, mid, 1, RECEIVED))
    return batch.build()


def _check(items: list[tuple[str, bytes]]) -> WriteSet:
    """The properties: never raises, every message accounted for, every dead letter storable
    and with a reason, everything kept within the rules; fast and general paths agree."""
    out = _batch(items)
    assert sum(out.message_results.values()) == len(items)
    assert set(out.message_results) <= {"accepted", "partial", "rejected"}
    sent = {topic for topic, _ in items}
    for dead in out.dead_letters:
        assert isinstance(dead.reason, Reason) and dead.reason is not Reason.INTERNAL_ERROR
        assert dead.topic in sent
        assert isinstance(dead.payload, bytes) and len(dead.payload) <= MAX_PAYLOAD
        assert "\x00" not in dead.detail and len(dead.detail) <= 1000
        dead.detail.encode("utf-8")  # no lone surrogate either
    kept = out.points
    assert len(kept) == len(out.point_vehicle) == len(out.point_received_ms)
    assert ((kept["lat"] >= -90) & (kept["lat"] <= 90)).all()
    assert ((kept["lon"] >= -180) & (kept["lon"] <= 180)).all()
    assert not ((kept["lat"] == 0) & (kept["lon"] == 0)).any()
    assert (np.isnan(kept["soc_pct"]) | ((kept["soc_pct"] >= 0) & (kept["soc_pct"] <= 100))).all()
    assert (kept["ts_ms"] - NOW_MS <= 300_000).all()
    for _, event, _ in out.events:
        assert event.type in EVENT_TYPES
        orjson.dumps(event.attributes)  # storable as jsonb
    _assert_same(items, MAX_PAYLOAD)
    return out


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(messages)
@example([POISON[0]])
@example([POISON[1]])
@example(POISON)
@example(
    [
        (
            f"{ROOT}/f/v/telemetry",
            b'{"ts": %d, "lat": 32.2, "lon": -7.9, "x": 1%s}' % (NOW_MS, b"0" * 5000),
        )
    ]
)
def test_any_messages_build_into_an_accounted_write_set(items: list[tuple[str, bytes]]) -> None:
    """Arbitrary topics and payloads through Batch.add and Batch.build: no exception, every
    message counted once, every dead letter storable and with a reason of the closed set,
    every kept point within the rules, and the fast path equal to the general one."""
    _check(items)


def test_each_poison_case_alone_is_a_dead_letter_with_a_real_reason() -> None:
    """Each of the issue's poison messages, alone in a batch, is rejected with the reason of
    what is wrong with it (never internal_error) and keeps its own payload."""
    for topic, payload in POISON:
        out = _check([(topic, payload)])
        assert out.message_results == {"rejected": 1}, (topic, payload[:60])
        assert out.dead_letters and all(
            d.reason is not Reason.INTERNAL_ERROR for d in out.dead_letters
        )


def test_an_event_field_off_the_allow_list_is_dropped_however_deep() -> None:
    """An event's field that is not on the allow-list is dropped, even 1,000 levels deep: the
    event is stored without it."""
    payload = b'{"ts": %d, "type": "fault", "x": %s}' % (NOW_MS, _nested(1000).encode())
    out = _check([(f"{ROOT}/f/v/events", payload)])
    assert out.message_results == {"accepted": 1}
    assert [e.attributes for _, e, _ in out.events] == [{}]


def test_a_huge_number_in_an_unknown_field_does_not_cost_the_point() -> None:
    """Unknown fields are ignored, however large the number in them (beyond a double, beyond
    Python's 4,300-digit integer limit), on the fast path and on the general one."""
    for digits in (30, 400, 5000):
        payload = b'{"ts": %d, "lat": 32.2, "lon": -7.9, "x": 1%s}' % (NOW_MS - 1000, b"0" * digits)
        for fast in (True, False):
            out = _batch([(f"{ROOT}/f/v/telemetry", payload)], fast=fast)
            assert len(out.points) == 1 and out.message_results == {"accepted": 1}, (digits, fast)
