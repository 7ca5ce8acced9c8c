"""The incremental, idempotent trip builder: new telemetry in, trips and vehicle states out.

One run:

1. finds the vehicles with telemetry or events received since their watermark (minus a
   safety margin: two ingesters may commit ``received_at`` slightly out of order), plus the
   vehicles whose open tail may have settled with time;
2. per vehicle, rebuilds from the earliest of its ``closed_until`` watermark and its new
   points' device times, widened to the start of every stored trip such a change can touch,
   and reads ``max(min_parking_s, max_gap_s)`` of context before that;
3. segments all those vehicles' fixes at once (:func:`fleet.segmentation.segment`), adds
   zones, energy, odometer check and CO2; a run of more than :data:`READ_AHEAD_FIXES` new
   fixes (a first build, a rebuild, a build after a long outage) goes in time slices of about
   :data:`SLICE_FIXES` fixes of all its vehicles (:mod:`fleet.slices`), each built as an incremental
   run at its end would be, its open tails carried into the next in memory, while
   :data:`READERS` connections of their own read the next slices
   (:func:`fleet.readers.read_ahead`);
4. in one transaction: deletes the stored trips of the rebuilt ranges that vanished, inserts
   new ones, updates changed ones (identical rows are left untouched, so a second run changes
   nothing), moves the watermarks, and writes each vehicle's state.

Trips still open (the tail of a vehicle that may still be riding) are not written; the next
run reprocesses them.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np
import psycopg
import structlog
from numpy.typing import NDArray

from fleet import capacity
from fleet import queries as q
from fleet.alerts import AlertCounts, AlertRules, AlertRun
from fleet.battery import energy_kwh
from fleet.distance import odometer_check
from fleet.fixes import DROP_REASONS
from fleet.geofence import Zone, Zones
from fleet.readers import WriteBehind, read_ahead
from fleet.rides import Rides, pair_ride_events
from fleet.rules import TripRules
from fleet.segmentation import SOURCES, Segmentation, segment
from fleet.slices import Carry, Event, slice_edges
from fleet.state import STATES, VehicleStates, vehicle_states
from fleet.track import END_OF_TIME_MS, Track

__all__ = ["BuildReport", "Co2Method", "TripFrame", "build_trips", "trip_frame"]

_EVENT_LOOKBACK_MS = 24 * 3600 * 1000  # a ride_start up to a day before the window pairs
#: A run with more new fixes than this builds them in time slices of :data:`SLICE_FIXES`,
#: while :data:`READERS` connections of their own read the next slices (:mod:`fleet.readers`).
READ_AHEAD_FIXES = 500_000
#: Fixes of one time slice: on two simulated years, slices of 250,000 rebuilt in 15.6-16.5 s,
#: of 500,000 in 15.9-16.5 s and of 150,000 in 16.5-16.8 s (alternating runs), and hold half
#: the memory of the larger.
SLICE_FIXES = 250_000
READERS = 2
_BIG = np.iinfo(np.int64).max

log = structlog.get_logger("fleet.trips")


class Co2Method(Protocol):
    """What the builder needs of an emissions profile (``emissions.Profile`` is one)."""

    @property
    def version(self) -> str:
        """Stored in ``trips.methodology``."""
        ...

    def trip_co2(
        self, distance_km: NDArray[np.float64], energy_kwh: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """``(baseline, electricity, avoided)`` kg per trip; NaN energy means unmeasured."""
        ...


@dataclass
class BuildReport:
    """What one run did."""

    vehicles: int = 0
    fixes: int = 0
    fixes_dropped: dict[str, int] = field(default_factory=dict)
    trips_closed: int = 0
    trips_open: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    distance_km: float = 0.0
    alerts: AlertCounts = field(default_factory=AlertCounts)
    skipped: bool = False
    seconds: float = 0.0

    @property
    def changed(self) -> int:
        """Trips inserted, updated or deleted."""
        return self.inserted + self.updated + self.deleted


@dataclass(frozen=True)
class TripFrame:
    """Every trip column as arrays, shape (k,) each (``trips`` table names)."""

    columns: dict[str, NDArray[Any]]

    def __len__(self) -> int:
        return int(self.columns["vehicle_key"].shape[0])


def trip_frame(
    track: Track,
    seg: Segmentation,
    rides: Rides | None,
    rules: TripRules,
    *,
    battery_kwh: NDArray[np.float64],
    zones: Zones | None = None,
    profile: Co2Method | None = None,
    select: NDArray[np.bool_] | None = None,
) -> TripFrame:
    """All columns of the ``trips`` table for the segmented trips, vectorised.

    Parameters
    ----------
    track, seg, rides
        The input and result of :func:`fleet.segmentation.segment`.
    rules : TripRules
    battery_kwh : ndarray of float64, shape (k,)
        Each trip's battery capacity, kWh.
    zones : Zones, optional
        Start and end zones (None: no zones).
    profile : Co2Method, optional
        CO2 per trip; None leaves the CO2 columns NULL.
    select : ndarray of bool, shape (k,), optional
        Which trips to keep (default all).

    Returns
    -------
    TripFrame
        ``start_ts``/``end_ts`` as int64 ms; NaN for NULL floats; None for NULL text.
    """
    t = seg.trips
    sel = np.ones(len(t), dtype=bool) if select is None else select
    si, ei = t.start_idx[sel], t.end_idx[sel]
    dist = t.distance_km[sel]
    odo, flagged = odometer_check(dist, track.odometer_km[si], track.odometer_km[ei], rules)
    energy = energy_kwh(track.soc_pct[si], track.soc_pct[ei], battery_kwh[sel])
    k = int(sel.sum())
    if zones is not None and len(zones):
        ids = zones.zone_ids(
            np.concatenate([track.lon[si], track.lon[ei]]),
            np.concatenate([track.lat[si], track.lat[ei]]),
        )
        start_zone, end_zone = ids[:k], ids[k:]
    else:
        start_zone = end_zone = np.full(k, None, dtype=object)
    ride = t.ride[sel]
    has_ride = ride >= 0
    ride_id = np.full(k, None, dtype=object)
    rider = np.full(k, None, dtype=object)
    if rides is not None and has_ride.any():
        ride_id[has_ride] = rides.ride_id[ride[has_ride]]
        rider[has_ride] = rides.rider[ride[has_ride]]
    dropped = t.dropped[sel]
    # Few trips drop fixes, and for few reasons: one JSON text per distinct row of counts.
    reasons = np.zeros(0, dtype=object)
    if k:
        distinct, which = np.unique(dropped, axis=0, return_inverse=True)
        texts = [
            json.dumps({n: c for n, c in zip(DROP_REASONS, row, strict=True) if c})
            for row in distinct.tolist()
        ]
        reasons = np.array(texts, dtype=object)[which.reshape(-1)]
    if profile is not None:
        base, elec, avoided = profile.trip_co2(dist, energy)
        method = np.full(k, profile.version, dtype=object)
    else:
        base = elec = avoided = np.full(k, np.nan)
        method = np.full(k, None, dtype=object)
    cols: dict[str, NDArray[Any]] = {
        "vehicle_key": t.vehicle[sel],
        "ride_id": ride_id,
        "rider": rider,
        "source": np.array(SOURCES, dtype=object)[t.source[sel]],
        "start_ts": t.start_ms[sel],
        "end_ts": t.end_ms[sel],
        "start_lat": track.lat[si],
        "start_lon": track.lon[si],
        "end_lat": track.lat[ei],
        "end_lon": track.lon[ei],
        "start_zone": start_zone,
        "end_zone": end_zone,
        "distance_km": dist,
        "odometer_km": odo,
        "distance_flagged": flagged,
        "duration_s": t.duration_s[sel],
        "avg_speed_kmh": t.avg_speed_kmh[sel],
        "max_speed_kmh": t.max_speed_kmh[sel],
        "energy_kwh": energy,
        "energy_measured": np.isfinite(energy),
        "fixes_used": t.fixes_used[sel],
        "fixes_dropped": dropped.sum(axis=1),
        "dropped_by_reason": reasons,
        "co2_baseline_kg": base,
        "co2_electricity_kg": elec,
        "co2_avoided_kg": avoided,
        "methodology": method,
        "harsh_braking": t.harsh_braking[sel],
        "harsh_acceleration": t.harsh_acceleration[sel],
    }
    return TripFrame(cols)


def _rides_and_charging(
    events: list[Event],
) -> tuple[Rides | None, NDArray[np.int64]]:
    if not events:
        return None, np.zeros(0, dtype=np.int64)
    veh = np.array([e[0] for e in events], dtype=np.int64)
    ts = np.array([e[1] for e in events], dtype=np.int64)
    kind = np.array([e[2] for e in events], dtype=object)
    rid = np.array([e[3] for e in events], dtype=object)
    who = np.array([e[4] for e in events], dtype=object)
    is_ride = (kind == "ride_start") | (kind == "ride_end")
    rides = None
    if is_ride.any():
        rides = pair_ride_events(
            veh[is_ride], ts[is_ride], kind[is_ride] == "ride_start", rid[is_ride], who[is_ride]
        )
    charge = np.flatnonzero((kind == "charge_start") | (kind == "charge_end"))
    charging = np.zeros(0, dtype=np.int64)
    if charge.size:
        cv = veh[charge]
        last = charge[np.r_[cv[1:] != cv[:-1], True]]  # events are in (vehicle, ts) order
        charging = veh[last[kind[last] == "charge_start"]]
    return rides, charging


def build_trips(
    dsn: str,
    rules: TripRules | None = None,
    profile: Co2Method | None = None,
    *,
    now: datetime | None = None,
    zones: list[Zone] | None = None,
    max_age_s: float | None = None,
    rebuild: bool = False,
    alerts: AlertRules | None = None,
    queue_alerts: bool = False,
) -> BuildReport:
    """Build trips from the telemetry that arrived since the last run (or from all of it).

    Parameters
    ----------
    dsn : str
        libpq URL of a database at the current schema (``pogo db upgrade``).
    rules : TripRules, optional
    profile : Co2Method, optional
        The emissions profile for the per-trip CO2 (the ``pogo`` layer passes
        ``emissions.get_profile(...)``); None leaves CO2 NULL.
    now : datetime, optional
        Build time (UTC-aware); default the current time. Only decides which trips are final
        and which vehicles are offline; never a measurement.
    zones : list of Zone, optional
        Default: the ``zones`` table.
    max_age_s : float, optional
        The oldest point, in seconds before its receipt, that the ingester accepts
        (``POGO_INGEST_MAX_AGE_DAYS``): new points are then looked for only in chunks that can
        hold them, so a run reads new data, not the history. None looks everywhere.
    rebuild : bool, default False
        Rebuild every trip from the stored telemetry (after a change of trip rules): each
        vehicle's trips from its earliest stored fix on are recomputed, in the same per-slice
        transactions (readers see old or new trips, never none). Trips before the earliest
        stored fix (raw points dropped by retention) are kept.
    alerts : AlertRules, optional
        Evaluate the fleet alerts (:mod:`fleet.alerts`) with these rules; None: none.
    queue_alerts : bool, default False
        Queue each alert transition in the webhook outbox (a webhook is configured).

    Returns
    -------
    BuildReport
        ``skipped`` when another builder holds the lock.

    Raises
    ------
    TripBuildError
        When the schema is missing the builder's migration.
    """
    rules = rules or TripRules()
    when = now or datetime.now(UTC)
    now_ms = int(when.timestamp() * 1000)
    started = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        q.require_schema(conn)
        q.builder_session(conn)
        if not q.try_lock(conn):
            log.info("trips_build_skipped", reason="another builder holds the lock")
            return BuildReport(skipped=True)
        try:
            watch = None if alerts is None else AlertRun(conn, alerts, now_ms, queue_alerts)
            report = _run(dsn, conn, rules, profile, now_ms, zones, max_age_s, rebuild, watch)
        finally:
            q.unlock(conn)
    report.seconds = time.perf_counter() - started
    # A run that changed no trip (most runs of a follower between two rides) and flipped no
    # alert logs at debug.
    changed = (
        report.inserted
        or report.updated
        or report.deleted
        or report.alerts.opened
        or report.alerts.cleared
    )
    (log.info if changed else log.debug)(
        "trips_built",
        vehicles=report.vehicles,
        fixes=report.fixes,
        closed=report.trips_closed,
        open=report.trips_open,
        inserted=report.inserted,
        updated=report.updated,
        deleted=report.deleted,
        km=round(report.distance_km, 3),
        dropped=report.fixes_dropped,
        alerts_opened=report.alerts.opened,
        alerts_cleared=report.alerts.cleared,
        seconds=round(report.seconds, 3),
    )
    return report


@dataclass(frozen=True)
class _Run:
    """What every batch of one run shares."""

    conn: q.Conn
    rules: TripRules
    profile: Co2Method | None
    now_ms: int
    zones: Zones
    report: BuildReport
    alerts: AlertRun | None
    writes: WriteBehind  # each step's writes, on ``conn``


@dataclass(frozen=True)
class _Pending:
    """Vehicles with new telemetry (or a tail to settle), in key order, shape (v,) each."""

    vehicles: NDArray[np.int64]
    first_new_ms: NDArray[np.int64]  # earliest device time of the new fixes
    received_until: NDArray[np.int64]  # latest received_at seen (ms), -1 when none
    new_fixes: NDArray[np.int64]


def _pending(
    conn: q.Conn, rules: TripRules, now_ms: int, max_age_s: float | None, rebuild: bool
) -> _Pending | None:
    """The vehicles to build: new arrivals since their watermark (every vehicle with stored
    data, from its first, when ``rebuild``), and settling tails."""
    settled_ms = now_ms - int(rules.settle_s * 1000)
    if rebuild:
        arrivals = q.rebuild_arrivals(conn) or q.all_arrivals(conn)
    else:
        arrivals = q.new_arrivals(conn, rules.received_margin_s, max_age_s)
    settling = q.settling_vehicles(conn, settled_ms)
    veh = np.array([a[0] for a in arrivals] + [s[0] for s in settling], dtype=np.int64)
    if not veh.size:
        return None
    earliest = np.array([a[1] for a in arrivals] + [s[1] for s in settling], np.int64)
    vehicles, inverse = np.unique(veh, return_inverse=True)
    first_new = np.full(vehicles.size, _BIG, dtype=np.int64)
    np.minimum.at(first_new, inverse, earliest)
    received = np.full(vehicles.size, -1, dtype=np.int64)
    rx = np.array([-1 if a[2] is None else a[2] for a in arrivals], dtype=np.int64)
    np.maximum.at(received, inverse[: len(arrivals)], rx)
    fixes = np.zeros(vehicles.size, dtype=np.int64)
    np.add.at(fixes, inverse[: len(arrivals)], [a[3] for a in arrivals])
    return _Pending(vehicles, first_new, received, fixes)


def _run(
    dsn: str,
    conn: q.Conn,
    rules: TripRules,
    profile: Co2Method | None,
    now_ms: int,
    zone_list: list[Zone] | None,
    max_age_s: float | None,
    rebuild: bool,
    alerts: AlertRun | None,
) -> BuildReport:
    report = BuildReport() if alerts is None else BuildReport(alerts=alerts.counts)
    pending = _pending(conn, rules, now_ms, max_age_s, rebuild)
    if pending is not None:
        zones = Zones(
            zone_list if zone_list is not None else [Zone(*z) for z in q.load_zones(conn)]
        )
        start = _read_start(rules, conn, pending)
        per_slice = min(rules.max_fixes_per_batch, SLICE_FIXES)
        whole = min(rules.max_fixes_per_batch, READ_AHEAD_FIXES)
        long_run = int(pending.new_fixes.sum()) > whole
        # A long run writes each step while it builds the next (:class:`WriteBehind`).
        run = _Run(conn, rules, profile, now_ms, zones, report, alerts, WriteBehind(long_run))
        with contextlib.closing(run.writes):
            if not long_run:  # the usual run: one read, one build
                _build_whole(run, pending, start)
            elif q.stored_by_vehicle(conn):
                _build_batches(dsn, run, pending, start, whole)
            else:
                _build_slices(dsn, run, pending, start, per_slice)
        report.vehicles = int(pending.vehicles.size)
    with conn.transaction():
        q.mark_offline(conn, now_ms - int(rules.offline_after_s * 1000))
        if alerts is not None:
            alerts.offline(conn)
    return report


def _state_rows(states: VehicleStates) -> list[tuple[Any, ...]]:
    """``vehicle_state`` rows: NaN as NULL, the last fix time as a UTC datetime."""

    def nullable(values: NDArray[np.float64]) -> list[float | None]:
        return [None if v != v else v for v in values.tolist()]

    return list(
        zip(
            states.vehicle.tolist(),
            [STATES[s] for s in states.state.tolist()],
            nullable(states.lat),
            nullable(states.lon),
            nullable(states.soc_pct),
            nullable(states.odometer_km),
            [datetime.fromtimestamp(ms / 1000, UTC) for ms in states.last_ms.tolist()],
            strict=True,
        )
    )


@dataclass(frozen=True)
class _Start:
    """Where each vehicle's build starts, shape (v,) each, and what it carries from the store."""

    rebuild: NDArray[np.int64]  # per vehicle: trips from here on are rebuilt (ms)
    health: capacity.Health
    battery_kwh: dict[int, float | None]


