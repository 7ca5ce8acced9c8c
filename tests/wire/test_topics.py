"""Tests of wire/topics.py: the topic tree of the wire contract."""

from __future__ import annotations

import pytest

from wire.errors import Reason, TopicError
from wire.topics import DEFAULT_ROOT, Topic, format_topic, parse_topic, subscription, subtree


def test_parse_the_three_kinds_under_the_default_root() -> None:
    """Each of telemetry, events and status parses into fleet, vehicle and kind."""
    for kind in ("telemetry", "events", "status"):
        assert parse_topic(f"pogo/v1/benguerir/moto-0042/{kind}") == Topic(
            "benguerir", "moto-0042", kind
        )


def test_parse_under_a_configured_root() -> None:
    """A per-test or per-deployment root replaces pogo/v1."""
    root = "test/abc123/pogo/v1"
    assert parse_topic(f"{root}/f_1/V-2/events", root) == Topic("f_1", "V-2", "events")


@pytest.mark.parametrize(
    "topic",
    [
        "pogo/v2/f/v/telemetry",  # another root
        "pogo/v1/f/telemetry",  # a level missing
        "pogo/v1/f/v/telemetry/extra",  # a level too many
        "pogo/v1/f/v/gps",  # unknown kind
        "pogo/v1/f/v w/telemetry",  # space in an id
        "pogo/v1/f/v.1/telemetry",  # dot in an id
        "pogo/v1//v/telemetry",  # empty fleet
        f"pogo/v1/{'x' * 65}/v/telemetry",  # id too long
        "pogo/v1/f/vé/telemetry",  # non-ASCII letter
    ],
)
def test_invalid_topics_raise_bad_topic(topic: str) -> None:
    """Topics that break the contract raise TopicError with the bad_topic reason."""
    with pytest.raises(TopicError) as info:
        parse_topic(topic)
    assert info.value.reason is Reason.BAD_TOPIC
    assert info.value.value == topic


def test_format_round_trips_and_checks_ids() -> None:
    """format_topic builds what parse_topic reads, and refuses invalid ids."""
    topic = format_topic("benguerir", "m1", "status", root="test/x/pogo/v1")
    assert parse_topic(topic, "test/x/pogo/v1") == Topic("benguerir", "m1", "status")
    with pytest.raises(ValueError, match="vehicle id"):
        format_topic("benguerir", "m/1", "telemetry")


def test_subscription_covers_the_tree_and_shares_when_grouped() -> None:
    """The ingester subscribes to root/# (so bad topics arrive), as $share/group/... if set."""
    assert subscription() == f"{DEFAULT_ROOT}/#"
    assert subscription("t/1/pogo/v1", "ingesters") == "$share/ingesters/t/1/pogo/v1/#"
    with pytest.raises(ValueError, match="shared group"):
        subscription(shared_group="a/b")


def test_subtree_is_one_vehicle_or_one_fleet_and_cannot_be_widened() -> None:
    """subtree() filters one vehicle's topics (or a fleet's): every topic format_topic gives
    that vehicle is under it, and an id holding a wildcard or a level is refused."""
    assert subtree("benguerir", "m1") == "pogo/v1/benguerir/m1/#"
    assert subtree("benguerir", root="t/1/pogo/v1") == "t/1/pogo/v1/benguerir/#"
    for kind in ("telemetry", "events", "status"):
        assert format_topic("benguerir", "m1", kind).startswith(subtree("benguerir", "m1")[:-1])
    for fleet, vehicle in (("benguerir", "+"), ("#", "m1"), ("benguerir", "m1/x"), ("", None)):
        with pytest.raises(ValueError, match="id is"):
            subtree(fleet, vehicle)
