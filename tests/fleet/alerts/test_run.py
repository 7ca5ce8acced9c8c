"""Fleet alerts end to end: the trip builder opens and clears each kind against a real
PostgreSQL, and each transition reaches a real local HTTP receiver once, signed."""

from __future__ import annotations

from typing import Any

import pytest

from fleet import TripRules, build_trips
from fleet.alerts import AlertRules
from tests.fixtures.receiver import WEBHOOK_SECRET, Receiver
from tests.fleet.alerts.builders import alerts, build, outbox, send, store
from tests.fleet.builders import T0, at, parked, ride, vehicle_key

OUTSIDE_CAMPUS = (32.2300, -7.9700)  # east of the UM6P campus (lon -7.992 to -7.972)
IN_CAMPUS = (32.2300, -7.9800)


def _delivered_once(receiver: Receiver, kind: str, transitions: list[str]) -> list[Any]:
    got = receiver.of_kind(kind)
    assert [d.json["transition"] for d in got] == transitions
    for d in got:
        assert d.signed_by(WEBHOOK_SECRET)
        assert d.headers["x-pogo-event"] == f"{kind}.{d.json['transition']}"
        assert d.headers["x-pogo-delivery"] == d.json["delivery_id"]
    assert len({d.headers["x-pogo-delivery"] for d in got}) == len(got)
    return got


def test_low_battery_opens_once_is_delivered_and_clears_on_charging(
    db_url: str, db: Any, receiver: Receiver
) -> None:
    """SoC falling below 20 % opens one low_battery alert (a single low reading before it did
    not); it is delivered once, signed; charging past 25 % clears it, delivered once too; a run
    with nothing new sends nothing."""
    key = vehicle_key(db, "m042")
    pts = parked(0, 300, soc_pct=30.0)
    pts[3]["soc_pct"] = 12.0  # one glitch
    pts += parked(300, 600, soc_pct=18.0)
    store(db, key, pts, 601)
    build(db_url, 610)
    (alert,) = alerts(db)
    assert (alert["kind"], alert["cleared_at"], alert["value"]) == ("low_battery", None, 18.0)
    assert alert["opened_at"] == at(360)  # the third low fix in a row (300, 330, 360)
    assert send(db_url, receiver.url).delivered == 1
    (opened,) = _delivered_once(receiver, "low_battery", ["opened"])
    assert opened.json["vehicle"] == "m042"
    assert opened.json["threshold"] == 20.0 and opened.json["unit"] == "%"

    store(db, key, parked(600, 900, soc_pct=23.0) + parked(900, 1200, soc_pct=40.0), 1201)
    build(db_url, 1210)
    (alert,) = alerts(db)
    assert alert["cleared_at"] == at(960)  # 23 % is inside the margin band: not yet
    assert send(db_url, receiver.url).delivered == 1
    (_, cleared) = _delivered_once(receiver, "low_battery", ["opened", "cleared"])
    assert cleared.json["alert_id"] == opened.json["alert_id"] == alert["alert_id"]
    assert cleared.json["value"] == 40.0

    build(db_url, 1220)
    assert send(db_url, receiver.url).delivered == 0
    assert len(receiver.deliveries) == 2


def test_offline_opens_after_the_silence_and_clears_when_the_unit_reports_again(
    db_url: str, db: Any, receiver: Receiver
) -> None:
    """No fix for POGO_ALERT_OFFLINE_AFTER_S opens offline (once, however many runs see the
    silence); a single fix does not clear it, three do; each is delivered once."""
    key = vehicle_key(db, "m007")
    store(db, key, parked(0, 600, soc_pct=80.0), 601)
    build(db_url, 900)
    assert alerts(db) == []
    build(db_url, 2500)
    build(db_url, 2600)
    (alert,) = alerts(db)
    assert alert["kind"] == "offline"
    assert alert["opened_at"] == at(570 + 1800)  # last fix + the threshold
    assert alert["value"] == pytest.approx(2500 - 570)
    store(db, key, parked(3000, 3001, soc_pct=80.0), 3001)
    build(db_url, 3010)
    assert alerts(db)[0]["cleared_at"] is None
    store(db, key, parked(3030, 3100, soc_pct=80.0), 3101)
    build(db_url, 3110)
    assert alerts(db)[0]["cleared_at"] == at(3000)
    assert send(db_url, receiver.url).delivered == 2
    opened, cleared = _delivered_once(receiver, "offline", ["opened", "cleared"])
    assert opened.json["summary"] == "pogo/m007 has sent no fix for 1800 s"
    assert cleared.json["opened_at"] == opened.json["opened_at"]


