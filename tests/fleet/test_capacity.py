"""fleet/capacity.py: capacity samples from fixes, Plett's AWTLS, the builder's battery health."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from fleet import TripRules, build_trips
from fleet.capacity import Health, Samples, add_samples, advance, estimate, samples
from fleet.errors import TrackError
from pogo.backfill import backfill
from simulators import benguerir, simulate
from tests.fixtures.settings import TEST_RIDER_KEY

RULES = TripRules()


def _samples(x: NDArray[np.float64], y: NDArray[np.float64], vx: float, vy: float) -> Samples:
    """One vehicle's samples with the same variances each."""
    n = x.size
    index = np.arange(n, dtype=np.int64)
    return Samples(np.zeros(n, np.int64), index, index, x, y, np.full(n, vx), np.full(n, vy), x > 0)


def _fit(s: Samples) -> tuple[float, float]:
    """AWTLS capacity and standard error of one vehicle's samples."""
    e = estimate(add_samples(np.array([0]), np.zeros((1, 9)), s))
    return float(e.capacity_kwh[0]), float(e.stderr_kwh[0])


def test_awtls_is_exact_without_noise_and_matches_the_exact_wtls_minimum() -> None:
    """Noise-free samples give the capacity exactly; with noise whose ratio is the same in
    every sample (where Plett's approximation is exact), the estimate is the minimum of the
    weighted total least squares cost found by brute force."""
    x = np.array([-0.04, -0.07, 0.55, -0.03, 0.8, -0.12])
    assert _fit(_samples(x, 2.4 * x, 1e-5, 1e-6))[0] == pytest.approx(2.4, rel=1e-9)
    rng = np.random.default_rng(7)
    vx, vy = 4e-5, 2e-5
    xn = x + rng.normal(0, vx**0.5, x.size)
    yn = 2.4 * x + rng.normal(0, vy**0.5, x.size)
    grid = np.linspace(1.5, 3.5, 200_001)
    cost = ((yn[:, None] - grid * xn[:, None]) ** 2 / (vy + grid**2 * vx)).sum(axis=0)
    assert _fit(_samples(xn, yn, vx, vy))[0] == pytest.approx(grid[np.argmin(cost)], abs=2e-5)


def test_awtls_is_unbiased_where_ordinary_least_squares_is_not() -> None:
    """Rides move the SoC a few percent and the SoC reading is off by about 1 %: ordinary
    least squares of energy on SoC change comes out several percent low (noise in x
    flattens the slope), AWTLS within a fraction of a percent, over 200 simulated months of
    150 rides; its standard error matches the estimates' spread."""
    rng = np.random.default_rng(11)
    q, sx, sy = 2.5, 0.01, 0.003
    awtls, ols, errors = [], [], []
    for _ in range(200):
        x = -rng.uniform(0.03, 0.08, 150)
        xn = x + rng.normal(0, sx, x.size)
        yn = q * x + rng.normal(0, sy, x.size)
        fit, se = _fit(_samples(xn, yn, sx * sx, sy * sy))
        awtls.append(fit)
        errors.append(se)
        ols.append(float((xn * yn).sum() / (xn * xn).sum()))
    assert np.mean(ols) / q - 1 < -0.03
    assert abs(np.mean(awtls) / q - 1) < 0.005
    assert np.std(awtls) == pytest.approx(np.mean(errors), rel=0.2)


