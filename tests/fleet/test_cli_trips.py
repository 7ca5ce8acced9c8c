"""``pogo trips`` (pogo/commands/trips.py) as a real process over a real database.

(It lives beside the builder's tests: the trip builder's owner owns this command.)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from tests.fleet.builders import T0, at, insert_fixes, parked, ride, vehicle_key


def _env(db_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POGO_")}
    env.update({"POGO_DATABASE_URL": db_url, "POGO_LOG_FORMAT": "json", **extra})
    return env


def _seed(db: Any) -> None:
    key = vehicle_key(db)
    pts = parked(-600, 0) + ride(0, 600)
    pts += parked(605, 1500, lat=pts[-1]["lat"])
    insert_fixes(db, key, pts, received_at=at(1600))


def test_pogo_trips_builds_once_and_reports(db_url: str, db: Any) -> None:
    """`pogo trips` builds the closed trips once, prints what it did and exits 0; the stored
    trip carries the configured profile's version."""
    _seed(db)
    result = subprocess.run(
        [sys.executable, "-m", "pogo", "trips"],
        capture_output=True, text=True, timeout=120, check=False,
        env=_env(db_url, POGO_TRIPS_PROFILE="city-calibrated"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "1 trips inserted" in result.stdout
    row = db.execute("SELECT methodology, co2_avoided_kg / distance_km FROM trips").fetchone()
    assert row[0].startswith("city-calibrated/")
    assert abs(row[1] - 0.150) < 1e-9
    assert T0.year == 2026


def test_pogo_trips_follow_stops_cleanly_on_sigterm(db_url: str, db: Any) -> None:
    """`pogo trips --follow` keeps building until SIGTERM, then exits 0."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "pogo", "trips", "--follow", "--interval", "0.2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(db_url),
    )  # fmt: skip
    try:
        _seed(db)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if db.execute("SELECT count(*) FROM trips").fetchone()[0] == 1:
                break
            time.sleep(0.2)
        assert db.execute("SELECT count(*) FROM trips").fetchone()[0] == 1
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "trips_follow_stopped" in err


def test_unknown_rule_in_settings_stops_with_its_name(db_url: str, tmp_path: Any) -> None:
    """A misspelt rule in the TOML file stops `pogo trips` with a message naming it."""
    config = tmp_path / "pogo.toml"
    config.write_text("[trips]\nrules = { min_parking = 300 }\n")
    result = subprocess.run(
        [sys.executable, "-m", "pogo", "--config", str(config), "trips"],
        capture_output=True, text=True, timeout=120, check=False, env=_env(db_url),
    )  # fmt: skip
    assert result.returncode == 2
    assert "'min_parking'" in result.stderr and "min_parking_s" in result.stderr


def test_pogo_trips_rebuild(db_url: str, db: Any) -> None:
    """`pogo trips --rebuild` recomputes every stored trip: under unchanged rules the same trip,
    left untouched, and the same report line."""
    _seed(db)
    run = [sys.executable, "-m", "pogo", "trips"]
    first = subprocess.run(run, capture_output=True, text=True, timeout=120, check=False,
                           env=_env(db_url))  # fmt: skip
    assert first.returncode == 0, first.stderr
    before = db.execute("SELECT trip_id, distance_km FROM trips").fetchall()
    again = subprocess.run([*run, "--rebuild"], capture_output=True, text=True, timeout=120,
                           check=False, env=_env(db_url))  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "0 trips inserted, 0 updated, 0 deleted" in again.stdout
    assert db.execute("SELECT trip_id, distance_km FROM trips").fetchall() == before
