"""GET /mds/*: the MDS 2.0 Provider API, every answer valid against the pinned mds-openapi
models (and, where they disagree, the MDS 2.0.2 text), on a simulated day and small cases."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from interop.ids import device_id
from tests.city.builders import point, state, t, trip, vehicle
from tests.fixtures.simulated_day import DAY, PROVIDER, Simulated
from tests.interop.schemas import errors, mds_model, provider_response, require_schemas
from tests.interop.state_machine import reachable

MEDIA = "application/vnd.mds+json;version=2.0"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
HOURS = [(DAY + timedelta(hours=h)).strftime("%Y-%m-%dT%H") for h in range(24)]


def _get(client: httpx.Client, path: str, **params: str) -> dict[str, Any]:
    response = client.get(path, params=params, headers={"Accept": MEDIA})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == MEDIA
    body: dict[str, Any] = response.json()
    assert body["version"] == "2.0.2"
    return body


def _valid_event(event: dict[str, Any]) -> list[str]:
    """The event's violations of the pinned model; a multi-type event the model cannot take
    (``[trip_end, battery_low]``: the model wants every type valid in the final state, the text
    allows ordered transitions) is checked with its last type, its sequence by the text."""
    found = errors(mds_model("event"), event)
    if found and len(event["event_types"]) > 1:
        return errors(mds_model("event"), {**event, "event_types": event["event_types"][-1:]})
    return found


@pytest.fixture(scope="module")
def day(simulated: Simulated) -> dict[str, list[dict[str, Any]]]:
    """Every trip, event and telemetry point the simulated day's hours answer."""
    out: dict[str, list[dict[str, Any]]] = {"trips": [], "events": [], "telemetry": []}
    for hour in HOURS:
        for path, name, key in (
            ("/mds/trips", "end_time", "trips"),
            ("/mds/events/historical", "event_time", "events"),
            ("/mds/telemetry", "telemetry_time", "telemetry"),
        ):
            response = simulated.client.get(path, params={name: hour}, headers={"Accept": MEDIA})
            if response.status_code == 202:  # the builder's open tails at the day's end
                continue
            assert response.status_code == 200, response.text
            out[key].extend(response.json()[key])
    return out


def test_hour_answers_validate_against_the_provider_api(simulated: Simulated) -> None:
    """/trips, /telemetry and /events/historical of every hour of the simulated day validate
    as whole answers against reference/provider.yaml (micromobility models); events whose
    types the model cannot take are checked one by one (next test)."""
    require_schemas()
    for hour in HOURS[:20]:
        for path, name in (("/mds/trips", "end_time"), ("/mds/telemetry", "telemetry_time")):
            body = _get(simulated.client, path, **{name: hour})
            assert errors(provider_response(path.removeprefix("/mds")), body) == [], (path, hour)
        body = _get(simulated.client, "/mds/events/historical", event_time=hour)
        assert [e for e in body["events"] if _valid_event(e)] == []


def test_every_object_validates_against_its_model(
    simulated: Simulated, day: dict[str, list[dict[str, Any]]]
) -> None:
    """Every trip, telemetry point and event of the day against models/trip, telemetry,
    event; trips carry the energy and CO2 extension fields, and there is something to see."""
    require_schemas()
    assert len(day["trips"]) > 20 and len(day["events"]) > 40 and len(day["telemetry"]) > 1000
    trip_model, telemetry_model = mds_model("trip"), mds_model("telemetry")
    assert [e for tr in day["trips"] if (e := errors(trip_model, tr))] == []
    assert [e for p in day["telemetry"][::25] if (e := errors(telemetry_model, p))] == []
    assert [e for ev in day["events"] if (e := _valid_event(ev))] == []
    kinds = {tuple(e["event_types"]) for e in day["events"]}
    assert {("trip_start",), ("trip_end",), ("battery_low",), ("battery_charged",)} <= kinds


