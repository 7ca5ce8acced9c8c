"""``pogo simulate --output backfill``: a simulated history handed to the store.

The simulators give the history as the ingester would have received it, in arrays
(:func:`simulators.backfill.received`); the store writes it with its one telemetry write path
(:func:`fleet.telemetry.write_history`): vehicles upserted, the first transmitted copy of each
(vehicle, device timestamp) kept, binary COPY straight in where nothing stored can clash and
the staged, proven path elsewhere, one transaction per chunk. So a backfill can be re-run, or
overlap a live stream, without storing a point twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import psycopg

from fleet import (
    Events,
    HistoryChunk,
    HistoryReport,
    TelemetryWriteError,
    Vehicles,
    write_history,
)
from fleet.riders import RiderKey
from pogo.errors import BackfillError
from simulators import Simulation
from simulators.backfill import received

__all__ = ["BackfillCounts", "backfill"]


@dataclass
class BackfillCounts:
    """What a backfill wrote."""

    vehicles: int = 0
    points_sent: int = 0  # rows the devices transmitted (duplicates included)
    points_inserted: int = 0  # rows new to the telemetry table
    duplicates: int = 0  # rows already there, or sent twice
    events_inserted: int = 0
    malformed_skipped: int = 0
    seconds: float = 0.0

    @property
    def points_per_second(self) -> float:
        """Inserted points per second of wall time."""
        return self.points_inserted / self.seconds if self.seconds > 0 else 0.0


def _counts(report: HistoryReport, malformed: int) -> BackfillCounts:
    return BackfillCounts(
        vehicles=report.vehicles,
        points_sent=report.points_given,
        points_inserted=report.points_stored,
        duplicates=report.duplicates,
        events_inserted=report.events_stored,
        malformed_skipped=malformed,
        seconds=report.seconds,
    )


def backfill(
    dsn: str,
    sim: Simulation,
    rider_key: RiderKey,
    chunk_days: float = 14.0,
    progress: Callable[[BackfillCounts], None] | None = None,
) -> BackfillCounts:
    """Write the simulation's vehicles, telemetry and events into the database at ``dsn``.

    Rider tokens are stored as their pseudonyms under ``rider_key``. Renders ``chunk_days``
    at a time (memory stays bounded for years of history) and commits each chunk. Returns
    the counts; ``progress`` is called after each chunk.

    Raises
    ------
    BackfillError
        When the schema is missing (run ``pogo db upgrade``) or the database refuses rows.
    """
    malformed = 0

    def chunks() -> Iterator[HistoryChunk]:
        nonlocal malformed
        for piece in received(sim, chunk_days):
            malformed += piece.malformed
            yield HistoryChunk(
                points=piece.points,
                point_vehicle=piece.point_vehicle,
                point_received_ms=piece.point_received_ms,
                events=Events(
                    ts=piece.event_ts,
                    type=piece.event_type,
                    ride_id=piece.event_ride_id,
                    rider=piece.event_rider,
                    attributes=piece.event_attributes,
                    received_at=piece.event_received_at,
                ),
                event_vehicle=piece.event_vehicle,
            )

    vehicles = sim.vehicles
    fleet = Vehicles(
        fleet=vehicles["fleet"].tolist(),
        vehicle=vehicles["vehicle"].tolist(),
        battery_kwh=vehicles["battery_kwh"].tolist(),
    )
    report_progress = None if progress is None else (lambda r: progress(_counts(r, malformed)))
    try:
        report = write_history(dsn, fleet, chunks(), rider_key, report_progress)
    except psycopg.errors.UndefinedTable as exc:
        raise BackfillError(f"the schema is missing ({exc}); run `pogo db upgrade` first") from exc
    except psycopg.errors.DataError as exc:
        raise BackfillError(f"the database refused a simulated row: {exc}") from exc
    except TelemetryWriteError as exc:
        raise BackfillError(str(exc)) from exc
    return _counts(report, malformed)
