"""MQTT to the database: topics, payload codecs, vectorised validation, the batch writer, the
consumer and its metrics.

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