def test_events_follow_the_state_machine_of_the_text(day: dict[str, list[dict[str, Any]]]) -> None:
    """Each vehicle's events, in time order, are transitions of the MDS 2.0.2 micromobility
    table (from the state of the event before, available at first); trip events carry the
    trip's id, which /trips publishes."""
    by_device: dict[str, list[dict[str, Any]]] = {}
    for event in day["events"]:
        by_device.setdefault(event["device_id"], []).append(event)
    trips = {tr["trip_id"] for tr in day["trips"]}
    for events in by_device.values():
        events.sort(key=lambda e: e["timestamp"])
        before = "available"
        for event in events:
            assert reachable(before, event["event_types"], event["vehicle_state"]), event
            before = event["vehicle_state"]
            if {"trip_start", "trip_end"} & set(event["event_types"]):
                assert len(event["trip_ids"]) == 1
                if "trip_end" in event["event_types"]:
                    assert event["trip_ids"][0] in trips


def test_trips_in_mds_units_with_energy_and_co2(
    simulated: Simulated, day: dict[str, list[dict[str, Any]]]
) -> None:
    """Each MDS trip is a stored trip: integer ms, whole seconds and metres, lower-case UUIDs,
    the device of its vehicle; energy_kwh and the CO2 figures and methodology as stored."""
    with psycopg.connect(simulated.url) as conn:
        rows = conn.execute(
            "SELECT v.fleet, v.vehicle, pogo_ms(t.start_ts), pogo_ms(t.end_ts), t.duration_s,"
            " t.distance_km, t.energy_kwh, t.co2_avoided_kg, t.methodology"
            " FROM trips t JOIN vehicles v USING (vehicle_key)"
        ).fetchall()
    stored = {(device_id(r[0], r[1]), r[2]): r for r in rows}
    assert len(day["trips"]) == len({tr["trip_id"] for tr in day["trips"]})
    for tr in day["trips"]:
        assert UUID.match(tr["trip_id"]) and UUID.match(tr["device_id"])
        assert tr["provider_id"] == PROVIDER
        row = stored[(tr["device_id"], tr["start_time"])]
        assert tr["end_time"] == row[3] and isinstance(tr["end_time"], int)
        assert tr["duration"] == round(row[4]) and tr["distance"] == round(row[5] * 1000)
        assert tr["energy_kwh"] == pytest.approx(row[6], abs=1e-4)
        assert tr["co2_avoided_kg"] == pytest.approx(row[7], abs=1e-5)
        assert tr["co2_methodology"] == row[8] and row[8].startswith("ams-iii-c/")


def test_ids_are_stable_from_one_request_to_the_next(simulated: Simulated) -> None:
    """The same hour asked twice gives the same trip, event and telemetry ids."""
    for path, name, key, id_key in (
        ("/mds/trips", "end_time", "trips", "trip_id"),
        ("/mds/events/historical", "event_time", "events", "event_id"),
        ("/mds/telemetry", "telemetry_time", "telemetry", "telemetry_id"),
    ):
        first = [o[id_key] for o in _get(simulated.client, path, **{name: HOURS[9]})[key]]
        again = [o[id_key] for o in _get(simulated.client, path, **{name: HOURS[9]})[key]]
        assert first == again and first, path
        assert len(set(first)) == len(first)


def test_telemetry_names_the_trip_each_fix_lies_in(
    simulated: Simulated, day: dict[str, list[dict[str, Any]]]
) -> None:
    """A fix inside a trip's [start, end] carries that trip's id; a fix outside any, null."""
    spans = {
        tr["trip_id"]: (tr["device_id"], tr["start_time"], tr["end_time"]) for tr in day["trips"]
    }
    inside = [p for p in day["telemetry"] if p["trip_ids"]]
    assert inside and len(inside) < len(day["telemetry"])
    for p in inside[::10]:
        (tid,) = p["trip_ids"]
        if tid in spans:
            device, start, end = spans[tid]
            assert p["device_id"] == device and start <= p["timestamp"] <= end
    for p in day["telemetry"]:
        assert p["journey_id"] is None
        assert 0 <= p.get("battery_percent", 0) <= 100


