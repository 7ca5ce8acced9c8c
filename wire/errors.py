"""Errors of the wire contract, and the closed set of reasons a message breaks it.

The ingester turns a :class:`DecodeError` into a dead letter and counts it by its
:class:`Reason`; an encoder (a simulator, a unit's firmware test) gets a
:class:`BinaryEncodeError` for a point the binary encoding cannot carry.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "BinaryEncodeError",
    "DecodeError",
    "Reason",
    "TopicError",
    "WireError",
]


class Reason(StrEnum):
    """Why a message, or one point of it, went to the dead-letter table.

    The values are the ``reason`` column of ``dead_letters`` and the ``reason`` label of
    ``pogo_ingest_dead_letters_total``: a closed set, so the metric's labels stay bounded.
    """

    BAD_TOPIC = "bad_topic"  # the topic does not parse as {root}/{fleet}/{vehicle}/{kind}
    OVERSIZE = "oversize"  # the payload is larger than the configured limit
    MALFORMED_JSON = "malformed_json"  # not JSON at all, or not valid UTF-8
    UNKNOWN_ENCODING = "unknown_encoding"  # neither JSON nor the binary encoding's magic
    BINARY_VERSION = "binary_version"  # binary header with a version or record size we lack
    BINARY_LENGTH = "binary_length"  # binary length disagrees with its header (truncated)
    NOT_A_POINT = "not_a_point"  # JSON that is not a point, a batch of points, or ThingsBoard
    EMPTY_BATCH = "empty_batch"  # a batch with no points
    BATCH_TOO_LARGE = "batch_too_large"  # more points than a batch may hold
    MISSING_FIELD = "missing_field"  # no ts, lat or lon
    BAD_TYPE = "bad_type"  # a string, boolean, object... where a number belongs
    BAD_TIMESTAMP = "bad_timestamp"  # ts not RFC 3339 with an offset nor integer epoch ms
    NOT_FINITE = "not_finite"  # NaN or Infinity
    VALUE_RANGE = "value_range"  # a number the column cannot hold (float32 or int64 overflow)
    LAT_RANGE = "lat_range"  # latitude outside ±90
    LON_RANGE = "lon_range"  # longitude outside ±180
    NULL_ISLAND = "null_island"  # the 0,0 fix of a receiver without a fix
    SOC_RANGE = "soc_range"  # state of charge outside 0-100 %
    TS_FUTURE = "ts_future"  # device time too far ahead of the time received
    TS_PAST = "ts_past"  # device time older than the accepted age
    BAD_EVENT = "bad_event"  # an event without a known type, or with wrong ride_id/rider
    BAD_STATUS = "bad_status"  # a status that is not online/offline
    DB_REJECTED = "db_rejected"  # the database refused a row that passed validation
    INTERNAL_ERROR = "internal_error"  # the ingester failed on it in a way nobody foresaw (a bug)
    NOT_STORED = "not_stored"  # the database neither stored a point nor holds it already
    UNREGISTERED = "unregistered"  # POGO_INGEST_REQUIRE_REGISTERED: no active registry entry


class WireError(Exception):
    """Root of the ``wire`` package's errors."""


class DecodeError(WireError):
    """A payload or topic breaks the wire contract; the consumer turns it into a dead letter.

    ``reason`` is one of :class:`Reason`; ``field`` and ``value`` name what was wrong.
    """

    def __init__(
        self, reason: Reason, detail: str, field: str | None = None, value: object = None
    ) -> None:
        self.reason = reason
        self.field = field
        self.value = value
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


class TopicError(DecodeError):
    """A topic is not ``{root}/{fleet}/{vehicle}/telemetry|events|status`` with valid ids."""

    def __init__(self, topic: str, detail: str) -> None:
        super().__init__(Reason.BAD_TOPIC, detail, field="topic", value=topic)


class BinaryEncodeError(WireError, ValueError):
    """:func:`wire.binary.encode` was given a point the binary encoding cannot represent."""
