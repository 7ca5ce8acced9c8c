"""The ingester's periodic summary: one info line a minute instead of one per batch.

Each committed batch is logged at debug ("batch committed"); an operator reading the log at
info sees what the ingester did over the last interval instead::

    ingest summary  batches=812 messages=40,600 stored=2,030,000 duplicates=0 dead_letters=0 ...

Nothing is logged for an interval with no batch (an idle fleet does not fill the log).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["SUMMARY_EVERY_S", "Summary", "Totals"]

SUMMARY_EVERY_S = 60.0


@dataclass
class Totals:
    """What the committed batches of one interval held."""

    batches: int = 0
    messages: int = 0
    stored: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    events: int = 0
    slowest_commit_ms: float = 0.0


class Summary:
    """Adds up committed batches (from any committer thread) and hands out the totals once
    per ``every_s``.

    ``add`` returns the totals of the interval that has just ended, and starts the next,
    when the interval is over; otherwise ``None``. The clock is injectable for tests.
    """

    def __init__(
        self, every_s: float = SUMMARY_EVERY_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.every_s = every_s
        self._clock = clock
        self._lock = threading.Lock()
        self._totals = Totals()
        self._since = clock()

    def add(
        self,
        *,
        messages: int,
        stored: int,
        duplicates: int,
        dead_letters: int,
        events: int,
        commit_ms: float,
    ) -> tuple[Totals, float] | None:
        """Count one committed batch; the finished interval's totals and its length in
        seconds when it is time to report them."""
        with self._lock:
            t = self._totals
            t.batches += 1
            t.messages += messages
            t.stored += stored
            t.duplicates += duplicates
            t.dead_letters += dead_letters
            t.events += events
            t.slowest_commit_ms = max(t.slowest_commit_ms, commit_ms)
            now = self._clock()
            elapsed = now - self._since
            if elapsed < self.every_s:
                return None
            self._totals, self._since = Totals(), now
            return t, elapsed