def test_vehicles_and_their_status_validate(simulated: Simulated) -> None:
    """/vehicles (all, and one by device_id) and /vehicles/status (all, and one) validate
    against the Provider API; mopeds, electric; every status has a last event and telemetry."""
    require_schemas()
    client = simulated.client
    body = _get(client, "/mds/vehicles")
    assert errors(provider_response("/vehicles"), body) == []
    assert {v["vehicle_type"] for v in body["vehicles"]} == {"moped"}
    assert {tuple(v["propulsion_types"]) for v in body["vehicles"]} == {("electric",)}
    device = body["vehicles"][0]["device_id"]
    one = _get(client, f"/mds/vehicles/{device}")
    assert errors(provider_response("/vehicles/{device_id}"), one) == []
    assert [v["device_id"] for v in one["vehicles"]] == [device]
    status = _get(client, "/mds/vehicles/status")
    assert errors(provider_response("/vehicles/status"), status) == []
    assert len(status["vehicles_status"]) == len(body["vehicles"])
    assert isinstance(status["last_updated"], int) and 0 <= status["ttl"] <= 300_000
    single = _get(client, f"/mds/vehicles/status/{device}")
    assert errors(provider_response("/vehicles/status/{device_id}"), single) == []
    (only,) = single["vehicles_status"]
    assert only["last_event"]["device_id"] == only["last_telemetry"]["device_id"] == device


def test_unknown_and_malformed_device_ids(simulated: Simulated) -> None:
    """An unknown UUID gets 404; something that is not a UUID gets 400 naming device_id."""
    client = simulated.client
    assert client.get("/mds/vehicles/3c9604d6-b5ee-11e8-96f8-529269fb1450").status_code == 404
    bad = client.get("/mds/vehicles/status/m001")
    assert bad.status_code == 400 and bad.json()["error_details"] == ["device_id"]


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/mds/trips", "end_time"),
        ("/mds/events/historical", "event_time"),
        ("/mds/telemetry", "telemetry_time"),
    ],
)
def test_hour_parameters_are_required_and_checked(
    simulated: Simulated, path: str, name: str
) -> None:
    """Without the hour, or with one that is not YYYY-MM-DDTHH (or not a real hour), 400 in
    MDS's error shape naming the parameter; a November hour is fine (the pinned iso-dayhour
    pattern would refuse month 11: it is not used)."""
    for params in ({}, {name: "2024-03-04"}, {name: "2024-03-04T24"}, {name: "2024-02-30T10"}):
        response = simulated.client.get(path, params=params)
        assert response.status_code == 400, params
        body = response.json()
        assert body["error"] == "bad_param" and body["error_details"] == [name]
    assert simulated.client.get(path, params={name: "2023-11-30T23"}).status_code in (200, 404)


def test_hour_status_404_202_200(
    simulated: Simulated, day: dict[str, list[dict[str, Any]]]
) -> None:
    """A future hour and the current one get 404; an hour before the first fix 404; an hour
    past the trip builder's progress 202; an hour of no trips after it began, 200 and []."""
    now = datetime.now(UTC)
    for path, name in (("/mds/trips", "end_time"), ("/mds/events/historical", "event_time")):
        for hour in (now + timedelta(hours=3), now, DAY - timedelta(hours=5)):
            response = simulated.client.get(path, params={name: hour.strftime("%Y-%m-%dT%H")})
            assert response.status_code == 404, (path, hour)
        key = "trips" if path.endswith("trips") else "events"
        assert isinstance(_get(simulated.client, path, **{name: HOURS[1]})[key], list)
    assert _get(simulated.client, "/mds/trips", end_time=HOURS[1])["trips"] == []
    with psycopg.connect(simulated.url) as conn:
        (until,) = conn.execute(
            "SELECT min(w.closed_until) FROM trip_watermarks w JOIN vehicle_state s"
            " USING (vehicle_key) WHERE s.last_seen > w.closed_until"
        ).fetchone() or (None,)
    assert until is not None, "the simulated day ends with a tail the builder has not closed"
    late = until.replace(minute=0, second=0, microsecond=0)
    response = simulated.client.get("/mds/trips", params={"end_time": late.strftime("%Y-%m-%dT%H")})
    assert response.status_code == 202
    earlier = (late - timedelta(hours=1)).strftime("%Y-%m-%dT%H")
    assert simulated.client.get("/mds/trips", params={"end_time": earlier}).status_code == 200