def _health_state(
    vehicles: NDArray[np.int64], rows: dict[int, tuple[int, int | None, list[float]]]
) -> capacity.Health:
    """The battery-health state of ``vehicles`` as stored (empty sums where no row)."""
    empty = (-1, None, [0.0] * len(q.BATTERY_HEALTH_COLUMNS))
    got = [rows.get(v, empty) for v in vehicles.tolist()]
    return capacity.Health(
        vehicle=vehicles,
        sampled_until_ms=np.array([g[0] for g in got], dtype=np.int64),
        open_from_ms=np.array([-1 if g[1] is None else g[1] for g in got], dtype=np.int64),
        sums=np.array([g[2] for g in got], dtype=np.float64).reshape(vehicles.size, -1),
    )


def _read_start(rules: TripRules, conn: q.Conn, pending: _Pending) -> _Start:
    """Where each vehicle's rebuild starts (its new fixes, its watermark, or the earliest
    stored trip a change there may touch), its battery capacity and health."""
    vehicles = pending.vehicles.tolist()
    info = q.rebuild_from(conn, vehicles, pending.first_new_ms.tolist(), rules.context_s)
    closed_until = np.array([_BIG if r[1] is None else r[1] for r in info], dtype=np.int64)
    first_trip = np.array([_BIG if r[2] is None else r[2] for r in info], dtype=np.int64)
    rebuild = np.minimum(np.minimum(pending.first_new_ms, closed_until), first_trip)
    health = _health_state(pending.vehicles, q.load_battery_health(conn, vehicles))
    return _Start(rebuild, health, q.load_battery_kwh(conn, vehicles))


