"""Errors of the ingester. The reasons a point or message is dead-lettered, and the decode
errors that carry them, are the wire contract's (:mod:`wire.errors`), re-exported here."""

from __future__ import annotations

from wire.errors import BinaryEncodeError, DecodeError, Reason, TopicError

__all__ = [
    "BinaryEncodeError",
    "DecodeError",
    "IngestError",
    "Reason",
    "TopicError",
]


class IngestError(Exception):
    """Root of the ``ingest`` package's own errors."""