def test_versions_in_accept(simulated: Simulated) -> None:
    """Accept naming MDS 2.0 (or no Accept, or */*) is served 2.0; another version, or the MDS
    type without one, gets 406."""
    client = simulated.client
    for accept in (MEDIA, "application/vnd.mds+json; version=2.0, */*;q=0.1", "*/*", None):
        headers = {} if accept is None else {"Accept": accept}
        response = client.get("/mds/vehicles", headers=headers)
        assert response.status_code == 200, accept
        assert response.headers["content-type"] == MEDIA
    for accept in ("application/vnd.mds+json;version=1.2", "application/vnd.mds+json", "text/html"):
        response = client.get("/mds/vehicles", headers={"Accept": accept})
        assert response.status_code == 406, accept
        assert "2.0" in response.json()["detail"]


def test_mds_needs_a_token(simulated: Simulated) -> None:
    """Every /mds/ endpoint is trip-level data: 401 without a bearer token."""
    for path in (
        "/mds/vehicles",
        "/mds/vehicles/status",
        "/mds/trips?end_time=2024-03-04T10",
        "/mds/telemetry?telemetry_time=2024-03-04T10",
        "/mds/events/historical?event_time=2024-03-04T10",
        "/mds/reports/2024-03.csv",
    ):
        response = httpx.get(f"{simulated.client.base_url}{path}", timeout=30)
        assert response.status_code == 401, path


def test_recent_events(db: psycopg.Connection, make_service: Callable[..., httpx.Client]) -> None:
    """/events/recent gives the events of [start_time, end_time) (ms), valid; 400 without
    either bound, with one older than two weeks, or an end before the start."""
    require_schemas()
    now = datetime.now(UTC).replace(microsecond=0)
    key = vehicle(db)
    start = now - timedelta(hours=3)
    point(db, key, start - timedelta(minutes=1), soc_pct=80.0)
    trip(db, key, start)
    point(db, key, start + timedelta(minutes=15), soc_pct=15.0)
    client = make_service()
    ms = int((now - timedelta(hours=4)).timestamp() * 1000)
    end_ms = int(now.timestamp() * 1000)
    body = _get(client, "/mds/events/recent", start_time=str(ms), end_time=str(end_ms))
    assert errors(provider_response("/events/recent"), {**body, "events": []}) == []
    assert [e["event_types"] for e in body["events"]] == [
        ["trip_start"],
        ["trip_end", "battery_low"],
    ]
    assert [e["vehicle_state"] for e in body["events"]] == ["on_trip", "non_operational"]
    assert [e["battery_percent"] for e in body["events"]] == [80, 15]
    assert [_valid_event(e) for e in body["events"]] == [[], []]
    old = int((now - timedelta(days=15)).timestamp() * 1000)
    for params in (
        {"start_time": str(ms)},
        {"start_time": str(old), "end_time": str(end_ms)},
        {"start_time": str(end_ms), "end_time": str(ms)},
        {"start_time": "x", "end_time": "1"},
    ):
        assert client.get("/mds/events/recent", params=params).status_code == 400, params


def test_charge_and_fault_events_inside_a_trip_come_after_it(
    db: psycopg.Connection, make_service: Callable[..., httpx.Client]
) -> None:
    """A fault during a trip is published just after the trip's end (available, then
    non_operational by maintenance); a trip after it begins with unspecified; an offline
    device gives comms_lost, and what follows comms_restored."""
    now = datetime.now(UTC).replace(microsecond=0)
    key = vehicle(db)
    start = now - timedelta(hours=5)
    point(db, key, start - timedelta(minutes=1))
    trip(db, key, start)  # 15 minutes
    db.execute(
        "INSERT INTO vehicle_events (vehicle_key, ts, type, received_at)"
        " VALUES (%s, %s, 'fault', %s)",
        (key, start + timedelta(minutes=5), now),
    )
    trip(db, key, start + timedelta(hours=1))
    db.execute(
        "INSERT INTO vehicle_status (vehicle_key, online, changed_at) VALUES (%s, false, %s)",
        (key, start + timedelta(hours=2)),
    )
    db.execute(
        "INSERT INTO vehicle_events (vehicle_key, ts, type, received_at)"
        " VALUES (%s, %s, 'charge_start', %s)",
        (key, start + timedelta(hours=3), now),
    )
    client = make_service()
    window = {
        "start_time": str(int((start - timedelta(minutes=5)).timestamp() * 1000)),
        "end_time": str(int(now.timestamp() * 1000)),
    }
    events = _get(client, "/mds/events/recent", **window)["events"]
    assert [(e["event_types"], e["vehicle_state"]) for e in events] == [
        (["trip_start"], "on_trip"),
        (["trip_end"], "available"),
        (["maintenance"], "non_operational"),
        (["unspecified", "trip_start"], "on_trip"),
        (["trip_end"], "available"),
        (["comms_lost"], "non_contactable"),
        (["comms_restored", "battery_low"], "non_operational"),
    ]
    assert events[2]["timestamp"] == events[1]["timestamp"] + 1
    before = "available"
    for event in events:
        assert reachable(before, event["event_types"], event["vehicle_state"])
        before = event["vehicle_state"]
    require_schemas()  # the state machine above holds without them; the models need them
    assert [_valid_event(event) for event in events] == [[]] * len(events)


