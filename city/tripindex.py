"""An in-memory columnar index of the trips table, one per data version.

Trips sorted by start time, with prefix sums of every additive figure and of each methodology
version's trips, and, for riders and vehicles, the position of the same rider's (vehicle's)
previous trip. Any half-open window ``[start, end)`` is then two binary searches: sums and
methodology counts are differences of prefix sums, and the distinct riders of trips
``i..j-1`` are exactly the trips whose previous trip by the same rider lies before ``i``
(each rider counted once, at its first trip in the window): one comparison over the window's
trips, vectorised.

Buckets (hour, day, week, month, year, in UTC: :mod:`city.buckets`) are the same per bucket,
in one pass over the buckets: a binary search of every bucket boundary, differences of
prefix sums, and the distinct riders and vehicles of every whole bucket counted once when the
index is loaded (:class:`WholeBuckets`); only the first and last bucket, which the window may
cut, are counted over their trips. This is the service's only computation of trip figures;
the tests hold it to plain SQL aggregates over the same trips.

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
from city.buckets import UNITS, Unit, bucket_edges_us, bucket_starts_us

__all__ = ["TripIndex", "WholeBuckets", "load_index"]

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

Positions = NDArray[np.int32]


def _us(when: datetime) -> int:
    return (when - _EPOCH) // _US


def _datetime(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _distinct(previous: Positions, i: int, j: int) -> int:
    """How many of trips ``i..j-1`` have no earlier trip of theirs in the slice (the distinct
    riders or vehicles of the slice, for ``previous`` = :attr:`TripIndex.prev_rider` or
    :attr:`TripIndex.prev_vehicle`)."""
    return int(np.count_nonzero(previous[i:j] < i))


@dataclass(frozen=True)
class WholeBuckets:
    """The distinct riders and vehicles of every whole UTC bucket of one unit holding a trip.

    Attributes
    ----------
    start_us : ndarray of int64, shape (m,)
        Bucket starts, microseconds since the epoch, ascending.
    riders, vehicles : ndarray of int64, shape (m,)
        Distinct riders and vehicles of the bucket's trips.
    """

    start_us: NDArray[np.int64]
    riders: NDArray[np.int64]
    vehicles: NDArray[np.int64]

    @classmethod
    def count(
        cls,
        start_us: NDArray[np.int64],
        prev_rider: Positions,
        prev_vehicle: Positions,
        unit: Unit,
    ) -> WholeBuckets:
        """The whole buckets of trips sorted by start (:class:`TripIndex`'s columns)."""
        starts = bucket_starts_us(start_us, unit)
        edges, first, sizes = np.unique(starts, return_index=True, return_counts=True)
        bucket = np.repeat(np.arange(edges.size), sizes)
        begin = np.repeat(first, sizes)  # each trip's bucket's first trip
        return cls(
            start_us=edges,
            riders=np.bincount(bucket[prev_rider < begin], minlength=edges.size),
            vehicles=np.bincount(bucket[prev_vehicle < begin], minlength=edges.size),
        )

    def lookup(self, starts_us: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Distinct riders and vehicles of the whole buckets starting at ``starts_us`` (0 for
        a bucket without trips), as new arrays."""
        if not self.start_us.size:
            return np.zeros(starts_us.size, np.int64), np.zeros(starts_us.size, np.int64)
        at = np.minimum(np.searchsorted(self.start_us, starts_us), self.start_us.size - 1)
        held = self.start_us[at] == starts_us
        return np.where(held, self.riders[at], 0), np.where(held, self.vehicles[at], 0)


@dataclass(frozen=True)
class TripIndex:
    """The trips of one data version, sorted by start time (see the module's notes).

    Attributes
    ----------
    version : int
    start_us : ndarray of int64, shape (n,)
        Start times, microseconds since the epoch, ascending.
    prefix : ndarray of float64, shape (len(ADDITIVE), n + 1)
        Cumulative sums of each :data:`ADDITIVE` figure (NULL as 0), from 0, one row each in
        that order (every figure of a slice or of many is then one gather).
    prev_rider, prev_vehicle : ndarray of int32, shape (n,)
        Index of the same rider's (vehicle's) previous trip, -1 for a first trip; ``n`` for a
        trip without a rider, so it is never counted.
    methodology_prefix : ndarray of int64, shape (len(methodology_names), n + 1)
        Cumulative count of each methodology version's trips, from 0.
    whole : dict of str to WholeBuckets
        Per bucket unit, the distinct riders and vehicles of every whole bucket.
    """

    version: int
    start_us: NDArray[np.int64]
    prefix: NDArray[np.float64]
    prev_rider: Positions
    prev_vehicle: Positions
    methodology_prefix: NDArray[np.int64]
    methodology_names: list[str]
    whole: dict[Unit, WholeBuckets]

    @classmethod
    def build(
        cls,
        version: int,
        start_us: NDArray[np.int64],
        additive: dict[str, NDArray[np.float64]],
        prev_rider: Positions,
        prev_vehicle: Positions,
        methodology: NDArray[np.int64],
        methodology_names: list[str],
    ) -> TripIndex:
        """The index of trips sorted by start: their columns, each of shape (n,).

        ``additive`` holds each :data:`ADDITIVE` figure (NaN for NULL); ``methodology`` codes
        into ``methodology_names``.
        """
        prefix = np.zeros((len(ADDITIVE), start_us.size + 1))
        for row, name in zip(prefix, ADDITIVE, strict=True):
            np.cumsum(np.nan_to_num(additive[name], nan=0.0), out=row[1:])
        per_version = methodology[None, :] == np.arange(len(methodology_names))[:, None]
        counts = np.zeros((len(methodology_names), start_us.size + 1), dtype=np.int64)
        np.cumsum(per_version, axis=1, out=counts[:, 1:])
        return cls(
            version=version,
            start_us=start_us,
            prefix=prefix,
            prev_rider=prev_rider,
            prev_vehicle=prev_vehicle,
            methodology_prefix=counts,
            methodology_names=methodology_names,
            whole={
                unit: WholeBuckets.count(start_us, prev_rider, prev_vehicle, unit) for unit in UNITS
            },
        )

    def __len__(self) -> int:
        return int(self.start_us.size)

    def _slice(self, start: datetime, end: datetime) -> tuple[int, int]:
        i, j = np.searchsorted(self.start_us, [_us(start), _us(end)], side="left")
        return int(i), int(j)

    def summary(self, start: datetime, end: datetime, distinct: bool = True) -> dict[str, Any]:
        """The figures of the trips starting in ``[start, end)``: trips, distinct riders and
        vehicles (``riders``, ``vehicles_active``; left out when not ``distinct``), and the sum
        of every :data:`ADDITIVE` figure."""
        i, j = self._slice(start, end)
        sums = (self.prefix[:, j] - self.prefix[:, i]).tolist()
        row: dict[str, Any] = dict(zip(ADDITIVE, sums, strict=True))
        row["trips"] = j - i
        row["trips_without_energy"] = round(row["trips_without_energy"])
        if distinct:
            row["riders"] = _distinct(self.prev_rider, i, j)
            row["vehicles_active"] = _distinct(self.prev_vehicle, i, j)
        return row

    def series(
        self, start: datetime, end: datetime, unit: Unit, distinct: bool = True
    ) -> list[dict[str, Any]]:
        """One row per UTC bucket touching the window (:func:`city.buckets.bucket_edges`),
        empty buckets included, each with :meth:`summary`'s figures for the bucket's part of
        the window (distinct riders and vehicles only when ``distinct``) and the bucket's
        bounds: :meth:`bucket_columns` as rows."""
        columns = self.bucket_columns(start, end, unit, distinct)
        edges = [_datetime(us) for us in columns.pop("edge_us").tolist()]
        values: dict[str, list[Any]] = {k: v.tolist() for k, v in columns.items()}
        values.update(bucket_start=edges[:-1], bucket_end=edges[1:])
        names = list(values)
        return [dict(zip(names, row, strict=True)) for row in zip(*values.values(), strict=True)]

    def bucket_columns(
        self,
        start: datetime,
        end: datetime,
        unit: Unit,
        distinct: bool = True,
        total: bool = False,
    ) -> dict[str, NDArray[Any]]:
        """:meth:`series` as columns, in one pass over the buckets.

        Parameters
        ----------
        start, end : datetime
            The window ``[start, end)``.
        unit : {"hour", "day", "week", "month", "year"}
        distinct : bool
            Count the distinct riders and vehicles.
        total : bool
            Append a last row: the whole window's figures (:meth:`summary`'s).

        Returns
        -------
        dict of str to ndarray
            ``edge_us``, int64 of shape (m + 1,): the buckets' bounds
            (:func:`city.buckets.bucket_edges_us`); and per bucket, of shape (m,), or
            (m + 1,) with ``total``: ``trips`` and ``trips_without_energy`` (int64), every
            other :data:`ADDITIVE` sum (float64), and when ``distinct``, ``riders`` and
            ``vehicles_active`` (int64).
        """
        edge_us = bucket_edges_us(start, end, unit)
        cut = edge_us.copy()
        cut[0], cut[-1] = _us(start), _us(end)
        bounds = np.searchsorted(self.start_us, cut, side="left")
        first, last = bounds[:-1], bounds[1:]
        if total:
            first, last = np.concatenate((first, bounds[:1])), np.concatenate((last, bounds[-1:]))
        sums = self.prefix[:, last] - self.prefix[:, first]
        columns: dict[str, NDArray[Any]] = dict(zip(ADDITIVE, sums, strict=True))
        columns["trips_without_energy"] = np.rint(columns["trips_without_energy"]).astype(np.int64)
        columns.update(edge_us=edge_us, trips=(last - first).astype(np.int64))
        if distinct:
            riders, vehicles = self._distinct_per_bucket(unit, edge_us, cut, bounds)
            if total:
                i, j = int(bounds[0]), int(bounds[-1])
                riders = np.append(riders, _distinct(self.prev_rider, i, j))
                vehicles = np.append(vehicles, _distinct(self.prev_vehicle, i, j))
            columns.update(riders=riders, vehicles_active=vehicles)
        return columns

    def _distinct_per_bucket(
        self,
        unit: Unit,
        edge_us: NDArray[np.int64],
        cut: NDArray[np.int64],
        bounds: NDArray[np.intp],
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Distinct riders and vehicles per bucket: the whole buckets' from the counts made at
        load, the first and last bucket's, which the window may cut, over their trips
        (``bounds``: the first trip of each bucket, then the end of the last)."""
        riders, vehicles = self.whole[unit].lookup(edge_us[:-1])
        for b, cut_here in ((0, cut[0] != edge_us[0]), (riders.size - 1, cut[-1] != edge_us[-1])):
            if cut_here:
                i, j = int(bounds[b]), int(bounds[b + 1])
                riders[b] = _distinct(self.prev_rider, i, j)
                vehicles[b] = _distinct(self.prev_vehicle, i, j)
        return riders, vehicles

    def methodologies(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Methodology versions of the window's trips with their counts, most used first."""
        i, j = self._slice(start, end)
        counts = self.methodology_prefix[:, j] - self.methodology_prefix[:, i]
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
    rider = [n if p is None else p for p in columns["prev_rider"]]
    names, codes = np.unique(np.array(columns["methodology"], dtype=object), return_inverse=True)
    return TripIndex.build(
        version=version,
        start_us=np.array(columns["start_us"], dtype=np.int64),
        additive={name: np.array(columns[name], dtype=np.float64) for name in ADDITIVE},
        prev_rider=np.array(rider, dtype=np.int32),
        prev_vehicle=np.array(columns["prev_vehicle"], dtype=np.int32),
        methodology=codes.astype(np.int64).reshape(-1),
        methodology_names=[str(x) for x in names.tolist()],
    )
