"""simulators/publish.py through the real ingester: what it publishes is stored, and matches
the ground truth.

The ingester runs as ``python -m pogo ingest`` in a subprocess against this test's own
database and a private Mosquitto (the project's queue limits).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psycopg
import pytest

from pogo.embedded import PrivateMosquitto, free_port
from simulators import STATE_RIDING, FaultRates, simulate
from simulators.publish import MqttTarget, live_start, publish
from tests.fixtures.settings import RIDER_KEY
from tests.simulators.builders import scenario

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def ingester(
    db_url: str, private_broker: PrivateMosquitto, tmp_path: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    """A running ``pogo ingest`` subscribed under a root of its own; SIGTERM at the end."""
    root = f"sim{uuid.uuid4().hex[:8]}/pogo/v1"
    log_path = tmp_path / "ingest.log"
    env = {
        **os.environ,
        "POGO_DATABASE_URL": db_url,
        "POGO_MQTT_URL": private_broker.url,
        "POGO_MQTT_TOPIC_ROOT": root,
        "POGO_MQTT_CLIENT_ID": f"ingest-{uuid.uuid4().hex[:6]}",
        "POGO_INGEST_METRICS_PORT": str(free_port()),
        "POGO_LOG_FORMAT": "json",
        "POGO_MQTT_SESSION_EXPIRY_S": "600",
        "POGO_RIDER_KEY": RIDER_KEY,
    }
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "pogo", "ingest"], env=env, cwd=REPO, stdout=log, stderr=log
        )
    deadline = time.monotonic() + 30
    while '"connected"' not in log_path.read_text() and time.monotonic() < deadline:
        assert process.poll() is None, log_path.read_text()
        time.sleep(0.1)
    yield root, process, log_path
    if process.poll() is None:
        process.terminate()
        process.wait(30)


def _wait(conn: psycopg.Connection[tuple[object, ...]], query: str, want: int) -> int:
    deadline = time.monotonic() + 60
    got = -1
    while time.monotonic() < deadline:
        row = conn.execute(query).fetchone()
        got = int(row[0]) if row else -1
        if got >= want:
            return got
        time.sleep(0.25)
    return got


@pytest.mark.slow
@pytest.mark.parametrize(
    ("mode", "days", "speedup"),
    [("binary", 0.2, None), ("json", 0.2, None), ("batch", 0.04, 600.0)],
)
def test_ingester_stores_what_was_published(
    mode: str,
    days: float,
    speedup: float | None,
    db_url: str,
    private_broker: PrivateMosquitto,
    ingester: tuple[str, subprocess.Popen[bytes], Path],
) -> None:
    """Every distinct point is stored once (duplicates dropped), every bad payload is
    dead-lettered (and nothing else: no point from the future, accelerated or not), every
    event is stored, and the stored rides match the ground truth."""
    root, process, log_path = ingester
    now = datetime.now(UTC)
    config = scenario(days=days, vehicles=6, faults=True, start=live_start(now, days, speedup))
    # Busier than Benguerir (30 rides a vehicle a day), with the window at local midday
    # whatever the hour the test runs, so there are rides; bad payloads often enough that
    # some are always sent.
    config = config.replace(
        faults=FaultRates(malformed=0.03, duplicate=0.01),
        trips_per_day=180.0,
        utc_offset_h=float((12 - now.hour) % 24),
    )
    sim = simulate(config)
    points = sim.points
    pairs = np.unique(
        np.stack([points["vehicle_index"].astype(np.int64), points["ts"].astype(np.int64)]), axis=1
    )
    target = MqttTarget(port=private_broker.port, root=root)
    counts = publish(sim, target, mode=mode, speedup=speedup)  # type: ignore[arg-type]
    assert counts.acked == counts.messages
    with psycopg.connect(db_url, autocommit=True) as conn:
        stored = _wait(conn, "SELECT count(*) FROM telemetry", pairs.shape[1])
        assert stored == pairs.shape[1], log_path.read_text()[-3000:]
        dead = _wait(
            conn, "SELECT coalesce(sum(occurrences), 0) FROM dead_letters", sim.malformed.size
        )
        assert dead == sim.malformed.size > 0
        events = _wait(conn, "SELECT count(*) FROM vehicle_events", sim.events.size)
        assert events == sim.events.size
        rows = conn.execute(
            """
            SELECT v.vehicle, (extract(epoch FROM t.ts) * 1000)::bigint, t.lat, t.lon,
                   t.soc_pct, t.odometer_km, t.seq
            FROM telemetry AS t JOIN vehicles AS v USING (vehicle_key)
            """
        ).fetchall()
        ride_ids = {
            r[0]
            for r in conn.execute(
                "SELECT ride_id FROM vehicle_events WHERE type = 'ride_start'"
            ).fetchall()
        }
    assert sim.truth.size > 0
    assert ride_ids == set(sim.truth["ride_id"].tolist())
    # The stored values are the published ones.
    got = {(str(v), int(ts)): (lat, lon, soc, odo, seq) for v, ts, lat, lon, soc, odo, seq in rows}
    original = points[(points["flags"] & 1) == 0]
    for p in original[:: max(1, original.size // 300)]:  # a sample of points, one by one
        lat, lon, soc, odo, seq = got[(str(p["vehicle"]), int(p["ts"].astype(np.int64)))]
        assert abs(lat - p["lat"]) < 2e-7 and abs(lon - p["lon"]) < 2e-7
        assert abs(soc - p["soc_pct"]) < 0.02
        assert abs(odo - p["odometer_km"]) < 0.006
        assert seq == p["seq"]
    # Each true ride's stored points (first fix to last) span its distance on the odometer.
    checked = 0
    for ride in sim.truth:
        mine = original[
            (original["vehicle"] == ride["vehicle"])
            & (original["true_ts"] >= ride["start_ts"])
            & (original["true_ts"] <= ride["end_ts"])
            & (original["state"] == STATE_RIDING)
        ]
        if mine.size == 0 or mine["true_ts"].min() != ride["start_ts"]:
            continue  # a coverage gap took the ride's first fix
        if mine["true_ts"].max() != ride["end_ts"]:
            continue
        odometer = [got[(str(p["vehicle"]), int(p["ts"].astype(np.int64)))][3] for p in mine]
        assert abs(max(odometer) - min(odometer) - ride["distance_km"]) < 0.011
        checked += 1
    assert checked > 0
    process.terminate()
    assert process.wait(30) == 0