def _report(client: httpx.Client, name: str) -> list[list[str]]:
    response = client.get(f"/mds/reports/{name}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/vnd.mds+csv;version=2.0")
    return [line.split(",") for line in response.text.strip().split("\n")]


def test_monthly_report_counts_in_the_city_time_zone(
    db: psycopg.Connection, make_service: Callable[..., httpx.Client]
) -> None:
    """A month of the city's calendar (Europe/Paris here): a trip at 23:30 UTC on the last day
    of February is March's, one at 22:30 UTC on 31 March is April's; 12 trips by 3 riders
    give trip_count 12 and rider_count -1 (below 10), the other groups -1; the eight columns;
    the companion CSV has the month's energy and CO2."""
    require_schemas()
    key = vehicle(db)
    point(db, key, t("2025-02-01T08:00"))
    trip(db, key, t("2025-02-28T23:30"), rider="rider-a")
    for i in range(11):
        trip(db, key, t("2025-03-10T08:00") + timedelta(hours=i), rider=f"rider-{'abc'[i % 3]}")
    trip(db, key, t("2025-03-31T22:30"), rider="rider-z")
    client = make_service(city_timezone="Europe/Paris")
    rows = _report(client, "2025-03.csv")
    assert rows[0] == [
        "provider_id",
        "start_date",
        "duration",
        "special_group_type",
        "geography_id",
        "vehicle_type",
        "trip_count",
        "rider_count",
    ]
    assert rows[1:] == [
        [PROVIDER, "2025-03-01", "P1M", "all_riders", "", "moped", "12", "-1"],
        [PROVIDER, "2025-03-01", "P1M", "low_income", "", "moped", "-1", "-1"],
        [PROVIDER, "2025-03-01", "P1M", "adaptive_scooter", "", "moped", "-1", "-1"],
    ]
    import yaml

    from tests.interop.schemas import MDS

    pattern = yaml.safe_load((MDS / "models" / "report.yaml").read_text())["pattern"]
    assert re.match(pattern, client.get("/mds/reports/2025-03.csv").text)
    assert _report(client, "2025-04.csv")[1][6] == "-1"  # one trip
    energy = _report(client, "2025-03-energy.csv")
    header = dict(zip(energy[0], energy[1], strict=True))
    assert header["trip_count"] == "12" and header["methodology"] == "test-v1"
    assert float(header["energy_kwh"]) == pytest.approx(12 * 0.27)
    assert float(header["co2_avoided_kg"]) == pytest.approx(12 * 0.150 * 4.6, abs=1e-3)
    small = _report(client, "2025-04-energy.csv")
    assert small[1][5] == "-1" and small[1][6:] == [""] * 6


def test_reports_that_do_not_exist(
    db: psycopg.Connection, make_service: Callable[..., httpx.Client]
) -> None:
    """404 for the month not over yet, a future one, one before the first fix, and a name
    that is not YYYY-MM.csv."""
    key = vehicle(db)
    point(db, key, t("2025-02-01T08:00"))
    state(db, key)
    client = make_service()
    now = datetime.now(UTC)
    for name in (
        f"{now:%Y-%m}.csv",
        f"{now.year + 1}-01.csv",
        "2025-01.csv",
        "2025-13.csv",
        "march.csv",
        "2025-03.json",
    ):
        assert client.get(f"/mds/reports/{name}").status_code == 404, name
    assert client.get("/mds/reports/2025-02.csv").status_code == 200
    refused = client.get(
        "/mds/reports/2025-02.csv", headers={"Accept": "text/vnd.mds+csv;version=1.2"}
    )
    assert refused.status_code == 406
