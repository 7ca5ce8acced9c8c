"""Which alerts open and clear, from the fixes the trip builder holds: vectorised per kind.

Every kind is a condition on fixes with hysteresis (:func:`fleet.alerts.hysteresis.flips`),
except offline, which opens on the *absence* of fixes (:func:`offline_opened`) and clears on
their return. Only fixes the segmentation kept count (a dropped spike or a poor-HDOP fix is not
evidence of anything), except for offline, where any fix proves the unit reports.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fleet.alerts.fences import Fences
from fleet.alerts.hysteresis import Flips, flips
from fleet.alerts.kinds import GEOFENCE, KINDS, LOW_BATTERY, OFFLINE, OVERSPEED
from fleet.alerts.rules import AlertRules
from fleet.track import Track

__all__ = ["OpenAlerts", "Transitions", "evaluate_fixes", "offline_opened"]


@dataclass(frozen=True)
class OpenAlerts:
    """Alerts open in the store, shape (a,) each.

    Attributes
    ----------
    alert_id : int64
    vehicle : int64
    kind : int8
        Index into :data:`fleet.alerts.kinds.KINDS`.
    zone : object
        The zone id, or None (offline, low battery).
    opened_ms : int64
        When it opened, ms since the epoch.
    """

    alert_id: NDArray[np.int64]
    vehicle: NDArray[np.int64]
    kind: NDArray[np.int8]
    zone: NDArray[np.object_]
    opened_ms: NDArray[np.int64]

    @classmethod
    def from_rows(cls, rows: list[tuple[int, int, str, str | None, int]]) -> OpenAlerts:
        """From ``(alert_id, vehicle_key, kind, zone_id, opened_ms)`` rows."""
        return cls(
            np.array([r[0] for r in rows], dtype=np.int64),
            np.array([r[1] for r in rows], dtype=np.int64),
            np.array([KINDS.index(r[2]) for r in rows], dtype=np.int8),
            np.array([r[3] for r in rows], dtype=object),
            np.array([r[4] for r in rows], dtype=np.int64),
        )

    @property
    def subject_zone(self) -> NDArray[np.object_]:
        """The zone that is part of what each alert is about (geofence only), else None."""
        out = np.full(self.alert_id.shape[0], None, dtype=object)
        geo = self.of_kind(GEOFENCE)
        out[geo] = self.zone[geo]
        return out

    def of_kind(self, kind: int) -> NDArray[np.bool_]:
        return np.asarray(self.kind == kind, dtype=bool)


@dataclass(frozen=True)
class Transitions:
    """Alert flips, shape (k,) each.

    Attributes
    ----------
    vehicle : int64
    kind : int8
        Index into :data:`fleet.alerts.kinds.KINDS`.
    subject_zone : object
        What, besides the vehicle and the kind, one alert is about: the zone of a geofence
        alert, None for the others (a vehicle has one over-speed alert, whichever zone).
    zone : object
        The zone the flip happened in (geofence: its zone; over-speed: the limit's zone),
        or None.
    opened : bool
        True where the alert opens, False where it clears.
    t_ms : int64
        Device time of the fix that flipped it (offline opening: last fix + the threshold).
    value, threshold : float64
        The reading at that fix and the threshold it was held against (NaN when none).
    """

    vehicle: NDArray[np.int64]
    kind: NDArray[np.int8]
    subject_zone: NDArray[np.object_]
    zone: NDArray[np.object_]
    opened: NDArray[np.bool_]
    t_ms: NDArray[np.int64]
    value: NDArray[np.float64]
    threshold: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.vehicle.shape[0])

    @classmethod
    def concat(cls, parts: list[Transitions]) -> Transitions:
        """All ``parts`` as one."""
        names = list(cls.__dataclass_fields__)
        if not parts:
            return cls.empty()
        return cls(*(np.concatenate([getattr(p, n) for p in parts]) for n in names))

    @classmethod
    def empty(cls) -> Transitions:
        """No transitions."""
        e = np.zeros(0, dtype=np.int64)
        o = np.zeros(0, dtype=object)
        f = np.zeros(0, dtype=np.float64)
        return cls(e, e.astype(np.int8), o, o, e.astype(bool), e, f, f)


def _make(
    vehicle: NDArray[np.int64],
    kind: int,
    opened: NDArray[np.bool_],
    t_ms: NDArray[np.int64],
    value: NDArray[np.float64],
    threshold: NDArray[np.float64],
    zone: NDArray[np.object_] | None = None,
    subject_zone: NDArray[np.object_] | None = None,
) -> Transitions:
    k = vehicle.shape[0]
    none = np.full(k, None, dtype=object)
    return Transitions(
        vehicle.astype(np.int64),
        np.full(k, kind, dtype=np.int8),
        none if subject_zone is None else subject_zone,
        none if zone is None else zone,
        opened.astype(bool),
        t_ms.astype(np.int64),
        value.astype(np.float64),
        threshold.astype(np.float64),
    )


def _initial(open_alerts: OpenAlerts, kind: int, vehicles: NDArray[np.int64]) -> NDArray[np.bool_]:
    """Per batch vehicle, whether an alert of ``kind`` (without a zone) is open."""
    return np.isin(vehicles, open_alerts.vehicle[open_alerts.of_kind(kind)])


def evaluate_fixes(
    track: Track,
    kept: ArrayLike,
    vehicles: ArrayLike,
    after_ms: ArrayLike,
    now_ms: int,
    open_alerts: OpenAlerts,
    fences: Fences,
    rules: AlertRules,
) -> Transitions:
    """Low-battery, over-speed and geofence flips, and offline clears, of one batch.

    Parameters
    ----------
    track : Track
        The batch's fixes (vehicle, time order), as the trip builder read them.
    kept : array_like of bool, shape (n,)
        Fixes the segmentation kept (``Segmentation.reason == 0``).
    vehicles : array_like of int, shape (v,)
        The batch's vehicles, sorted; every fix's vehicle is among them.
    after_ms : array_like of int, shape (v,)
        Per vehicle, the latest fix time an earlier run evaluated, or the build time minus
        ``rules.max_age_s`` when later: only later fixes flip an alert.
    now_ms : int
        Build time, ms since the epoch.
    open_alerts : OpenAlerts
        The alerts open in the store for these vehicles.
    fences : Fences
        The zones, geofenced or with a speed limit.
    rules : AlertRules

    Returns
    -------
    Transitions
        In no particular order.

    Notes
    -----
    - low battery: opens on a confirmed run of SoC < ``low_battery_pct``, clears on one of
      SoC >= ``low_battery_pct + low_battery_clear_pct`` (fixes without SoC are skipped);
    - over-speed: opens on a confirmed run of reported speed above the limit of the zone the
      fix is in (the lowest, where limited zones overlap), clears on one at or below the limit
      minus ``overspeed_clear_kmh`` or outside every limited zone;
    - geofence, per vehicle and geofenced zone: opens (enters) on a confirmed run inside the
      zone, clears (exits) on one at least ``geofence_margin_m`` outside it;
    - offline clears once the vehicle has ``confirm_fixes`` fixes (kept or not: any fix
      proves the unit reports) later than the build time minus ``offline_after_s``, at the
      first of them.
    """
    veh = np.asarray(vehicles, dtype=np.int64)
    row = np.searchsorted(veh, track.vehicle)
    batch = _Batch(
        track,
        np.asarray(kept, dtype=bool),
        row,
        veh,
        np.asarray(after_ms, dtype=np.int64),
        open_alerts,
        fences,
        rules,
    )
    parts = [
        _low_battery(batch),
        _overspeed(batch),
        _geofence(batch),
        _offline_cleared(track, row, veh, now_ms, open_alerts, rules),
    ]
    return Transitions.concat(parts)


@dataclass(frozen=True)
class _Batch:
    """What every kind's evaluation reads of one batch (see :func:`evaluate_fixes`)."""

    track: Track
    keep: NDArray[np.bool_]  # fixes the segmentation kept
    row: NDArray[np.int64]  # each fix's row in ``veh``
    veh: NDArray[np.int64]
    after: NDArray[np.int64]  # per vehicle: only later fixes flip an alert
    open_alerts: OpenAlerts
    fences: Fences
    rules: AlertRules

    def flips(
        self,
        idx: NDArray[np.int64],
        high: NDArray[np.bool_],
        low: NDArray[np.bool_],
        initial: NDArray[np.bool_],
    ) -> Flips:
        """:func:`fleet.alerts.hysteresis.flips` over the fixes ``idx`` of this batch."""
        return flips(
            self.row[idx],
            self.track.t_ms[idx],
            high,
            low,
            initial,
            self.after,
            self.rules.confirm_fixes,
            self.rules.confirm_s,
        )


def _low_battery(b: _Batch) -> Transitions:
    track, rules = b.track, b.rules
    idx = np.flatnonzero(b.keep & np.isfinite(track.soc_pct))
    soc = track.soc_pct[idx]
    out = b.flips(
        idx,
        soc < rules.low_battery_pct,
        soc >= rules.low_battery_pct + rules.low_battery_clear_pct,
        _initial(b.open_alerts, LOW_BATTERY, b.veh),
    )
    at = idx[out.index]
    return _make(
        track.vehicle[at],
        LOW_BATTERY,
        out.opened,
        track.t_ms[at],
        track.soc_pct[at],
        np.full(at.shape[0], rules.low_battery_pct),
    )


def _overspeed(b: _Batch) -> Transitions:
    track, fences, rules = b.track, b.fences, b.rules
    initial = _initial(b.open_alerts, OVERSPEED, b.veh)
    if not np.isfinite(fences.limit_kmh).any() and not initial.any():
        return Transitions.empty()
    idx = np.flatnonzero(b.keep & np.isfinite(track.speed_kmh))
    speed = track.speed_kmh[idx]
    limit, zone = fences.speed_limit(track.lon[idx], track.lat[idx])
    over = speed > limit  # False outside every limited zone (NaN limit)
    out = b.flips(idx, over, ~(speed > limit - rules.overspeed_clear_kmh), initial)
    at = idx[out.index]
    where = zone[out.index]
    zone_ids = np.full(at.shape[0], None, dtype=object)
    zone_ids[where >= 0] = fences.ids[where[where >= 0]]
    return _make(
        track.vehicle[at],
        OVERSPEED,
        out.opened,
        track.t_ms[at],
        track.speed_kmh[at],
        limit[out.index],
        zone=zone_ids,
    )


def _geofence(b: _Batch) -> Transitions:
    track, veh, open_alerts, fences = b.track, b.veh, b.open_alerts, b.fences
    mine = open_alerts.of_kind(GEOFENCE) & np.isin(open_alerts.vehicle, veh)
    open_at = fences.index(open_alerts.zone[mine])
    # Watched: every geofenced zone, and any zone an alert is still open on (it may clear).
    cols = np.union1d(np.flatnonzero(fences.geofenced), open_at[open_at >= 0]).astype(np.int64)
    w = cols.shape[0]
    if w == 0:
        return Transitions.empty()
    idx = np.flatnonzero(b.keep)
    lon, lat = track.lon[idx], track.lat[idx]
    high = fences.inside(lon, lat, cols) & fences.geofenced[cols][None, :]
    low = fences.beyond_margin(lon, lat, cols)
    initial = np.zeros((veh.shape[0], w), dtype=bool)
    known = open_at >= 0
    initial[
        np.searchsorted(veh, open_alerts.vehicle[mine][known]),
        np.searchsorted(cols, open_at[known]),
    ] = True
    parts = []
    for j in range(w):  # one pass per watched zone (a handful), each over every fix
        out = b.flips(idx, high[:, j], low[:, j], initial[:, j])
        at = idx[out.index]
        zone_ids = np.full(at.shape[0], fences.ids[cols[j]], dtype=object)
        nan = np.full(at.shape[0], np.nan)
        parts.append(
            _make(
                track.vehicle[at],
                GEOFENCE,
                out.opened,
                track.t_ms[at],
                nan,
                nan,
                zone=zone_ids,
                subject_zone=zone_ids,
            )
        )
    return Transitions.concat(parts)


def _offline_cleared(
    track: Track,
    row: NDArray[np.int64],
    veh: NDArray[np.int64],
    now_ms: int,
    open_alerts: OpenAlerts,
    rules: AlertRules,
) -> Transitions:
    is_open = _initial(open_alerts, OFFLINE, veh)
    if not is_open.any():
        return Transitions.empty()
    since = now_ms - int(rules.offline_after_s * 1000)
    # Every fix in the window counts, evaluated before or not: the open alert is the state.
    recent = (track.t_ms > since) & is_open[row]
    count = np.bincount(row[recent], minlength=veh.shape[0])
    first = np.full(veh.shape[0], np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, row[recent], track.t_ms[recent])
    back = np.flatnonzero(count >= rules.confirm_fixes)
    nan = np.full(back.shape[0], np.nan)
    return _make(veh[back], OFFLINE, np.zeros(back.shape[0], bool), first[back], nan, nan)


def offline_opened(
    vehicle: ArrayLike,
    last_ms: ArrayLike,
    now_ms: int,
    open_alerts: OpenAlerts,
    rules: AlertRules,
) -> Transitions:
    """Offline alerts to open: vehicles silent for longer than ``offline_after_s``.

    Parameters
    ----------
    vehicle, last_ms : array_like of int, shape (v,)
        Every vehicle with a state, and the device time of its latest fix (ms).
    now_ms : int
        Build time, ms since the epoch.
    open_alerts : OpenAlerts
        The offline alerts open in the store (others are ignored).
    rules : AlertRules

    Returns
    -------
    Transitions
        Opened at the last fix plus ``offline_after_s``; ``value`` the silence so far, s.
    """
    veh = np.asarray(vehicle, dtype=np.int64)
    last = np.asarray(last_ms, dtype=np.int64)
    limit_ms = int(rules.offline_after_s * 1000)
    already = np.isin(veh, open_alerts.vehicle[open_alerts.of_kind(OFFLINE)])
    new = np.flatnonzero((now_ms - last > limit_ms) & ~already)
    k = new.shape[0]
    return _make(
        veh[new],
        OFFLINE,
        np.ones(k, dtype=bool),
        last[new] + limit_ms,
        (now_ms - last[new]) / 1000.0,
        np.full(k, rules.offline_after_s),
    )
