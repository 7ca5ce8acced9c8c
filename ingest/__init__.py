"""MQTT to the database: topics, payload codecs, vectorised validation, the batch writer, the
consumer and its metrics."""

from ingest.errors import BinaryEncodeError, DecodeError, IngestError, Reason, TopicError
from ingest.topics import DEFAULT_ROOT, Topic, format_topic, parse_topic, subscription

__all__ = [
    "DEFAULT_ROOT",
    "BinaryEncodeError",
    "DecodeError",
    "IngestError",
    "Reason",
    "Topic",
    "TopicError",
    "format_topic",
    "parse_topic",
    "subscription",
]