def test_geofence_enter_and_exit_of_a_marked_zone(db_url: str, db: Any, receiver: Receiver) -> None:
    """Riding into a zone marked for alerts opens a geofence alert on it; riding out clears it;
    zones not marked open nothing."""
    db.execute("UPDATE zones SET alert_geofence = true WHERE zone_id = 'um6p_campus'")
    key = vehicle_key(db, "m100")
    lat, lon = OUTSIDE_CAMPUS
    pts = parked(0, 300, lat=lat, lon=lon)
    pts += ride(300, 300, speed_kmh=24.0, lat=lat, lon=lon, north=False)  # east, away
    store(db, key, pts, 601)
    build(db_url, 610)
    assert alerts(db) == []
    west = parked(700, 1000, lat=IN_CAMPUS[0], lon=IN_CAMPUS[1])
    store(db, key, west, 1001)
    build(db_url, 1010)
    (alert,) = alerts(db)
    assert (alert["kind"], alert["zone_id"], alert["cleared_at"]) == (
        "geofence", "um6p_campus", None,
    )  # fmt: skip
    store(db, key, parked(1100, 1400, lat=lat, lon=lon), 1401)
    build(db_url, 1410)
    assert alerts(db)[0]["cleared_at"] == at(1160)
    assert send(db_url, receiver.url).delivered == 2
    entered, left = _delivered_once(receiver, "geofence", ["opened", "cleared"])
    assert entered.json["zone"] == {"zone_id": "um6p_campus", "name": "UM6P campus"}
    assert left.json["summary"] == "pogo/m100 left UM6P campus"


def test_overspeed_in_a_limited_zone_opens_and_clears_below_the_margin(
    db_url: str, db: Any, receiver: Receiver
) -> None:
    """Riding above a zone's speed limit opens an over-speed alert (one fast fix does not);
    slowing to the limit minus the margin clears it; both are delivered once."""
    db.execute("UPDATE zones SET speed_limit_kmh = 30 WHERE zone_id = 'city_centre'")
    key = vehicle_key(db, "m200")
    pts = ride(0, 60, speed_kmh=20.0, lat=32.2315)
    pts[5]["speed_kmh"] = 60.0  # one spike of reported speed
    pts += ride(65, 60, speed_kmh=40.0, lat=pts[-1]["lat"])
    pts += ride(130, 30, speed_kmh=28.0, lat=pts[-1]["lat"])  # in the band: still open
    store(db, key, pts, 161)
    build(db_url, 170)
    (alert,) = alerts(db)
    assert (alert["kind"], alert["zone_id"], alert["threshold"]) == ("overspeed", "city_centre", 30)
    assert alert["opened_at"] == at(75) and alert["value"] == 40.0
    assert alert["cleared_at"] is None
    store(db, key, ride(165, 60, speed_kmh=20.0, lat=pts[-1]["lat"]), 230)
    build(db_url, 240)
    assert alerts(db)[0]["cleared_at"] == at(175)
    assert send(db_url, receiver.url).delivered == 2
    opened, _ = _delivered_once(receiver, "overspeed", ["opened", "cleared"])
    assert opened.json["summary"] == "pogo/m200 at 40 km/h in City centre, limit 30 km/h"


def test_a_first_run_over_history_opens_only_what_holds_now(db_url: str, db: Any) -> None:
    """A first run over a day of history opens no alert for the past (a low battery two hours
    before the run, long charged since), only for what still holds."""
    key = vehicle_key(db, "m300")
    pts = parked(0, 600, soc_pct=10.0) + parked(600, 3600 * 2, soc_pct=90.0, every=300)
    pts += parked(3600 * 2, 3600 * 2 + 300, soc_pct=15.0)
    store(db, key, pts, 3600 * 2 + 301)
    build(db_url, 3600 * 2 + 310)
    (alert,) = alerts(db)
    assert alert["kind"] == "low_battery" and alert["opened_at"] > at(3600 * 2)


def test_without_a_webhook_alerts_are_stored_and_nothing_is_queued(db_url: str, db: Any) -> None:
    """With no webhook configured the builder records alerts but queues no delivery; without
    alert rules it evaluates none."""
    key = vehicle_key(db)
    store(db, key, parked(0, 300, soc_pct=5.0), 301)
    build_trips(db_url, TripRules(), None, now=at(310))
    assert alerts(db) == []
    report = build_trips(db_url, TripRules(), None, now=at(320), alerts=AlertRules())
    assert report.alerts.opened == {"low_battery": 1}
    assert len(alerts(db)) == 1
    assert outbox(db) == []
    assert T0.year == 2026


def test_a_build_in_time_slices_stores_the_alerts_of_one_read(db_url: str, db: Any) -> None:
    """A battery that runs low and is charged again, read in time slices of ten fixes: the
    alert opens in one slice and clears in a later one, which starts from the alerts the
    slice before it wrote; the alerts equal those of one read of every fix."""
    key = vehicle_key(db, "m400")
    pts = parked(0, 300, soc_pct=30.0) + parked(300, 600, soc_pct=15.0)
    pts += parked(600, 1200, soc_pct=40.0)
    store(db, key, pts, 1201)

    def built(rules: TripRules) -> list[tuple[Any, ...]]:
        build_trips(db_url, rules, None, now=at(1210), alerts=AlertRules())
        return [(a["kind"], a["opened_at"], a["cleared_at"], a["value"]) for a in alerts(db)]

    whole = built(TripRules())
    db.execute(
        "TRUNCATE alerts, alert_watermarks, trips, trip_watermarks, vehicle_state,"
        " battery_health CASCADE"
    )
    assert built(TripRules(max_fixes_per_batch=10)) == whole
    ((kind, opened, cleared, _),) = whole
    assert kind == "low_battery" and at(300) <= opened < cleared <= at(720)
