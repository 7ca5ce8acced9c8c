"""Segmentation + distance + zones over 10 million fixes, against a per-vehicle Python loop.

Run: ``.venv/bin/pytest benchmarks/bench_trips.py --benchmark-enable -o testpaths=benchmarks -s``

Data: a seeded synthetic fleet (``tests.fleet.builders.synthetic_fleet``): 2,000 vehicles,
10,000,000 fixes every 5 s, rides, stops at lights, parkings with jitter, 0.2 % spikes,
0.5 % poor-HDOP fixes, 15-minute gaps and 1 % fixes without speed.

* ``test_vectorised_10m``: ``segment`` (fix filter, motion trips, haversine distance) and the
  start/end zones of every trip (STRtree + ``contains_xy``) over all 10 M fixes at once.
* ``test_loop_slice``: the straightforward per-vehicle, per-fix Python loop of
  ``tests.fleet._reference`` (same rules, zones by shapely per point) on the first
  ``LOOP_VEHICLES`` vehicles (a slice of the same data), and the vectorised path on the same
  slice: results asserted equal (trip bounds and counts exactly, distances to 1e-6).
* ``test_report``: points per second of each, and the ratios: vectorised (10 M) against
  the loop's per-point rate on the slice, and both on the same slice.
* ``test_in_memory_growth``: at 0.3, 3 and 10 M fixes (5,000 per vehicle), segmentation and
  zones on sorted input, and on the same fixes shuffled (``Track.from_unsorted``: one sort
  of packed ``(vehicle, time)`` keys, then the same work); the sort alone beside
  ``np.lexsort`` of the pair, which it replaced.
* ``test_build_from_database``: the same fleets stored in ``telemetry`` (0.3 and 3 M fixes;
  ``BENCH_TRIPS_DB_10M=1`` adds 10 M), then ``fleet.build_trips``, first build and
  ``rebuild=True``, beside a raw binary COPY-out of the same rows in the same run, read by
  psycopg and by psql (``benchmarks/_trips/stored.py``); the trips are checked against the
  in-memory segmentation of the same fixes.
* ``test_rebuild_two_years``: ``rebuild=True`` over the service benchmark's two simulated
  years (``benchmarks/_service/dataset.py``: 24.3 M fixes of 40 vehicles, built on first use)
  in a copy of that database, alternating with the psycopg COPY-out of the same rows
  ``BENCH_TRIPS_2Y_ROUNDS`` times (default 5: a round on a shared host moves by a tenth
  either way): each round's ratio, and their median.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
import pytest

import emissions
from benchmarks._service.dataset import ensure_dataset
from benchmarks._trips.stored import (
    copied_database,
    copy_out_psql,
    copy_out_psycopg,
    stored_fleet,
)
from fleet import Segmentation, Track, TripRules, Zones, build_trips, load_geojson, segment
from fleet.track import time_key

# The reference loop and the synthetic fleet are the tests' own (the tests prove the loop
# equal to the vectorised path); pytest's `pythonpath = ["."]` makes the root importable.
from tests.fleet._reference import as_arrays, reference_segment, reference_zone
from tests.fleet.builders import synthetic_fleet

N_POINTS = 10_000_000
N_VEHICLES = 2_000
LOOP_VEHICLES = 60  # 300,000 fixes for the loop
RULES = TripRules()
RESULTS: dict[str, float] = {}
FIXES_PER_VEHICLE = 5_000
SIZES = (300_000, 3_000_000, N_POINTS)
TWO_YEAR_ROUNDS = int(os.environ.get("BENCH_TRIPS_2Y_ROUNDS", "5"))
DB_SIZES = (300_000, 3_000_000, *((N_POINTS,) if os.environ.get("BENCH_TRIPS_DB_10M") else ()))


@pytest.fixture(scope="module")
def fleet10m() -> Track:
    return synthetic_fleet(N_POINTS, N_VEHICLES, seed=2026)


@pytest.fixture(scope="module")
def zones() -> Zones:
    return Zones(load_geojson())


def vectorised(track: Track, zones: Zones) -> tuple[Segmentation, np.ndarray]:
    """Segmentation, distance and the start/end zone of every trip."""
    seg = segment(track, RULES)
    t = seg.trips
    where = zones.locate(
        np.concatenate([track.lon[t.start_idx], track.lon[t.end_idx]]),
        np.concatenate([track.lat[t.start_idx], track.lat[t.end_idx]]),
    )
    return seg, where


def loop(track: Track, zones: Zones) -> tuple[list[int], list, list[str | None]]:
    """The reference loop, plus each trip's start and end zone found point by point."""
    polygons = [(z.zone_id, p) for z, p in zip(zones.zones, zones.polygons, strict=True)]
    reasons, trips = reference_segment(track, RULES)
    lon, lat = track.lon.tolist(), track.lat.tolist()
    names = [reference_zone(polygons, lon[t.start_idx], lat[t.start_idx]) for t in trips]
    names += [reference_zone(polygons, lon[t.end_idx], lat[t.end_idx]) for t in trips]
    return reasons, trips, names