def _read_from(
    rules: TripRules, rebuild: NDArray[np.int64], health: capacity.Health
) -> NDArray[np.int64]:
    """Each vehicle's first fix to read: the context before its rebuild, or the start of a
    ride or charge still counting towards its battery health."""
    read_from = rebuild - int(rules.context_s * 1000)
    return np.where(health.open_from_ms >= 0, np.minimum(read_from, health.open_from_ms), read_from)


@dataclass(frozen=True)
class _Part:
    """What one build step builds: some vehicles (sorted), shape (v,) each, with their fixes
    and events. The last step of a run (``final``) settles tails by the clock and moves the
    received watermarks; an earlier time slice only builds what its own fixes decide."""

    vehicles: NDArray[np.int64]
    rebuild: NDArray[np.int64]
    health: capacity.Health
    track: Track
    events: list[Event]
    own: NDArray[np.bool_]  # shape (n,): fixes read for this step (not carried from the last)
    final: bool
    received_until: NDArray[np.int64]  # -1: keep the stored watermark
    counted_from: NDArray[np.int64]  # trips starting earlier were reported by an earlier step


def _build_whole(run: _Run, pending: _Pending, start: _Start) -> None:
    """The usual run: every vehicle's fixes in one read, built at once."""
    vehicles = pending.vehicles.tolist()
    read_from = _read_from(run.rules, start.rebuild, start.health)
    track = Track.from_arrays(**q.copy_fixes(run.conn, vehicles, read_from.tolist()))
    events = q.load_events(run.conn, vehicles, (read_from - _EVENT_LOOKBACK_MS).tolist())
    own = np.ones(len(track), dtype=bool)
    part = _Part(
        pending.vehicles,
        start.rebuild,
        start.health,
        track,
        events,
        own,
        True,
        pending.received_until,
        np.full(pending.vehicles.size, -_BIG, dtype=np.int64),
    )
    _build_part(run, part, start.battery_kwh)


