"""The TimescaleDB path on a real TimescaleDB (``POGO_TEST_TIMESCALE_URL``): stable policies,
the daily aggregate's whole history, retention that never drops what the aggregate lacks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
import psycopg.sql
import pytest

from emissions import PROFILES
from fleet import TripRules, build_trips, queries
from fleet.store import StoreOptions, refresh_daily, upgrade
from tests.fleet.builders import CITY_START, store_city

pytestmark = pytest.mark.timescale

REQUIRE = StoreOptions(timescaledb="require")


def jobs(url: str) -> dict[str, tuple[int, dict[str, Any]]]:
    """The database's pogo policies: proc name -> (job id, config)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT proc_name, job_id, config FROM timescaledb_information.jobs"
            " WHERE proc_name IN ('policy_compression', 'policy_refresh_continuous_aggregate',"
            " 'policy_retention', 'pogo_telemetry_retention')"
        ).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def run_job(url: str, proc_name: str) -> None:
    job_id = jobs(url)[proc_name][0]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CALL run_job(%s)", (job_id,))


def add_history(url: str, days: int, vehicles: int = 2, *, offset_days: int = 0) -> None:
    """Points every 30 minutes for ``days`` days ending ``offset_days`` ago, per vehicle."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO vehicles (fleet, vehicle) SELECT 'f', 'v' || i"
            " FROM generate_series(1, %s) i ON CONFLICT DO NOTHING",
            (vehicles,),
        )
        conn.execute(
            """
            INSERT INTO telemetry (vehicle_key, ts, lat, lon, speed_kmh, soc_pct, odometer_km,
                                   received_at)
            SELECT v.vehicle_key, g.ts, 32.2, -7.95, 20, 50, extract(epoch FROM g.ts) / 3600,
                   g.ts
            FROM vehicles v,
                 generate_series(
                     date_trunc('day', now()) - make_interval(days => %(end)s + %(days)s),
                     date_trunc('day', now()) - make_interval(days => %(end)s)
                         - INTERVAL '1 minute',
                     INTERVAL '30 minutes') AS g(ts)
            ON CONFLICT DO NOTHING
            """,
            {"days": days, "end": offset_days},
        )


def daily(url: str, *, materialised_only: bool = False) -> dict[tuple[int, str], int]:
    """The aggregate's (vehicle, day) -> points; ``materialised_only``: what it holds, without
    the real-time part computed over raw rows."""
    with psycopg.connect(url) as conn:
        source = "telemetry_daily"
        if materialised_only:
            row = conn.execute(
                "SELECT format('%I.%I', materialization_hypertable_schema,"
                " materialization_hypertable_name)"
                " FROM timescaledb_information.continuous_aggregates"
                " WHERE view_name = 'telemetry_daily'"
            ).fetchone()
            assert row is not None
            source = row[0]
        rows = conn.execute(
            psycopg.sql.SQL("SELECT vehicle_key, day::text, points FROM {}").format(
                psycopg.sql.SQL(source)
            )
        ).fetchall()
    return {(r[0], r[1]): r[2] for r in rows}


def raw_daily(url: str) -> dict[tuple[int, str], int]:
    """The same figure computed from the raw points."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT vehicle_key, time_bucket(INTERVAL '1 day', ts)::text, count(*)"
            " FROM telemetry GROUP BY 1, 2"
        ).fetchall()
    return {(r[0], r[1]): r[2] for r in rows}


def test_upgrade_with_unchanged_settings_changes_no_policy(timescale_url: str) -> None:
    """A second upgrade with the same settings keeps every job (same ids, same config) and
    reports no change."""
    first = upgrade(timescale_url, REQUIRE)
    assert first.timescaledb
    assert any("compression policy added" in c for c in first.changes)
    before = jobs(timescale_url)
    assert set(before) == {"policy_compression", "policy_refresh_continuous_aggregate"}
    second = upgrade(timescale_url, REQUIRE)
    assert second.changes == []
    assert jobs(timescale_url) == before