def _slice(track: Track, vehicles: int) -> Track:
    end = int(np.searchsorted(track.vehicle, track.vehicle[0] + vehicles))
    return Track(*(getattr(track, f)[:end] for f in track.__dataclass_fields__))


def test_vectorised_10m(benchmark, fleet10m: Track, zones: Zones) -> None:
    """All 10 M fixes at once."""
    seg, where = benchmark.pedantic(vectorised, args=(fleet10m, zones), rounds=3, iterations=1)
    assert len(seg.trips) > 10_000
    assert (where >= 0).any()
    best = benchmark.stats.stats.min
    RESULTS["fast_pps"] = len(fleet10m) / best
    RESULTS["fast_s"] = best
    benchmark.extra_info["points_per_s"] = RESULTS["fast_pps"]


def test_loop_slice(benchmark, fleet10m: Track, zones: Zones) -> None:
    """The per-vehicle loop on a slice of the same data; equal results to the fast path."""
    part = _slice(fleet10m, LOOP_VEHICLES)
    reasons, ref, names = benchmark.pedantic(loop, args=(part, zones), rounds=1, iterations=1)
    RESULTS["loop_pps"] = len(part) / benchmark.stats.stats.min
    RESULTS["slice_points"] = len(part)
    began = time.perf_counter()
    for _ in range(5):
        seg, where = vectorised(part, zones)
    RESULTS["fast_slice_pps"] = 5 * len(part) / (time.perf_counter() - began)
    assert seg.reason.tolist() == reasons
    expected = as_arrays(ref)
    for name, values in expected.items():
        got = getattr(seg.trips, name)
        if values.dtype.kind == "f":
            np.testing.assert_allclose(got, values, rtol=1e-6, atol=1e-9, err_msg=name)
        else:
            np.testing.assert_array_equal(got, values, err_msg=name)
    ids = np.array([None, *(z.zone_id for z in zones.zones)], dtype=object)[where + 1]
    assert ids.tolist() == names
    benchmark.extra_info["points_per_s"] = RESULTS["loop_pps"]


def test_report() -> None:
    """Print the figures (pytest -s shows them)."""
    fast, slow = RESULTS["fast_pps"], RESULTS["loop_pps"]
    print(
        f"\nvectorised, {N_POINTS:,} fixes, {N_VEHICLES} vehicles: {RESULTS['fast_s']:.3f} s, "
        f"{fast / 1e6:.1f} M fixes/s (target >= 10 M/s)"
        f"\nper-vehicle Python loop, {RESULTS['slice_points']:,.0f} fixes ({LOOP_VEHICLES} "
        f"vehicles): {slow / 1e3:.0f} k fixes/s"
        f"\nratio, vectorised 10 M vs loop per fix: {fast / slow:.0f}x (target >= 50x)"
        f"\nratio, both on the same slice: {RESULTS['fast_slice_pps'] / slow:.0f}x"
    )