def _build_slices(dsn: str, run: _Run, pending: _Pending, start: _Start, per_slice: int) -> None:
    """A long run in time slices of about ``per_slice`` fixes of every vehicle (see
    :mod:`fleet.slices`): :data:`READERS` connections read the next slices while one is
    built; each vehicle's open tail is carried from slice to slice in memory."""
    vehicles = pending.vehicles
    keys = vehicles.tolist()
    read_from = _read_from(run.rules, start.rebuild, start.health)
    last = np.array([-1 if m is None else m for m in q.last_fix_ms(run.conn, keys)], np.int64)
    edges = slice_edges(read_from, last, pending.new_fixes, per_slice)
    bounds = list(zip([0, *edges], [*edges, END_OF_TIME_MS], strict=True))
    fixes_from, events_from = read_from.tolist(), (read_from - _EVENT_LOOKBACK_MS).tolist()

    def read(conn: q.Conn, bound: tuple[int, int]) -> tuple[Track, list[Event]]:
        lo, hi = bound
        lo_fix = max(lo, int(read_from.min()))  # a bound the time index can start from
        track = Track.from_arrays(**q.copy_fix_slice(conn, keys, fixes_from, lo_fix, hi))
        return track, q.load_events(conn, keys, events_from, (lo, hi))

    rebuild, health, carry = start.rebuild.copy(), start.health, Carry.empty()
    none = np.full(vehicles.size, -1, dtype=np.int64)
    counted = np.full(vehicles.size, -_BIG, dtype=np.int64)
    with contextlib.closing(read_ahead(dsn, read, bounds, READERS, q.builder_session)) as reads:
        for k, (slice_track, slice_events) in enumerate(reads):
            final = k == len(bounds) - 1
            track, events, own = carry.join(slice_track, slice_events)
            at = (
                np.arange(vehicles.size)
                if final
                else np.searchsorted(vehicles, _runs(track.vehicle))
            )
            part = _Part(
                vehicles[at],
                rebuild[at],
                _pick_health(health, at),
                track,
                events,
                own,
                final,
                pending.received_until[at] if final else none[at],
                counted[at],
            )
            next_from, advanced, closed = _build_part(run, part, start.battery_kwh)
            counted[at] = np.maximum(counted[at], closed)
            rebuild[at] = np.maximum(rebuild[at], next_from)
            health = _put_health(health, at, advanced)
            fixes_next = _read_from(run.rules, rebuild, health)
            carry = Carry.keep(track, events, vehicles, fixes_next, fixes_next - _EVENT_LOOKBACK_MS)


