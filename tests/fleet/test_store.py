"""The store's schema upgrade: versioned, idempotent, safe when run concurrently."""

from __future__ import annotations

import threading
from importlib.resources import files

import psycopg
import pytest

from fleet.errors import MigrationError, StoreError
from fleet.store import StoreOptions, current_version, latest_version, refuse_lossy, upgrade

TABLES = {
    "vehicles",
    "telemetry",
    "vehicle_events",
    "vehicle_status",
    "vehicle_state",
    "trips",
    "dead_letters",
    "zones",
    "programmes",
    "programme_indicators",
    "programme_changes",
    "trip_watermarks",
    "schema_migrations",
}


def tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    return {r[0] for r in rows}


def server_timescaledb(url: str) -> str | None:
    """What ``auto`` should find on this server: None where TimescaleDB is usable, else why not
    (in the words of the upgrade's warning)."""
    with psycopg.connect(url) as conn:
        available = conn.execute(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
        ).fetchone()
        preload = str(conn.execute("SHOW shared_preload_libraries").fetchone()[0])  # type: ignore[index]
    if available is None:
        return "not installed"
    return None if "timescaledb" in preload else "not preloaded"


def test_upgrade_fresh_database_then_again(empty_db_url: str) -> None:
    """A fresh database gets every table; a second upgrade applies nothing and changes nothing.
    With ``auto`` it takes TimescaleDB exactly where the server can run it, and says why not
    otherwise."""
    assert current_version(empty_db_url) is None
    first = upgrade(empty_db_url)
    assert first.applied and first.applied[0] == "0001_core"
    assert first.current_version == latest_version()
    why_not = server_timescaledb(empty_db_url)
    assert first.timescaledb is (why_not is None)
    if why_not is not None:
        assert first.plain_reason is not None and why_not in first.plain_reason
    assert tables(empty_db_url) >= TABLES
    second = upgrade(empty_db_url)
    assert second.applied == []
    assert second.current_version == first.current_version


def test_timescaledb_mode_require_and_off(empty_db_url: str) -> None:
    """``require`` refuses a server without a usable TimescaleDB, naming what is missing, and
    leaves nothing behind; ``off`` takes the plain path without a warning."""
    why_not = server_timescaledb(empty_db_url)
    if why_not is None:
        pytest.skip("this server runs TimescaleDB: require cannot fail here")
    with pytest.raises(StoreError, match=f"POGO_TIMESCALEDB is require, but .*{why_not}"):
        upgrade(empty_db_url, StoreOptions(timescaledb="require"))
    assert current_version(empty_db_url) is None  # the whole upgrade rolled back
    report = upgrade(empty_db_url, StoreOptions(timescaledb="off"))
    assert not report.timescaledb and report.plain_reason is None and report.applied


@pytest.mark.parametrize(
    ("version", "refused"),
    [("2.17.2", True), ("2.18.0", True), ("2.18.0-dev", True), ("1.7.5", True),
     ("2.18.1", False), ("2.27.0-p0", False), ("2.28.3", False), ("3.0.0", False)],
)  # fmt: skip
def test_versions_with_silent_loss_are_refused(version: str, refused: bool) -> None:
    """TimescaleDB below 2.18.1 is refused (timescale/timescaledb#7672), the message naming the
    version found and the first fixed one."""
    if refused:
        with pytest.raises(StoreError, match=rf"TimescaleDB {version} loses data.*2\.18\.1"):
            refuse_lossy(version)
    else:
        refuse_lossy(version)


def test_upgrade_current_database_keeps_rows(db_url: str) -> None:
    """Upgrading a database that is already current keeps its data."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO vehicles (fleet, vehicle) VALUES ('f', 'v1')")
    report = upgrade(db_url)
    assert report.applied == []
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM vehicles").fetchone() == (1,)


def test_concurrent_upgrades_take_turns(empty_db_url: str) -> None:
    """Two processes upgrading at once: one applies, the other finds nothing to do."""
    reports = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            reports.append(upgrade(empty_db_url))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(len(r.applied) for r in reports)[:2] == [0, 0]
    assert sum(1 for r in reports if r.applied) == 1


def test_edited_applied_migration_is_refused(empty_db_url: str) -> None:
    """An applied migration whose file changed stops the upgrade with a clear error."""
    upgrade(empty_db_url)
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute("UPDATE schema_migrations SET checksum = 'x' WHERE version = 1")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        upgrade(empty_db_url)


def test_telemetry_unique_on_vehicle_and_device_time(db_url: str) -> None:
    """The same vehicle and device time is stored once: ON CONFLICT DO NOTHING keeps the first."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        key = conn.execute(
            "INSERT INTO vehicles (fleet, vehicle) VALUES ('f', 'v') RETURNING vehicle_key"
        ).fetchone()[0]  # type: ignore[index]
        for lat in (32.1, 32.2):
            conn.execute(
                "INSERT INTO telemetry (vehicle_key, ts, lat, lon, received_at)"
                " VALUES (%s, '2026-11-22T08:00:00Z', %s, -7.95, now()) ON CONFLICT DO NOTHING",
                (key, lat),
            )
        assert conn.execute("SELECT count(*), min(lat) FROM telemetry").fetchone() == (1, 32.1)


def test_plain_daily_view_matches_timescale_columns(db_url: str) -> None:
    """The plain telemetry_daily view has the continuous aggregate's columns, in order."""
    ts_sql = (files("fleet") / "migrations" / "timescale" / "0003_telemetry_daily.sql").read_text()
    with psycopg.connect(db_url) as conn:
        cur = conn.execute("SELECT * FROM telemetry_daily LIMIT 0")
        columns = [d.name for d in cur.description or []]
    for column in columns:
        assert f"AS {column}" in ts_sql or f"{column}," in ts_sql
    assert columns[:3] == ["vehicle_key", "day", "points"]


def test_timescale_ddl_only_where_extension_exists() -> None:
    """Every Timescale-only call sits in the timescale/ folder, never in versioned or plain SQL;
    no policy there is removed and re-added on each upgrade."""
    root = files("fleet") / "migrations"
    markers = (
        "create_hypertable",
        "add_compression_policy",
        "add_retention_policy",
        "timescaledb.continuous",
        "time_bucket",
    )
    for folder in ("versioned", "plain"):
        for entry in (root / folder).iterdir():
            text = entry.read_text()
            for marker in markers:
                assert marker not in text, f"{folder}/{entry.name} uses {marker}"
    for entry in (root / "timescale").iterdir():
        text = entry.read_text()
        # re-runnable: every creation is guarded, and no policy is removed to be re-added
        # (the timescale-marked tests check that an upgrade keeps every job)
        if "create_hypertable" in text:
            assert "if_not_exists          => true" in text
        assert "remove_compression_policy" not in text
        assert "remove_continuous_aggregate_policy" not in text
