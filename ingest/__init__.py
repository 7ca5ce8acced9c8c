"""MQTT to the database: payload decoding, vectorised validation, the batch writer (through
the store's write path), the consumer and its metrics. The wire contract (topics, the point,
the binary encoding) is :mod:`wire`'s; its topic functions are re-exported here.

Run one with ``Ingester(IngestConfig(...), dsn).run(stop_event)``; ``pogo ingest`` does that
from the settings.
"""

from ingest.config import IngestConfig
from ingest.consumer import Ingester
from ingest.errors import BinaryEncodeError, DecodeError, IngestError, Reason, TopicError
from ingest.metrics import IngestMetrics
from wire.topics import DEFAULT_ROOT, Topic, format_topic, parse_topic, subscription

__all__ = [
    "DEFAULT_ROOT",
    "BinaryEncodeError",
    "DecodeError",
    "IngestConfig",
    "IngestError",
    "IngestMetrics",
    "Ingester",
    "Reason",
    "Topic",
    "TopicError",
    "format_topic",
    "parse_topic",
    "subscription",
]