def _build_batches(dsn: str, run: _Run, pending: _Pending, start: _Start, per_fixes: int) -> None:
    """A long run over fixes stored vehicle after vehicle (an import of each vehicle's
    history): batches of whole vehicles of about ``per_fixes`` fixes, each read along the
    primary key, whose ranges are then runs of neighbouring pages, and built at once, while
    :data:`READERS` connections read the next batches (on 3 M fixes of 600 vehicles
    stored so, 15 % faster than time slices)."""
    vehicles = pending.vehicles
    keys = vehicles.tolist()
    read_from = _read_from(run.rules, start.rebuild, start.health)
    batch = (np.cumsum(pending.new_fixes) - pending.new_fixes) // max(int(per_fixes), 1)
    groups = [np.flatnonzero(batch == b) for b in np.unique(batch).tolist()]

    def read(conn: q.Conn, at: NDArray[np.int64]) -> tuple[Track, list[Event]]:
        picked = [keys[i] for i in at.tolist()]
        track = Track.from_arrays(**q.copy_fixes(conn, picked, read_from[at].tolist()))
        since = (read_from[at] - _EVENT_LOOKBACK_MS).tolist()
        return track, q.load_events(conn, picked, since)

    everything = np.full(vehicles.size, -_BIG, dtype=np.int64)
    with contextlib.closing(read_ahead(dsn, read, groups, READERS, q.builder_session)) as reads:
        for at, (track, events) in zip(groups, reads, strict=True):
            part = _Part(
                vehicles[at],
                start.rebuild[at],
                _pick_health(start.health, at),
                track,
                events,
                np.ones(len(track), dtype=bool),
                True,
                pending.received_until[at],
                everything[at],
            )
            _build_part(run, part, start.battery_kwh)


