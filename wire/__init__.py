"""The wire contract between the units (and the simulators) and the ingester: the topic tree,
the telemetry point's fields and numpy dtype, the binary encoding, and the reasons a message
breaks the contract.

Both sides import it: the simulators to publish, the ingester to parse, the broker
configuration to grant each device its own subtree (:func:`subtree`).
"""

from wire import binary
from wire.errors import BinaryEncodeError, DecodeError, Reason, TopicError, WireError
from wire.point import (
    FIELDS,
    FLOAT32_FIELDS,
    OPTIONAL_FIELDS,
    OPTIONAL_FLOAT_FIELDS,
    POINT_DTYPE,
    REQUIRED_FIELDS,
    SEQ_ABSENT,
    empty_points,
)
from wire.topics import (
    DEFAULT_ROOT,
    KINDS,
    Kind,
    Topic,
    format_topic,
    parse_topic,
    subscription,
    subtree,
)

__all__ = [
    "DEFAULT_ROOT",
    "FIELDS",
    "FLOAT32_FIELDS",
    "KINDS",
    "OPTIONAL_FIELDS",
    "OPTIONAL_FLOAT_FIELDS",
    "POINT_DTYPE",
    "REQUIRED_FIELDS",
    "SEQ_ABSENT",
    "BinaryEncodeError",
    "DecodeError",
    "Kind",
    "Reason",
    "Topic",
    "TopicError",
    "WireError",
    "binary",
    "empty_points",
    "format_topic",
    "parse_topic",
    "subscription",
    "subtree",
]