def _fleet(n: int, big: Track) -> Track:
    return big if n == N_POINTS else synthetic_fleet(n, n // FIXES_PER_VEHICLE, seed=2026)


def _best(fn: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return min(times)


def test_in_memory_growth(fleet10m: Track, zones: Zones) -> None:
    """Sorted and shuffled input at 0.3, 3 and 10 M fixes: the same trips either way."""
    rng = np.random.default_rng(5)
    print("\nin memory (segmentation + zones), best of 3 (1 at 10 M):")
    print("fixes | sorted s | M/s | shuffled s | M/s | packed-key sort s | np.lexsort s")
    for n in SIZES:
        track = _fleet(n, fleet10m)
        order = rng.permutation(n)
        cols = {f: getattr(track, f)[order] for f in track.__dataclass_fields__}
        rounds = 1 if n == N_POINTS else 3
        sorted_s = _best(lambda: vectorised(track, zones), rounds)  # noqa: B023

        def shuffled() -> Segmentation:
            return vectorised(Track.from_unsorted(**cols), zones)[0]  # noqa: B023

        shuffled_s = _best(shuffled, rounds)
        assert len(shuffled().trips) == len(vectorised(track, zones)[0].trips)
        veh, t = cols["vehicle"], cols["t_ms"]
        packed_s = _best(lambda: np.argsort(time_key(veh, t), kind="stable"), rounds)  # noqa: B023
        lexsort_s = _best(lambda: np.lexsort((t, veh)), rounds)  # noqa: B023
        print(
            f"{n:,} | {sorted_s:.3f} | {n / sorted_s / 1e6:.1f} | {shuffled_s:.3f} | "
            f"{n / shuffled_s / 1e6:.1f} | {packed_s:.3f} | {lexsort_s:.3f}"
        )


@pytest.mark.parametrize("n", DB_SIZES)
def test_build_from_database(fleet10m: Track, n: int) -> None:
    """The whole build from stored fixes against reading the same rows, same run."""
    track = _fleet(n, fleet10m)
    expected = len(segment(track, RULES).trips)
    now = datetime.fromtimestamp(int(track.t_ms.max()) / 1000 + 86_400, UTC)
    with stored_fleet(track, f"pogo_bench_trips_{n}") as dsn:
        ref_s, rows = copy_out_psycopg(dsn)
        assert rows >= n
        psql_s = copy_out_psql(dsn)
        first = build_trips(dsn, RULES, None, now=now)
        assert first.fixes == n and first.trips_closed == expected and first.inserted == expected
        again = build_trips(dsn, RULES, None, now=now, rebuild=True)
        assert again.fixes == n and again.changed == 0
        ref2_s, _ = copy_out_psycopg(dsn)
        psql2_s = copy_out_psql(dsn)
    ref_s = min(ref_s, ref2_s)
    load1, _, _ = os.getloadavg()
    line = (
        f"\nbuild from the database, {n:,} fixes ({n // FIXES_PER_VEHICLE} vehicles), "
        f"load {load1:.1f}: first build {first.seconds:.2f} s ({n / first.seconds / 1e6:.2f} M/s),"
        f" rebuild {again.seconds:.2f} s ({n / again.seconds / 1e6:.2f} M/s); COPY-out by "
        f"psycopg {ref_s:.2f} s ({n / ref_s / 1e6:.2f} M rows/s): build ÷ COPY "
        f"{ref_s / first.seconds:.2f} (rebuild {ref_s / again.seconds:.2f}; target >= 0.8)"
    )
    if psql_s is not None and psql2_s is not None:
        psql_s = min(psql_s, psql2_s)
        line += (
            f"; COPY-out by psql {psql_s:.2f} s ({n / psql_s / 1e6:.2f} M rows/s): build ÷ "
            f"{psql_s / first.seconds:.2f} (rebuild {psql_s / again.seconds:.2f})"
        )
    print(line)


@pytest.mark.timeout(3600)  # the data set's first build alone takes ten minutes or more
def test_rebuild_two_years() -> None:
    """The whole rebuild at the scale the city's figures come from, against reading the
    same rows, alternating: the machine's other work moves both in turn, not one."""
    data = ensure_dataset()
    profile = emissions.get_profile(emissions.DEFAULT_PROFILE)
    rounds: list[tuple[float, float, int]] = []
    with copied_database(data.dsn, "pogo_bench_trips_2y") as dsn:
        for _ in range(TWO_YEAR_ROUNDS):
            copy_s, rows = copy_out_psycopg(dsn)
            report = build_trips(dsn, RULES, profile, rebuild=True)
            assert report.fixes == rows and report.trips_closed > 0
            rounds.append((copy_s, report.seconds, report.changed))
    # The first round may rewrite trips an older builder stored; the same rebuild again
    # changes nothing.
    assert [changed for _, _, changed in rounds[1:]] == [0] * (len(rounds) - 1)
    ratios = [copy_s / build_s for copy_s, build_s, _ in rounds]
    load1, _, _ = os.getloadavg()
    print(f"\nrebuild of two simulated years, {rows:,} fixes, load {load1:.1f} at the end:")
    for (copy_s, build_s, changed), ratio in zip(rounds, ratios, strict=True):
        print(
            f"  COPY-out {copy_s:.1f} s, rebuild {build_s:.1f} s ({changed:,} trips changed):"
            f" build ÷ COPY {ratio:.2f}"
        )
    print(f"  median build ÷ COPY {statistics.median(ratios):.2f} (target >= 0.8)")
