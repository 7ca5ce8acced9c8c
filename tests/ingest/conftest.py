"""Fixtures of the ingester's tests (the shared ones come from tests/fixtures/)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ingest.harness import IngestProcess


@pytest.fixture
def ingest_processes(tmp_path: Path) -> Iterator[list[IngestProcess]]:
    """Collects the ingester subprocesses a test starts and kills any left running."""
    started: list[IngestProcess] = []
    yield started
    for process in started:
        process.cleanup()