def test_changed_setting_alters_only_its_policy_and_says_so(timescale_url: str) -> None:
    """A changed compression age alters that policy in place (same job id) and is reported;
    the others are untouched. An upgrade without the retention setting keeps the retention
    policy; 0 removes it, and says so."""
    upgrade(timescale_url, StoreOptions(timescaledb="require", telemetry_retention_days=90))
    before = jobs(timescale_url)
    assert before["pogo_telemetry_retention"][1]["drop_after"] == "90 days"

    report = upgrade(
        timescale_url, StoreOptions(timescaledb="require", telemetry_compress_after_days=10)
    )
    after = jobs(timescale_url)
    assert report.changes == [
        "compression policy changed: compress chunks older than 10 days (was 7 days)"
    ]
    assert after["policy_compression"][0] == before["policy_compression"][0]
    assert after["policy_compression"][1]["compress_after"] == "10 days"
    assert (
        after["policy_refresh_continuous_aggregate"]
        == before["policy_refresh_continuous_aggregate"]
    )
    assert after["pogo_telemetry_retention"] == before["pogo_telemetry_retention"]  # unset: kept

    report = upgrade(
        timescale_url,
        StoreOptions(
            timescaledb="require", telemetry_compress_after_days=10, telemetry_retention_days=0
        ),
    )
    assert report.changes == ["retention policy removed (was: drop raw points older than 90 days)"]
    assert "pogo_telemetry_retention" not in jobs(timescale_url)


def test_legacy_retention_policy_is_replaced_by_the_guarded_one(timescale_url: str) -> None:
    """A retention policy of TimescaleDB's own (an older pogo's) becomes pogo's guarded job
    with the same horizon, and the upgrade says so."""
    upgrade(timescale_url, REQUIRE)
    with psycopg.connect(timescale_url, autocommit=True) as conn:
        conn.execute("SELECT add_retention_policy('telemetry', INTERVAL '60 days')")
    report = upgrade(timescale_url, REQUIRE)
    assert len(report.changes) == 2 and "replaced" in report.changes[0]
    found = jobs(timescale_url)
    assert "policy_retention" not in found
    assert found["pogo_telemetry_retention"][1]["drop_after"] == "60 days"


def test_daily_aggregate_keeps_the_whole_history(timescale_url: str) -> None:
    """History present at the upgrade, then a backfill older than the policy's window: after the
    refreshes and a policy run, the aggregate holds every day the raw points have."""
    upgrade(timescale_url, REQUIRE)
    add_history(timescale_url, days=30)
    upgrade(timescale_url, REQUIRE)  # an upgrade refreshes what is not materialised yet
    run_job(timescale_url, "policy_refresh_continuous_aggregate")
    expected = raw_daily(timescale_url)
    assert len(expected) == 2 * 30
    assert daily(timescale_url) == expected
    assert daily(timescale_url, materialised_only=True) == expected

    add_history(timescale_url, days=20, offset_days=40)  # a backfill of older history
    assert refresh_daily(timescale_url)
    run_job(timescale_url, "policy_refresh_continuous_aggregate")
    expected = raw_daily(timescale_url)
    assert len(expected) == 2 * 50
    assert daily(timescale_url, materialised_only=True) == expected


def test_retention_never_drops_what_the_aggregate_lacks(timescale_url: str) -> None:
    """Retention drops raw chunks past its horizon only after materialising them: points
    written there without a refresh (a backfill that stopped before it) stay in the aggregate
    once their raw chunks are gone."""
    upgrade(timescale_url, StoreOptions(timescaledb="require", telemetry_retention_days=20))
    add_history(timescale_url, days=30, vehicles=1, offset_days=1)  # no refresh after it
    expected = raw_daily(timescale_url)
    assert len(expected) == 30
    run_job(timescale_url, "pogo_telemetry_retention")
    with psycopg.connect(timescale_url) as conn:
        oldest = conn.execute("SELECT min(ts) > now() - INTERVAL '21 days' FROM telemetry")
        assert oldest.fetchone() == (True,)
    assert daily(timescale_url) == expected


def plan_relations(url: str, query: str, params: dict[str, object]) -> list[str]:
    """Every relation a query's plan reads (EXPLAIN, no execution)."""
    with psycopg.connect(url) as conn:
        plan = conn.execute("EXPLAIN (FORMAT JSON) " + query, params).fetchone()[0]  # type: ignore[index]
    found: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        if "Relation Name" in node:
            found.append(node["Relation Name"])
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return found