def _runs(sorted_keys: NDArray[np.int64]) -> NDArray[np.int64]:
    """The distinct values of a sorted array (``np.unique`` without its sort)."""
    if not sorted_keys.size:
        return sorted_keys
    return sorted_keys[np.r_[True, sorted_keys[1:] != sorted_keys[:-1]]]


def _pick_health(health: capacity.Health, at: NDArray[np.int64]) -> capacity.Health:
    return capacity.Health(
        health.vehicle[at], health.sampled_until_ms[at], health.open_from_ms[at], health.sums[at]
    )


def _put_health(
    health: capacity.Health, at: NDArray[np.int64], part: capacity.Health
) -> capacity.Health:
    """``health`` with the vehicles at ``at`` replaced by ``part``."""
    until, since, sums = (
        health.sampled_until_ms.copy(),
        health.open_from_ms.copy(),
        health.sums.copy(),
    )
    until[at], since[at], sums[at] = part.sampled_until_ms, part.open_from_ms, part.sums
    return capacity.Health(health.vehicle, until, since, sums)


def _health_rows(health: capacity.Health, rated_kwh: NDArray[np.float64]) -> list[tuple[Any, ...]]:
    """``battery_health`` rows of the vehicles that have a sample or a run going."""
    fit = capacity.estimate(health.sums)
    rows: list[tuple[Any, ...]] = []
    for i in np.flatnonzero((health.sums[:, 0] > 0) | (health.open_from_ms >= 0)).tolist():
        until, since = int(health.sampled_until_ms[i]), int(health.open_from_ms[i])
        cap, err = float(fit.capacity_kwh[i]), float(fit.stderr_kwh[i])
        rows.append(
            (
                int(health.vehicle[i]),
                datetime.fromtimestamp(max(until, 0) / 1000, UTC),
                None if since < 0 else datetime.fromtimestamp(since / 1000, UTC),
                int(health.sums[i, 0]),
                *(float(v) for v in health.sums[i, 1:]),
                None if cap != cap else cap,
                None if err != err else err,
                float(rated_kwh[i]),
                capacity.METHOD,
            )
        )
    return rows


