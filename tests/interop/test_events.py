"""interop/events.py: the micromobility state machine over our happenings, vectorised, held to
a plain one-event-at-a-time reference and to the MDS 2.0.2 text's table."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from interop.events import KINDS, Happenings, derive
from interop.ids import device_id
from tests.interop.state_machine import reachable

PROVIDER = "3c9604d6-b5ee-11e8-96f8-529269fb1459"
_TARGET = {
    "trip_end": "available",
    "trip_start": "on_trip",
    "charge_start": "non_operational",
    "charge_end": "available",
    "fault": "non_operational",
    "comms_lost": "non_contactable",
}
_TYPE = {
    "trip_end": "trip_end",
    "trip_start": "trip_start",
    "charge_start": "battery_low",
    "charge_end": "battery_charged",
    "fault": "maintenance",
    "comms_lost": "comms_lost",
}


def happenings(rows: list[tuple[str, int, str, int, int, float]]) -> Happenings:
    """``(vehicle, t_ms, kind, trip_start_ms, trip_end_ms, soc)`` rows, fleet ``f``."""
    n = len(rows)
    return Happenings(
        fleet=np.array(["f"] * n, dtype=object),
        vehicle=np.array([r[0] for r in rows], dtype=object),
        t_ms=np.array([r[1] for r in rows], dtype=np.int64),
        kind=np.array([KINDS.index(r[2]) for r in rows], dtype=np.int8),
        trip_start_ms=np.array([r[3] for r in rows], dtype=np.int64),
        trip_end_ms=np.array([r[4] for r in rows], dtype=np.int64),
        lat=np.full(n, 32.24),
        lon=np.full(n, -7.95),
        soc_pct=np.array([r[5] for r in rows], dtype=np.float64),
    )


def trips(vehicle: str, spans: list[tuple[int, int]], soc: float = 60.0) -> list[Any]:
    rows = []
    for start, end in spans:
        rows.append((vehicle, start, "trip_start", start, end, soc))
        rows.append((vehicle, end, "trip_end", start, -1, soc))
    return rows


def reference(rows: list[tuple[str, int, str, int, int, float]], low: float) -> list[Any]:
    """One event at a time: move charge and fault events out of trips, then walk each
    vehicle's happenings keeping its state."""
    spans = [(r[0], r[1], r[4]) for r in rows if r[2] == "trip_start"]
    moved = []
    for r in rows:
        t = r[1]
        if r[2] in ("charge_start", "charge_end", "fault"):
            for vehicle, start, end in spans:
                if vehicle == r[0] and start <= t < end:
                    t = end + 1
        moved.append((r[0], t, KINDS.index(r[2]), r))
    out = []
    state: dict[str, str] = {}
    for vehicle, t, _, r in sorted(moved, key=lambda m: (m[0], m[1], m[2])):
        before = state.get(vehicle, "available")
        after = _TARGET[r[2]]
        types = [_TYPE[r[2]]]
        if r[2] == "trip_end" and r[5] < low:
            after, types = "non_operational", ["trip_end", "battery_low"]
        state[vehicle] = after
        if after == before:
            continue
        if not reachable(before, types, after):
            types = ["comms_restored" if before == "non_contactable" else "unspecified", *types]
        out.append((vehicle, t, types, after))
    return sorted(out, key=lambda e: (e[1], e[0]))


def summary(events: list[dict[str, Any]]) -> list[Any]:
    return [(e["timestamp"], e["event_types"], e["vehicle_state"]) for e in events]


def test_a_day_of_one_vehicle() -> None:
    """Trips, a fault inside a trip (after its end), a charge, an offline and a trip ending
    low give the expected events, each a transition of the text's table."""
    rows = [
        *trips("a", [(1000, 2000), (5000, 6000)]),
        ("a", 1500, "fault", -1, -1, 50.0),
        ("a", 3000, "charge_start", -1, -1, 50.0),
        ("a", 4000, "charge_end", -1, -1, 90.0),
        ("a", 7000, "comms_lost", -1, -1, 90.0),
        *trips("a", [(8000, 9000)], soc=10.0),
    ]
    events = derive(happenings(rows), 0, 10_000, PROVIDER, 20.0)
    assert summary(events) == [
        (1000, ["trip_start"], "on_trip"),
        (2000, ["trip_end"], "available"),
        (2001, ["maintenance"], "non_operational"),
        (4000, ["battery_charged"], "available"),
        (5000, ["trip_start"], "on_trip"),
        (6000, ["trip_end"], "available"),
        (7000, ["comms_lost"], "non_contactable"),
        (8000, ["comms_restored", "trip_start"], "on_trip"),
        (9000, ["trip_end", "battery_low"], "non_operational"),
    ]
    assert all(len(e["trip_ids"]) == 1 for e in events if "trip" in e["event_types"][-1])


def test_the_window_keeps_the_state_of_its_lookback() -> None:
    """Happenings before the window set the state but are not published: a charge_end in the
    window after a charge_start before it is battery_charged."""
    rows = [("a", 100, "charge_start", -1, -1, 10.0), ("a", 5000, "charge_end", -1, -1, 95.0)]
    events = derive(happenings(rows), 1000, 10_000, PROVIDER, 20.0)
    assert summary(events) == [(5000, ["battery_charged"], "available")]


_KIND = st.sampled_from(["charge_start", "charge_end", "fault", "comms_lost"])


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 200), st.integers(1, 30)),
        max_size=12,
    ),
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 400), _KIND),
        max_size=20,
    ),
    st.floats(0, 100),
)
def test_vectorised_equals_the_reference(
    spans: list[tuple[str, int, int]], others: list[tuple[str, int, str]], soc: float
) -> None:
    """On arbitrary non-overlapping trips and events of three vehicles, :func:`derive` gives
    exactly the one-at-a-time reference, and every event is a transition of the text."""
    rows: list[tuple[str, int, str, int, int, float]] = []
    ends: dict[str, int] = {}
    for vehicle, gap, length in spans:
        start = ends.get(vehicle, 0) + gap * 10 + 2
        rows += trips(vehicle, [(start, start + length * 10)], soc=soc)
        ends[vehicle] = start + length * 10
    rows += [(v, t * 10 + 5, kind, -1, -1, soc) for v, t, kind in others]
    unique = {(r[0], r[1], r[2]): r for r in rows}  # a vehicle's kind once per ms (primary key)
    rows = list(unique.values())
    events = derive(happenings(rows), 0, 10**6, PROVIDER, 20.0)
    got = sorted(
        (e["timestamp"], e["device_id"], e["event_types"], e["vehicle_state"]) for e in events
    )
    expected = sorted(
        (t, device_id("f", v), types, after) for v, t, types, after in reference(rows, 20.0)
    )
    assert got == expected
    state: dict[str, str] = {}
    for e in events:  # derive's order: time, then the order the happenings were applied in
        before = state.get(e["device_id"], "available")
        assert reachable(before, e["event_types"], e["vehicle_state"]), e
        state[e["device_id"]] = e["vehicle_state"]
