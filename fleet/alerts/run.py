"""The alerts' part of one trip-builder run: what :func:`fleet.build_trips` calls.

Per batch, :meth:`AlertRun.evaluate` reads the batch's open alerts and watermarks and finds the
flips in the fixes the builder already holds; :meth:`Evaluated.write` records them inside the
batch's transaction (with its trips). After the batches, :meth:`AlertRun.offline` opens the
offline alerts of every vehicle silent for too long, inside the run's last transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import psycopg
from numpy.typing import ArrayLike, NDArray

from fleet.alerts import queries as q
from fleet.alerts.evaluation import OpenAlerts, Transitions, evaluate_fixes, offline_opened
from fleet.alerts.fences import AlertZone, Fences
from fleet.alerts.kinds import KINDS
from fleet.alerts.outbox import Recorded, record
from fleet.alerts.rules import AlertRules
from fleet.errors import TripBuildError
from fleet.track import Track

__all__ = ["AlertCounts", "AlertRun", "Evaluated"]


@dataclass
class AlertCounts:
    """Alerts one run opened and cleared, by kind, and deliveries it queued."""

    opened: dict[str, int] = field(default_factory=dict)
    cleared: dict[str, int] = field(default_factory=dict)
    queued: int = 0

    def add(self, transitions: Transitions, recorded: Recorded) -> None:
        for flag, into in ((True, self.opened), (False, self.cleared)):
            counts = np.bincount(transitions.kind[transitions.opened == flag], minlength=len(KINDS))
            for name, c in zip(KINDS, counts.tolist(), strict=True):
                if c:
                    into[name] = into.get(name, 0) + int(c)
        self.queued += recorded.queued


@dataclass(frozen=True)
class Evaluated:
    """One batch's flips, ready to be written with its trips."""

    run: AlertRun
    transitions: Transitions
    open_alerts: OpenAlerts
    vehicles: NDArray[np.int64]
    until_ms: NDArray[np.int64]

    def write(self, conn: q.Conn) -> None:
        """Record the flips, their outbox rows and the vehicles' watermarks (in the caller's
        transaction)."""
        recorded = record(
            conn, self.transitions, self.open_alerts, self.run.fences, deliver=self.run.deliver
        )
        has = self.until_ms >= 0
        q.upsert_watermarks(conn, self.vehicles[has].tolist(), self.until_ms[has].tolist())
        self.run.counts.add(self.transitions, recorded)


class AlertRun:
    """The alert evaluation of one trip-builder run.

    Parameters
    ----------
    conn : psycopg.Connection
        The builder's connection (its zones are read once).
    rules : AlertRules
    now_ms : int
        Build time, ms since the epoch.
    deliver : bool
        Queue each transition for the webhook.
    """

    def __init__(self, conn: q.Conn, rules: AlertRules, now_ms: int, deliver: bool) -> None:
        self.rules = rules
        self.now_ms = now_ms
        self.deliver = deliver
        try:
            zones = q.load_fences(conn)
        except (psycopg.errors.UndefinedColumn, psycopg.errors.UndefinedTable):
            raise TripBuildError(
                "the schema lacks the alerts' tables; run `pogo db upgrade` first"
            ) from None
        self.fences = Fences((AlertZone(*row) for row in zones), rules.geofence_margin_m)
        self.counts = AlertCounts()

    def evaluate(
        self, conn: q.Conn, track: Track, kept: ArrayLike, vehicles: ArrayLike
    ) -> Evaluated:
        """The flips in one batch's fixes (reads the store; writes nothing)."""
        veh = np.asarray(vehicles, dtype=np.int64)
        open_alerts = OpenAlerts.from_rows(q.open_alerts(conn, veh.tolist()))
        seen = np.array(q.watermarks(conn, veh.tolist()), dtype=np.int64).reshape(-1, 2)
        horizon = self.now_ms - int(self.rules.max_age_s * 1000)
        after = np.full(veh.shape[0], horizon, dtype=np.int64)
        at = np.searchsorted(veh, seen[:, 0])
        after[at] = np.maximum(seen[:, 1], horizon)
        transitions = evaluate_fixes(
            track, kept, veh, after, self.now_ms, open_alerts, self.fences, self.rules
        )
        until = np.full(veh.shape[0], -1, dtype=np.int64)
        if len(track):
            np.maximum.at(until, np.searchsorted(veh, track.vehicle), track.t_ms)
        return Evaluated(self, transitions, open_alerts, veh, until)

    def offline(self, conn: q.Conn) -> None:
        """Open the offline alerts of vehicles silent for too long (in the caller's
        transaction)."""
        seen = q.last_seen(conn)
        open_alerts = OpenAlerts.from_rows(q.open_alerts(conn, kind="offline"))
        transitions = offline_opened(
            np.array([s[0] for s in seen], dtype=np.int64),
            np.array([s[1] for s in seen], dtype=np.int64),
            self.now_ms,
            open_alerts,
            self.rules,
        )
        recorded = record(conn, transitions, open_alerts, self.fences, deliver=self.deliver)
        self.counts.add(transitions, recorded)
