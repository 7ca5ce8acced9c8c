"""Backfill: a long simulated history as the ingester would have received it, in arrays.

What the devices transmitted, in the wire format (:data:`wire.point.POINT_DTYPE`, duplicates
included, in transmission order), with the time each message would have reached the
ingester: a point 50 ms after it was sent, an event 350 ms after it happened. Malformed
payloads are left out (they are the ingester's dead letters to make) and only counted. The
simulators hold no database code: the command layer hands these arrays to the store, which
keeps the first transmitted copy of each (vehicle, device timestamp), as the ingester does.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from simulators.simulation import Simulation
from simulators.wire import wire_points

__all__ = ["Received", "received"]

_RECEIVE_DELAY_MS = 50
_EVENT_DELAY_MS = _RECEIVE_DELAY_MS + 300


@dataclass(frozen=True)
class Received:
    """One chunk of history as received. Vehicles are indices into ``Simulation.vehicles``.

    ``points`` (:data:`wire.point.POINT_DTYPE`) in transmission order, ``point_vehicle`` and
    ``point_received_ms`` (epoch ms) one per point; ``event_*`` one entry per event;
    ``malformed`` the bad payloads sent in the chunk, which are not in ``points``.
    """

    points: np.ndarray
    point_vehicle: npt.NDArray[np.int32]
    point_received_ms: npt.NDArray[np.int64]
    event_vehicle: npt.NDArray[np.int32]
    event_ts: list[datetime]
    event_type: list[str]
    event_ride_id: list[str | None]
    event_rider: list[str | None]
    event_attributes: list[dict[str, Any]]
    event_received_at: list[datetime]
    malformed: int


def _aware(values: np.ndarray) -> list[datetime]:
    moments: list[datetime] = values.astype("datetime64[ms]").astype(datetime).tolist()
    return [m.replace(tzinfo=UTC) for m in moments]


def received(sim: Simulation, chunk_days: float = 14.0) -> Iterator[Received]:
    """The simulation's history, ``chunk_days`` at a time (memory stays bounded for years)."""
    for piece in sim.chunks(chunk_days):
        points, events = piece.points, piece.events
        codes = [str(c) for c in events["code"]]
        yield Received(
            points=wire_points(points),
            point_vehicle=points["vehicle_index"].astype(np.int32),
            point_received_ms=points["sent_ts"].astype(np.int64) + _RECEIVE_DELAY_MS,
            event_vehicle=events["vehicle_index"].astype(np.int32),
            event_ts=_aware(events["ts"]),
            event_type=[str(t) for t in events["type"]],
            event_ride_id=[str(r) or None for r in events["ride_id"]],
            event_rider=[str(r) or None for r in events["rider"]],
            event_attributes=[{"code": c} if c else {} for c in codes],
            event_received_at=_aware(events["ts"] + np.timedelta64(_EVENT_DELAY_MS, "ms")),
            malformed=int(piece.malformed.size),
        )
