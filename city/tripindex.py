"""An in-memory columnar index of the trips table, one per data version.

Trips sorted by start time, with prefix sums of every additive figure and, for riders and
vehicles, the position of the same rider's (vehicle's) previous trip. Any half-open window
``[start, end)`` is then two binary searches: sums are differences of prefix sums, and the
distinct riders of trips ``i..j-1`` are exactly the trips whose previous trip by the same
rider lies before ``i`` (each rider counted once, at its first trip in the window). Buckets
(day, week, month, year, in UTC: :mod:`city.buckets`) are the same per bucket, vectorised over
all buckets. This is the service's only computation of trip figures; the tests hold it to
plain SQL aggregates over the same trips.

The index is loaded in a worker thread from one REPEATABLE READ snapshot that also reads the
data version, so its figures are those of exactly that version.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import psycopg
from numpy.typing import NDArray

from city import queries
from city.buckets import Unit, bucket_edges

__all__ = ["TripIndex", "load_index"]

ADDITIVE = (
    "distance_km",
    "energy_kwh",
    "trips_without_energy",
    "distance_km_without_energy",
    "duration_s",
    "co2_baseline_kg",
    "co2_electricity_kg",
    "co2_avoided_kg",
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def _us(when: datetime) -> int:
    return (when - _EPOCH) // _US


def _datetime(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


@dataclass(frozen=True)
class TripIndex:
    """The trips of one data version, sorted by start time (see the module's notes).

    Attributes
    ----------
    version : int
    start_us : ndarray of int64, shape (n,)
        Start times, microseconds since the epoch, ascending.
    prefix : dict of str to ndarray of float64, shape (n + 1,)
        Cumulative sums of each :data:`ADDITIVE` figure (NULL as 0), from 0.
    prev_rider, prev_vehicle : ndarray of int64, shape (n,)
        Index of the same rider's (vehicle's) previous trip, -1 for a first trip; ``n`` for a
        trip without a rider, so it is never counted.
    methodology : ndarray of int64, shape (n,)
        Codes into ``methodology_names``.
    """

    version: int
    start_us: NDArray[np.int64]
    prefix: dict[str, NDArray[np.float64]]
    prev_rider: NDArray[np.int64]
    prev_vehicle: NDArray[np.int64]
    methodology: NDArray[np.int64]
    methodology_names: list[str]

    def __len__(self) -> int:
        return int(self.start_us.size)

    def _slice(self, start: datetime, end: datetime) -> tuple[int, int]:
        i, j = np.searchsorted(self.start_us, [_us(start), _us(end)], side="left")
        return int(i), int(j)

    def summary(self, start: datetime, end: datetime) -> dict[str, Any]:
        """The figures of the trips starting in ``[start, end)``: trips, distinct riders and
        vehicles, and the sum of every :data:`ADDITIVE` figure."""
        i, j = self._slice(start, end)
        row: dict[str, Any] = {k: float(p[j] - p[i]) for k, p in self.prefix.items()}
        row["trips"] = j - i
        row["trips_without_energy"] = round(row["trips_without_energy"])
        row["riders"] = int(np.count_nonzero(self.prev_rider[i:j] < i))
        row["vehicles_active"] = int(np.count_nonzero(self.prev_vehicle[i:j] < i))
        return row

    def series(self, start: datetime, end: datetime, unit: Unit) -> list[dict[str, Any]]:
        """One row per UTC bucket touching the window (:func:`city.buckets.bucket_edges`),
        empty buckets included, each with :meth:`summary`'s figures and its bounds."""
        edges = bucket_edges(start, end, unit)
        clipped = [max(e, start) for e in edges[:-1]] + [end]
        bounds = np.searchsorted(self.start_us, [_us(e) for e in clipped], side="left")
        first, last = bounds[:-1], bounds[1:]
        counts = last - first
        bucket = np.repeat(np.arange(counts.size), counts)
        i, j = int(bounds[0]), int(bounds[-1])
        begin = first[bucket]
        riders = np.bincount(bucket, self.prev_rider[i:j] < begin, minlength=counts.size)
        vehicles = np.bincount(bucket, self.prev_vehicle[i:j] < begin, minlength=counts.size)
        sums = {k: p[last] - p[first] for k, p in self.prefix.items()}
        rows = []
        for b in range(counts.size):
            row: dict[str, Any] = {k: float(v[b]) for k, v in sums.items()}
            row.update(
                bucket_start=edges[b],
                bucket_end=edges[b + 1],
                trips=int(counts[b]),
                trips_without_energy=round(row["trips_without_energy"]),
                riders=int(riders[b]),
                vehicles_active=int(vehicles[b]),
            )
            rows.append(row)
        return rows

    def methodologies(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Methodology versions of the window's trips with their counts, most used first."""
        i, j = self._slice(start, end)
        counts = np.bincount(self.methodology[i:j], minlength=len(self.methodology_names))
        rows = [
            {"methodology": name, "trips": int(n)}
            for name, n in zip(self.methodology_names, counts.tolist(), strict=True)
            if n
        ]
        return sorted(rows, key=lambda r: (-r["trips"], r["methodology"]))

    def span(self) -> dict[str, Any]:
        """The first and last trip start (None, None without trips)."""
        if not len(self):
            return {"first": None, "last": None}
        return {
            "first": _datetime(int(self.start_us[0])),
            "last": _datetime(int(self.start_us[-1])),
        }


def load_index(dsn: str) -> TripIndex:
    """Read the data version and every trip from one snapshot (blocking: run in a thread)."""
    with psycopg.connect(dsn) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        version, columns = queries.trip_columns(conn)
        conn.rollback()
    n = len(columns["start_us"])
    start_us = np.array(columns["start_us"], dtype=np.int64)
    prefix: dict[str, NDArray[np.float64]] = {}
    for name in ADDITIVE:
        values = np.array(columns[name], dtype=np.float64)  # None -> nan
        prefix[name] = np.concatenate([[0.0], np.cumsum(np.nan_to_num(values, nan=0.0))])
    rider = np.array([n if p is None else p for p in columns["prev_rider"]], dtype=np.int64)
    names, codes = np.unique(np.array(columns["methodology"], dtype=object), return_inverse=True)
    return TripIndex(
        version=version,
        start_us=start_us,
        prefix=prefix,
        prev_rider=rider,
        prev_vehicle=np.array(columns["prev_vehicle"], dtype=np.int64),
        methodology=codes.astype(np.int64).reshape(-1),
        methodology_names=[str(x) for x in names.tolist()],
    )