def test_samples_are_runs_of_rides_and_charges() -> None:
    """A run ends at a gap, a change of the power's sign, a missing SoC and a new vehicle;
    its SoC change and counted energy have the pack's sign convention (both negative on a
    ride); runs of too little SoC change are no samples."""
    t = np.array([0, 5, 10, 15, 200, 260, 320, 380, 385, 0, 5], dtype=np.int64) * 1000
    veh = np.array([1] * 9 + [2] * 2, dtype=np.int64)
    soc = np.array([80, 79, 78, 77, 77, 78, 79, 80, np.nan, 50, 40], dtype=np.float64)
    power = np.array([3600.0] * 4 + [-1440.0] * 4 + [100.0, 7200.0, 7200.0])
    s = samples(
        veh,
        t,
        soc,
        power,
        soc_sigma_pct=0.5,
        power_sigma_w=30.0,
        max_step_s=90.0,
        min_soc_change_pct=2.0,
    )
    assert s.vehicle.tolist() == [1, 1, 2]
    assert s.start.tolist() == [0, 4, 9] and s.end.tolist() == [3, 7, 10]
    assert s.charging.tolist() == [False, True, False]
    assert s.x.tolist() == pytest.approx([-0.03, 0.03, -0.10])
    assert s.y.tolist() == pytest.approx([-0.015, 0.072, -0.01])
    assert (s.var_x > 0).all() and (s.var_y > 0).all()
    with pytest.raises(TrackError, match="sorted"):
        samples(
            veh[::-1],
            t,
            soc,
            power,
            soc_sigma_pct=1,
            power_sigma_w=1,
            max_step_s=1,
            min_soc_change_pct=1,
        )


def _fixes(seed: int = 3) -> dict[str, NDArray[Any]]:
    """A simulated week of three vehicles as sorted fixes (vehicle keys 1-3)."""
    sim = simulate(benguerir(seed=seed, days=7, vehicles=3, health_low_pct=80, faults=False))
    p = sim.points[np.lexsort((sim.points["ts"], sim.points["vehicle_index"]))]
    return {
        "vehicle": p["vehicle_index"].astype(np.int64) + 1,
        "t_ms": p["ts"].astype(np.int64),
        "soc": p["soc_pct"].astype(np.float64),
        "power": p["voltage_v"].astype(np.float64) * p["current_a"].astype(np.float64),
    }


def _fresh(vehicles: NDArray[np.int64]) -> Health:
    v = vehicles.size
    return Health(vehicles, np.full(v, -1), np.full(v, -1), np.zeros((v, 9)))


def test_advance_counts_each_run_once_however_the_builds_fall() -> None:
    """Counting a week in one build or in many (each build reading from its watermark less
    some context, or from the start of a run still going) gives the same sums: runs going on
    at a watermark are counted once, later, whole; refeeding counted fixes adds nothing."""
    f = _fixes()
    keys = np.array([1, 2, 3], dtype=np.int64)
    end = int(f["t_ms"].max()) + 1
    whole = advance(
        _fresh(keys), f["vehicle"], f["t_ms"], f["soc"], f["power"], np.full(3, end), RULES
    )
    assert (whole.sums[:, 0] > 20).all()
    state = _fresh(keys)
    t0 = int(f["t_ms"].min())
    for until in [*np.linspace(t0 + 3_600_000, end - 1, 37).astype(np.int64).tolist(), end]:
        since = np.where(state.open_from_ms >= 0, state.open_from_ms, state.sampled_until_ms)
        since = np.minimum(since, state.sampled_until_ms - 600_000)
        pick = (f["t_ms"] >= since[f["vehicle"] - 1]) & (f["t_ms"] <= until)
        state = advance(
            state,
            f["vehicle"][pick],
            f["t_ms"][pick],
            f["soc"][pick],
            f["power"][pick],
            np.full(3, until),
            RULES,
        )
    assert np.allclose(state.sums, whole.sums, rtol=1e-12)
    again = advance(state, f["vehicle"], f["t_ms"], f["soc"], f["power"], np.full(3, end), RULES)
    assert np.array_equal(again.sums, state.sums)