def _build_part(
    run: _Run, part: _Part, battery_kwh: dict[int, float | None]
) -> tuple[NDArray[np.int64], capacity.Health, NDArray[np.int64]]:
    """Build some vehicles from what was read, and write their trips, watermarks and states
    in one transaction (:attr:`_Run.writes`: in a long run, while the next step is built).

    Returns
    -------
    next_from : ndarray of int64, shape (v,)
        Per vehicle, where its next build starts: its new watermark, or the start of its
        last final trip when that ended within the context before it (as the next run's
        :func:`fleet.queries.rebuild_from` would find it).
    health : capacity.Health
        The vehicles' battery health after this step.
    closed_until : ndarray of int64, shape (v,)
        The vehicles' new watermarks.
    """
    conn, rules, vehicles, rebuild, track = (
        run.conn,
        run.rules,
        part.vehicles,
        part.rebuild,
        part.track,
    )
    context_ms = int(rules.context_s * 1000)
    rides, charging = _rides_and_charging(part.events)
    seg = segment(track, rules, rides)
    trips = seg.trips

    # Which trips are final, per vehicle: ended at least `context` before the last fix, or
    # (at the end of a run) `settle_s` before now.
    n = len(track)
    last_fix = np.full(vehicles.size, -_BIG, dtype=np.int64)
    if n:
        np.maximum.at(last_fix, np.searchsorted(vehicles, track.vehicle), track.t_ms)
    horizon = last_fix - context_ms
    if part.final:
        horizon = np.maximum(horizon, run.now_ms - int(rules.settle_s * 1000))
    tv = np.searchsorted(vehicles, trips.vehicle)
    in_range = trips.start_ms >= rebuild[tv]
    final = in_range & (trips.end_ms <= horizon[tv])
    still_open = in_range & ~final
    open_start = np.full(vehicles.size, _BIG, dtype=np.int64)
    np.minimum.at(open_start, tv[still_open], trips.start_ms[still_open])
    new_closed_until = np.minimum(horizon, open_start)
    touched = final & (trips.end_ms >= new_closed_until[tv] - context_ms)
    next_from = new_closed_until.copy()
    np.minimum.at(next_from, tv[touched], trips.start_ms[touched])

    cap = np.array(
        [battery_kwh.get(v) or rules.default_battery_kwh for v in vehicles.tolist()],
        dtype=np.float64,
    )
    frame = trip_frame(
        track,
        seg,
        rides,
        rules,
        zones=run.zones,
        battery_kwh=cap[tv],
        profile=run.profile,
        select=final,
    )
    # An earlier slice's states would be overwritten by the last one's: only the last writes.
    states = vehicle_states(track, seg, run.now_ms, rules, charging) if part.final else None
    health = capacity.advance(
        part.health,
        track.vehicle,
        track.t_ms,
        track.soc_pct,
        track.power_w,
        new_closed_until,
        rules,
    )
    flips = None
    if run.alerts is not None:
        run.writes.wait()  # the flips start from the alerts the step before wrote
        flips = run.alerts.evaluate(conn, track, seg.reason == 0, vehicles)
    report = run.report

    def write() -> None:
        with conn.transaction():
            inserted, updated, deleted = q.upsert_trips(
                conn,
                frame.columns,
                vehicles.tolist(),
                rebuild.tolist(),
                None if part.final else new_closed_until.tolist(),
            )
            q.upsert_watermarks(
                conn,
                vehicles.tolist(),
                new_closed_until.tolist(),
                [None if r < 0 else r for r in part.received_until.tolist()],
            )
            if states is not None:
                q.upsert_vehicle_state(conn, _state_rows(states))
            q.upsert_battery_health(conn, _health_rows(health, cap))
            if flips is not None:
                flips.write(conn)
        report.inserted += inserted
        report.updated += updated
        report.deleted += deleted

    run.writes.submit(write)
    counts = np.bincount(seg.reason[part.own], minlength=len(DROP_REASONS) + 1)[1:]
    report.fixes += int(part.own.sum())
    for name, c in zip(DROP_REASONS, counts.tolist(), strict=True):
        if c:
            report.fixes_dropped[name] = report.fixes_dropped.get(name, 0) + int(c)
    new = frame.columns["start_ts"] >= part.counted_from[tv[final]]
    report.trips_closed += int(new.sum())
    if part.final:
        report.trips_open += int(still_open.sum())
    report.distance_km += float(frame.columns["distance_km"][new].sum())
    return next_from, health, new_closed_until
