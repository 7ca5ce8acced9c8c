"""The topic tree: ``{root}/{fleet}/{vehicle}/telemetry|events|status``.

``root`` is ``pogo/v1`` on the wire contract; it is configurable so that deployments (and tests,
with ``test/<hex>/pogo/v1``) can run several trees side by side on one broker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, Literal, get_args

from wire.errors import TopicError

__all__ = [
    "DEFAULT_ROOT",
    "KINDS",
    "Kind",
    "Topic",
    "format_topic",
    "parse_topic",
    "subscription",
    "subtree",
]

DEFAULT_ROOT: Final = "pogo/v1"

Kind = Literal["telemetry", "events", "status"]
KINDS: Final[tuple[Kind, ...]] = get_args(Kind)

_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_ROOT = re.compile(r"[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*")
_GROUP = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True, slots=True)
class Topic:
    """A parsed topic: which vehicle of which fleet, and which of its three subtrees."""

    fleet: str
    vehicle: str
    kind: Kind


def _check_root(root: str) -> None:
    if not _ROOT.fullmatch(root):
        raise ValueError(f"topic root is {root!r}; expected levels of [A-Za-z0-9_-] joined by /")


@lru_cache(maxsize=65536)
def parse_topic(topic: str, root: str = DEFAULT_ROOT) -> Topic:
    """Parse ``{root}/{fleet}/{vehicle}/{kind}``.

    Raises
    ------
    TopicError
        When the topic is outside ``root``, has the wrong number of levels, an id that does
        not match ``[A-Za-z0-9_-]{1,64}``, or an unknown kind.
    """
    prefix = root + "/"
    if not topic.startswith(prefix):
        raise TopicError(topic, f"topic {topic!r} is not under {root!r}")
    levels = topic[len(prefix) :].split("/")
    if len(levels) != 3:
        raise TopicError(
            topic, f"topic {topic!r} has {len(levels)} levels under the root; expected 3"
        )
    fleet, vehicle, kind = levels
    if not _ID.fullmatch(fleet):
        raise TopicError(topic, f"fleet id {fleet!r} does not match [A-Za-z0-9_-]{{1,64}}")
    if not _ID.fullmatch(vehicle):
        raise TopicError(topic, f"vehicle id {vehicle!r} does not match [A-Za-z0-9_-]{{1,64}}")
    if kind not in KINDS:
        raise TopicError(topic, f"topic kind {kind!r}; expected one of {', '.join(KINDS)}")
    return Topic(fleet, vehicle, kind)  # kind was checked against KINDS


def _check_id(name: str, value: str) -> None:
    if not _ID.fullmatch(value):
        raise ValueError(f"{name} id is {value!r}; expected [A-Za-z0-9_-]{{1,64}}")


def format_topic(fleet: str, vehicle: str, kind: Kind, root: str = DEFAULT_ROOT) -> str:
    """The topic a vehicle publishes ``kind`` on; raises ``ValueError`` for invalid ids."""
    _check_root(root)
    _check_id("fleet", fleet)
    _check_id("vehicle", vehicle)
    if kind not in KINDS:
        raise ValueError(f"kind is {kind!r}; expected one of {', '.join(KINDS)}")
    return f"{root}/{fleet}/{vehicle}/{kind}"


def subscription(root: str = DEFAULT_ROOT, shared_group: str | None = None) -> str:
    """The ingester's subscription: the whole tree under ``root`` (so that topics that do not
    parse arrive and are dead-lettered), shared as ``$share/{group}/...`` when a group is set."""
    _check_root(root)
    filter_ = f"{root}/#"
    if shared_group is None:
        return filter_
    if not _GROUP.fullmatch(shared_group):
        raise ValueError(f"shared group is {shared_group!r}; expected [A-Za-z0-9_-]{{1,64}}")
    return f"$share/{shared_group}/{filter_}"


def subtree(fleet: str, vehicle: str | None = None, root: str = DEFAULT_ROOT) -> str:
    """The topic filter of one vehicle's subtree, ``{root}/{fleet}/{vehicle}/#``, or of a whole
    fleet's, ``{root}/{fleet}/#`` (``vehicle`` None): what a broker ACL grants a device or a
    fleet. Raises ``ValueError`` for an invalid root or id (so no id can widen the filter with
    ``+``, ``#`` or ``/``)."""
    _check_root(root)
    _check_id("fleet", fleet)
    if vehicle is None:
        return f"{root}/{fleet}/#"
    _check_id("vehicle", vehicle)
    return f"{root}/{fleet}/{vehicle}/#"