@pytest.mark.slow
def test_a_simulated_month_gives_each_packs_health_within_3_points(db_url: str, db: Any) -> None:
    """Four vehicles whose packs hold 76-100 % of the rated capacity, fading 3 points a year,
    with the SoC read 0.5 % off and every device fault on: after a month through the store
    and the trip builder, each vehicle's estimated SoH is within 3 percentage points of its
    true capacity at the end of the month, the 95 % interval is stated, and a second build
    changes nothing."""
    config = benguerir(
        seed=21,
        days=30,
        vehicles=4,
        health_low_pct=76,
        health_high_pct=100,
        capacity_fade_pct_per_year=3.0,
        soc_sigma_pct=0.5,
    )
    sim = simulate(config)
    backfill(db_url, sim, TEST_RIDER_KEY)
    now = config.start + timedelta(days=31)
    build_trips(db_url, RULES, now=now)
    query = """
        SELECT v.vehicle, h.capacity_kwh, h.stderr_kwh, h.rated_kwh, h.samples, h.method
        FROM battery_health h JOIN vehicles v USING (vehicle_key) ORDER BY v.vehicle
    """
    rows = db.execute(query).fetchall()
    assert [r[0] for r in rows] == config.vehicle_ids
    truth = sim.truth
    for vehicle, capacity, stderr, rated, count, method in rows:
        true = truth["battery_kwh"][truth["vehicle"] == vehicle][-1]
        assert rated == config.battery_kwh and method == "awtls-plett-2011"
        assert count > 100
        assert abs(capacity - true) / rated * 100 < 3.0, (vehicle, capacity, true)
        assert 0 < stderr < 0.02 * rated
    spread = truth["battery_kwh"].max() - truth["battery_kwh"].min()
    assert spread > 0.05 * config.battery_kwh  # the packs really differ
    build_trips(db_url, RULES, now=now + timedelta(hours=1))
    assert db.execute(query).fetchall() == rows


_HEALTH = "SELECT vehicle_key, samples, xx_y, xy_y, yy_y, xx_x, xy_x, yy_x FROM battery_health"


def test_builds_as_telemetry_arrives_count_what_one_build_counts(db_url: str, db: Any) -> None:
    """Telemetry arriving in pieces cut in the middle of rides and overnight charges, the
    builder run after each piece (at the piece's time): the battery-health sums end equal to
    those of one build over everything, and every open run is read whole."""
    config = benguerir(seed=8, days=4, vehicles=3, health_low_pct=80, faults=False)
    sim = simulate(config)
    backfill(db_url, sim, TEST_RIDER_KEY)
    db.execute("CREATE TABLE held AS SELECT * FROM telemetry")
    db.execute("TRUNCATE telemetry")
    db.commit()
    plan = sim.plan
    charges = np.flatnonzero(plan.charge_after & (plan.vehicle == 0))[:3]
    rides = np.flatnonzero(plan.vehicle == 1)[[2, 5, 9]]
    middles = np.concatenate(
        [
            (plan.charge_start_s[charges] + plan.charge_end_s[charges]) / 2,
            (plan.start_s[rides] + plan.end_s[rides]) / 2,
            [config.days * 86_400.0 + 60],
        ]
    )
    cuts = [config.start + timedelta(seconds=float(m)) for m in np.sort(middles)]
    opened, before = 0, config.start
    for cut in cuts:  # each piece received after the last build
        piece = (before, cut)
        db.execute(
            "UPDATE held SET received_at = clock_timestamp() WHERE ts >= %s AND ts < %s", piece
        )
        db.execute("INSERT INTO telemetry SELECT * FROM held WHERE ts >= %s AND ts < %s", piece)
        db.commit()
        before = cut
        build_trips(db_url, RULES, now=cut + timedelta(seconds=30))
        row = db.execute("SELECT count(open_from) FROM battery_health").fetchone()
        opened += int(row[0]) if row else 0
    pieces = sorted(db.execute(_HEALTH).fetchall())
    db.execute("DELETE FROM battery_health")
    db.commit()
    build_trips(db_url, RULES, now=cuts[-1] + timedelta(seconds=30), rebuild=True)
    whole = sorted(db.execute(_HEALTH).fetchall())
    assert opened > 0 and len(whole) == 3 and all(r[1] > 10 for r in whole)
    assert [r[:2] for r in pieces] == [r[:2] for r in whole]
    assert np.allclose(np.array(pieces)[:, 2:], np.array(whole)[:, 2:], rtol=1e-9)


def test_the_builder_requires_the_battery_health_table(db_url: str, db: Any) -> None:
    """A schema without migration 0080 is refused with the upgrade to run."""
    from fleet.errors import TripBuildError

    db.execute("DROP TABLE battery_health")
    db.commit()
    with pytest.raises(TripBuildError, match="pogo db upgrade"):
        build_trips(db_url, RULES, now=datetime(2024, 1, 2, tzinfo=UTC))
