"""Alert transitions into the store: the alerts themselves and, in the same transaction, one
outbox row per transition for the webhook (:mod:`fleet.alerts.webhook` sends them later).

The outbox is what makes delivery exactly-once per transition from the builder's side: a
transition is written once, with the trips of its run, or not at all (a failed run writes
nothing and the next one finds the same transition again); each outbox row is sent until the
receiver accepts it once, then never again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from fleet.alerts import queries as q
from fleet.alerts.evaluation import OpenAlerts, Transitions
from fleet.alerts.fences import Fences
from fleet.alerts.kinds import KINDS, TRANSITIONS
from fleet.alerts.payload import body

__all__ = ["Recorded", "record"]


@dataclass(frozen=True)
class Recorded:
    """What :func:`record` wrote."""

    opened: int = 0
    cleared: int = 0
    queued: int = 0


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def record(
    conn: q.Conn,
    transitions: Transitions,
    open_alerts: OpenAlerts,
    fences: Fences,
    *,
    deliver: bool,
) -> Recorded:
    """Write ``transitions`` (inside the caller's transaction).

    Parameters
    ----------
    conn : psycopg.Connection
        Inside the transaction of the run's trips (or of its offline step).
    transitions : Transitions
        A subject's flips alternate, starting with a clear exactly where it has an alert in
        ``open_alerts``.
    open_alerts : OpenAlerts
        The open alerts the transitions were evaluated against.
    fences : Fences
        For the zones' names.
    deliver : bool
        Queue one outbox row per transition (a webhook is configured).

    Returns
    -------
    Recorded
    """
    k = len(transitions)
    if k == 0:
        return Recorded()
    t = transitions
    zone_key = np.array(["" if z is None else z for z in t.subject_zone.tolist()], dtype=object)
    order = np.lexsort((t.t_ms, zone_key.astype(str), t.kind, t.vehicle))
    vehicle, kind, zkey = t.vehicle[order], t.kind[order], zone_key[order]
    opened, t_ms = t.opened[order], t.t_ms[order]
    zone, value, threshold = t.zone[order], t.value[order], t.threshold[order]
    same_prev = np.r_[
        False, (vehicle[1:] == vehicle[:-1]) & (kind[1:] == kind[:-1]) & (zkey[1:] == zkey[:-1])
    ]
    same_next = np.r_[same_prev[1:], False]

    new = np.flatnonzero(opened)
    ids = np.full(k, -1, dtype=np.int64)
    ids[new] = q.allocate_alert_ids(conn, int(new.size)) if new.size else []
    opened_ms = np.where(opened, t_ms, -1)
    # A clear right after an opening in this run closes that new alert...
    follows = ~opened & same_prev
    ids[follows] = ids[np.flatnonzero(follows) - 1]
    opened_ms[follows] = t_ms[np.flatnonzero(follows) - 1]
    # ...any other clears an alert the store holds open.
    stored = np.flatnonzero(~opened & ~same_prev)
    held = {
        (int(v), int(c), "" if z is None else str(z)): (int(i), int(o), zz)
        for v, c, z, i, o, zz in zip(
            open_alerts.vehicle.tolist(),
            open_alerts.kind.tolist(),
            open_alerts.subject_zone.tolist(),
            open_alerts.alert_id.tolist(),
            open_alerts.opened_ms.tolist(),
            open_alerts.zone.tolist(),
            strict=True,
        )
    }
    for i in stored.tolist():  # one per alert cleared: a handful per run, not per fix
        alert_id, since, alert_zone = held[(int(vehicle[i]), int(kind[i]), str(zkey[i]))]
        ids[i], opened_ms[i] = alert_id, since
        zone[i] = alert_zone
    cleared_next = np.where(same_next & opened, np.r_[t_ms[1:], 0], -1)
    for i in np.flatnonzero(follows).tolist():
        zone[i] = zone[i - 1]

    q.insert_alerts(
        conn,
        [
            (
                int(ids[i]),
                int(vehicle[i]),
                KINDS[kind[i]],
                zone[i],
                _utc(int(t_ms[i])),
                None if cleared_next[i] < 0 else _utc(int(cleared_next[i])),
                None if not np.isfinite(value[i]) else float(value[i]),
                None if not np.isfinite(threshold[i]) else float(threshold[i]),
            )
            for i in new.tolist()
        ],
    )
    q.clear_alerts(conn, ids[stored].tolist(), [_utc(int(x)) for x in t_ms[stored].tolist()])
    queued = 0
    if deliver:
        names = q.vehicle_names(conn, np.unique(vehicle).tolist())
        rows = []
        for i in range(k):
            delivery_id = str(uuid.uuid4())
            fleet_name, vehicle_name = names[int(vehicle[i])]
            transition = TRANSITIONS[0] if opened[i] else TRANSITIONS[1]
            rows.append(
                (
                    delivery_id,
                    int(ids[i]),
                    transition,
                    body(
                        delivery_id=delivery_id,
                        alert_id=int(ids[i]),
                        kind=KINDS[kind[i]],
                        transition=transition,
                        at_ms=int(t_ms[i]),
                        fleet=fleet_name,
                        vehicle=vehicle_name,
                        zone_id=zone[i],
                        zone_name=fences.names.get(zone[i]) if zone[i] is not None else None,
                        opened_ms=int(opened_ms[i]),
                        cleared_ms=None if opened[i] else int(t_ms[i]),
                        value=float(value[i]),
                        threshold=float(threshold[i]),
                    ),
                )
            )
        q.insert_deliveries(conn, rows)
        queued = len(rows)
    return Recorded(opened=int(new.size), cleared=int(k - new.size), queued=queued)