def test_trip_builder_reads_new_chunks_only(timescale_url: str) -> None:
    """With 30 days of history compressed, the builder's search for new arrivals reads no
    compressed chunk and only the chunks the ingester's age limit allows: it grows with new
    data, not with history."""
    upgrade(timescale_url, REQUIRE)
    add_history(timescale_url, days=30, vehicles=2, offset_days=1)
    with psycopg.connect(timescale_url, autocommit=True) as conn:
        conn.execute(
            "SELECT compress_chunk(c) FROM show_chunks('telemetry',"
            " older_than => now() - INTERVAL '8 days') c"
        )
        conn.execute(
            "INSERT INTO trip_watermarks (vehicle_key, closed_until, received_until)"
            " SELECT vehicle_key, now() - INTERVAL '2 days', now() - INTERVAL '2 days'"
            " FROM vehicles"
        )
        conn.execute("ANALYZE telemetry")
        chunks = conn.execute("SELECT count(*) FROM show_chunks('telemetry')").fetchone()
        assert chunks is not None and chunks[0] >= 30
        params = queries.new_arrivals_params(conn, margin_s=120, max_age_s=3 * 86_400)
        whole = queries.new_arrivals_params(conn, margin_s=120, max_age_s=None)
    bounded = plan_relations(timescale_url, queries.NEW_ARRIVALS, params)
    read = [r for r in bounded if r.startswith("_hyper_") or "compress" in r]
    assert not [r for r in read if "compress" in r], read
    assert len(read) <= 7, read  # 3 days of age + the margin, in daily chunks
    unbounded = plan_relations(timescale_url, queries.NEW_ARRIVALS, whole)
    assert any("compress" in r for r in unbounded)  # what the bound saves


def test_a_rebuild_in_time_slices_over_compressed_chunks(timescale_url: str) -> None:
    """A simulated city stored in a hypertable, its daily chunks compressed (each vehicle's
    fixes in descending time): the build in time slices of 500 fixes equals, to the row, the
    build in one read; each slice's plan reads only the chunks of its own stretch of time; an
    analysed rebuild in slices changes nothing."""
    upgrade(timescale_url, REQUIRE)
    store_city(timescale_url, days=3.0, vehicles=4)
    columns = ", ".join(queries.TRIP_COLUMNS)
    with psycopg.connect(timescale_url, autocommit=True) as conn:
        compressed = conn.execute(
            "SELECT count(compress_chunk(c)) FROM show_chunks('telemetry') c"
        ).fetchone()
        assert compressed is not None and compressed[0] >= 3
        now = CITY_START + timedelta(days=4)
        profile = PROFILES["ams-iii-c"]
        build_trips(timescale_url, TripRules(), profile, now=now)
        whole = conn.execute(f"SELECT {columns} FROM trips ORDER BY 1, 5").fetchall()
        conn.execute("TRUNCATE trips, trip_watermarks, vehicle_state, battery_health")
        small = TripRules(max_fixes_per_batch=500)
        report = build_trips(timescale_url, small, profile, now=now)
        stored = conn.execute("SELECT count(*) FROM telemetry").fetchone()
        assert stored is not None and report.fixes == stored[0] and len(whole) > 30
        assert conn.execute(f"SELECT {columns} FROM trips ORDER BY 1, 5").fetchall() == whole
        conn.execute("ANALYZE telemetry")
        again = build_trips(timescale_url, small, profile, now=now, rebuild=True)
        assert again.changed == 0
        keys = [r[0] for r in conn.execute("SELECT vehicle_key FROM vehicles")]
    day = CITY_START + timedelta(days=1)
    inner = queries.COPY_FIX_SLICE.split("COPY (", 1)[1].rsplit(") TO STDOUT", 1)[0]
    inner = inner.replace("%s", "%(lo)s", 1).replace("%s", "%(hi)s", 1).replace("%s", "%(v)s", 1)
    read = plan_relations(
        timescale_url, inner, {"lo": day, "hi": day + timedelta(hours=6), "v": keys}
    )
    assert 1 <= len({r for r in read if r.startswith(("_hyper_", "compress_hyper_"))}) <= 2, read
