"""The periodic summary that replaces the per-batch lines at info level."""

from __future__ import annotations

from ingest.summary import Summary, Totals


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _batch(summary: Summary, stored: int, commit_ms: float = 1.0) -> tuple[Totals, float] | None:
    return summary.add(
        messages=1, stored=stored, duplicates=0, dead_letters=0, events=0, commit_ms=commit_ms
    )


def test_totals_come_once_per_interval_and_the_next_interval_starts_empty() -> None:
    """Batches inside the interval are added up and reported by the first batch after it;
    the one after starts a new interval from zero."""
    clock = _Clock()
    summary = Summary(every_s=60, clock=clock)
    assert _batch(summary, 50, commit_ms=3.0) is None
    clock.now += 30
    assert _batch(summary, 50, commit_ms=9.0) is None
    clock.now += 31
    due = _batch(summary, 1)
    assert due is not None
    totals, over_s = due
    assert (totals.batches, totals.messages, totals.stored) == (3, 3, 101)
    assert totals.slowest_commit_ms == 9.0
    assert over_s == 61
    clock.now += 59
    assert _batch(summary, 7) is None
    clock.now += 1
    due = _batch(summary, 0)
    assert due is not None and due[0].stored == 7 and due[0].batches == 2
