"""MDS events: the micromobility state machine driven by our trips, charge, fault and status
events, vectorised over all vehicles.

What happens to a vehicle, and the MDS 2.0.2 event (``modes/micromobility.md``, "Vehicle State
Events") each makes:

============  ==================================  ===================  =====================
ours          MDS event type                      state after          valid from
============  ==================================  ===================  =====================
trip start    ``trip_start``                      ``on_trip``          available, reserved
trip end      ``trip_end``                        ``available``        on_trip
  ... with the battery below the low mark         ``[trip_end, battery_low]``: ``non_operational``
charge_start  ``battery_low``                     ``non_operational``  available
charge_end    ``battery_charged``                 ``available``        non_operational
fault         ``maintenance``                     ``non_operational``  available
offline       ``comms_lost``                      ``non_contactable``  any but non_contactable
============  ==================================  ===================  =====================

Trips come from the trips table (both kinds: ride events and motion), so every stored trip has
its start and end. A charge or fault event inside a trip is moved to just after the trip's end
(a vehicle on a trip stays on it; the table has no ``on_trip`` to ``non_operational``).

Each vehicle's state before a happening is the state after the one before it (``available``
before the first one seen). A happening that leaves the state as it was (a fault while
charging, an offline while offline) makes no event: MDS events are changes of state. A
happening whose state before is not one the table allows it from is prefixed with the event
type that gets there, as the text allows ordered multi-type events ("the intermediate
vehicle_state values are discarded"): ``comms_restored`` out of ``non_contactable``, else
``unspecified`` (the provider cannot say how the vehicle became available again, e.g. a trip
after a fault with no repair event). Both are valid in every final state's list, so the only
multi-type event the pinned schema rejects is the text's own example, ``[trip_end,
battery_low]`` (see the schemas' README: the text is the contract).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from interop.ids import device_id, event_id, trip_id
from interop.mds import gps

__all__ = ["KINDS", "STATES", "Happenings", "derive", "happenings"]

STATES = ("available", "on_trip", "non_operational", "non_contactable", "reserved")
_AVAILABLE, _ON_TRIP, _NON_OPERATIONAL, _NON_CONTACTABLE, _RESERVED = range(5)

KINDS = ("trip_end", "trip_start", "charge_start", "charge_end", "fault", "comms_lost")
"""Our happenings, in the order they are applied when two share a millisecond (a trip ends
before the next begins)."""
_TRIP_END, _TRIP_START, _CHARGE_START, _CHARGE_END, _FAULT, _COMMS_LOST = range(6)

_TYPE = ("trip_end", "trip_start", "battery_low", "battery_charged", "maintenance", "comms_lost")
_TARGET = np.array(
    [_AVAILABLE, _ON_TRIP, _NON_OPERATIONAL, _AVAILABLE, _NON_OPERATIONAL, _NON_CONTACTABLE],
    dtype=np.int8,
)
# allowed[kind, state]: the table allows the kind's event type from that state.
_ALLOWED = np.zeros((len(KINDS), len(STATES)), dtype=bool)
_ALLOWED[_TRIP_END, _ON_TRIP] = True
_ALLOWED[_TRIP_START, [_AVAILABLE, _RESERVED]] = True
_ALLOWED[[_CHARGE_START, _FAULT], _AVAILABLE] = True
_ALLOWED[_CHARGE_END, _NON_OPERATIONAL] = True
_ALLOWED[_COMMS_LOST, [_AVAILABLE, _ON_TRIP, _NON_OPERATIONAL, _RESERVED]] = True

_SHIFT = np.int64(1) << np.int64(42)  # ms since the epoch stay below 2**42 until 2109


@dataclass(frozen=True)
class Happenings:
    """What happened to the vehicles, one entry per happening, shape (h,) each.

    Attributes
    ----------
    fleet, vehicle : ndarray of object
    t_ms : ndarray of int64
        When, ms since the epoch.
    kind : ndarray of int8
        Index into :data:`KINDS`.
    trip_start_ms : ndarray of int64
        The trip's start for trip happenings (names its ``trip_id``), -1 otherwise.
    trip_end_ms : ndarray of int64
        The trip's end for a trip start, -1 otherwise (moves events out of trips).
    lat, lon, soc_pct : ndarray of float64
        Place and state of charge then (NaN when unknown).
    """

    fleet: NDArray[np.object_]
    vehicle: NDArray[np.object_]
    t_ms: NDArray[np.int64]
    kind: NDArray[np.int8]
    trip_start_ms: NDArray[np.int64]
    trip_end_ms: NDArray[np.int64]
    lat: NDArray[np.float64]
    lon: NDArray[np.float64]
    soc_pct: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.t_ms.shape[0])


def _floats(rows: Sequence[dict[str, Any]], key: str) -> list[float]:
    return [np.nan if r[key] is None else float(r[key]) for r in rows]


def happenings(rows: dict[str, list[dict[str, Any]]]) -> Happenings:
    """The happenings of :func:`interop.queries.event_happenings` rows."""
    trips, events, offline = rows["trips"], rows["events"], rows["offline"]
    n = len(trips)
    kinds = {"charge_start": _CHARGE_START, "charge_end": _CHARGE_END, "fault": _FAULT}
    other = [*events, *offline]
    trip_start = [int(r["start_ms"]) for r in trips]
    return Happenings(
        fleet=np.array([r["fleet"] for r in trips] * 2 + [r["fleet"] for r in other], object),
        vehicle=np.array([r["vehicle"] for r in trips] * 2 + [r["vehicle"] for r in other], object),
        t_ms=np.array(
            trip_start + [int(r["end_ms"]) for r in trips] + [int(r["t_ms"]) for r in other],
            dtype=np.int64,
        ),
        kind=np.array(
            [_TRIP_START] * n
            + [_TRIP_END] * n
            + [kinds[r["type"]] for r in events]
            + [_COMMS_LOST] * len(offline),
            dtype=np.int8,
        ),
        trip_start_ms=np.array(trip_start * 2 + [-1] * len(other), dtype=np.int64),
        trip_end_ms=np.array(
            [int(r["end_ms"]) for r in trips] + [-1] * (n + len(other)), dtype=np.int64
        ),
        lat=np.array(
            _floats(trips, "start_lat") + _floats(trips, "end_lat") + _floats(other, "lat")
        ),
        lon=np.array(
            _floats(trips, "start_lon") + _floats(trips, "end_lon") + _floats(other, "lon")
        ),
        soc_pct=np.array(
            _floats(trips, "start_soc") + _floats(trips, "end_soc") + _floats(other, "soc_pct")
        ),
    )


def derive(
    h: Happenings, start_ms: int, end_ms: int, provider: str, low_battery_pct: float
) -> list[dict[str, Any]]:
    """The MDS events of ``[start_ms, end_ms)`` (see the module's notes), in time order.

    Parameters
    ----------
    h : Happenings
        Every happening of the window and of a lookback before it (which sets each vehicle's
        state at the window's start).
    start_ms, end_ms : int
        The window, ms since the epoch.
    provider : str
        The provider's UUID.
    low_battery_pct : float
        A trip ending below this state of charge leaves the vehicle ``non_operational``.

    Returns
    -------
    list of dict
        MDS event objects.
    """
    if not len(h):
        return []
    names = np.char.add(np.char.add(h.fleet.astype(str), "/"), h.vehicle.astype(str))
    _, code = np.unique(names, return_inverse=True)
    code = code.astype(np.int64).reshape(-1)
    t = h.t_ms.copy()

    # Charge and fault events inside a trip of the same vehicle: to just after its end.
    starts = np.flatnonzero(h.kind == _TRIP_START)
    skey = code[starts] * _SHIFT + h.t_ms[starts]
    order = np.argsort(skey, kind="stable")
    skey, starts = skey[order], starts[order]
    movable = np.isin(h.kind, [_CHARGE_START, _CHARGE_END, _FAULT])
    if starts.size:
        at = np.searchsorted(skey, code * _SHIFT + t, side="right") - 1
        trip = starts[np.maximum(at, 0)]
        inside = movable & (at >= 0) & (code[trip] == code) & (t < h.trip_end_ms[trip])
        t = np.where(inside, h.trip_end_ms[trip] + 1, t)

    seq = np.lexsort((h.kind, t, code))
    code, t, kind = code[seq], t[seq], h.kind[seq]
    soc = h.soc_pct[seq]
    target = _TARGET[kind].copy()
    low_end = (kind == _TRIP_END) & (soc < low_battery_pct)
    target[low_end] = _NON_OPERATIONAL
    prior = np.full(target.shape, _AVAILABLE, dtype=np.int8)
    same = np.r_[False, code[1:] == code[:-1]]
    prior[same] = target[:-1][same[1:]]
    placed = np.isfinite(h.lat[seq]) & np.isfinite(h.lon[seq])  # MDS needs a location
    emitted = (target != prior) & (t >= start_ms) & (t < end_ms) & placed
    prefixed = ~_ALLOWED[kind, prior]

    events = []
    for i in np.flatnonzero(emitted).tolist():
        j = int(seq[i])
        k = int(kind[i])
        types = [_TYPE[k]]
        if low_end[i]:
            types.append("battery_low")
        if prefixed[i]:
            types.insert(0, "comms_restored" if prior[i] == _NON_CONTACTABLE else "unspecified")
        fleet, vehicle = str(h.fleet[j]), str(h.vehicle[j])
        event: dict[str, Any] = {
            "device_id": device_id(fleet, vehicle),
            "provider_id": provider,
            "event_id": event_id(fleet, vehicle, int(t[i]), KINDS[k]),
            "vehicle_state": STATES[int(target[i])],
            "event_types": types,
            "timestamp": int(t[i]),
            "location": gps(float(h.lat[j]), float(h.lon[j])),
        }
        if np.isfinite(soc[i]):
            event["battery_percent"] = min(100, max(0, round(float(soc[i]))))
        if k in (_TRIP_START, _TRIP_END):
            event["trip_ids"] = [trip_id(fleet, vehicle, int(h.trip_start_ms[j]))]
        events.append(event)
    events.sort(key=lambda e: (e["timestamp"], e["device_id"]))
    return events
