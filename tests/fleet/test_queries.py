"""The trip builder's read of telemetry (``fleet.queries.copy_fixes``) against a real
PostgreSQL: the same fixes as the obvious ordered read, on a stored simulated city."""

from __future__ import annotations

from typing import Any

import numpy as np
from psycopg import sql

from fleet import queries
from tests.fleet._reference import ordered_fixes
from tests.fleet.builders import CITY_START, store_city

START_MS = int(CITY_START.timestamp() * 1000)


def test_the_fixes_read_as_arrays_are_those_of_the_ordered_read(db_url: str, db: Any) -> None:
    """Every vehicle of a stored simulated city (some fixes without speed, HDOP, SoC,
    odometer or voltage) from a bound of its own, plus a vehicle with no fixes after its
    bound: every column, NaN where the store holds NULL, in (vehicle, time) order, equals the
    row-by-row ordered read."""
    store_city(db_url)
    nulls = (("speed_kmh", 7), ("hdop", 11), ("soc_pct", 13), ("odometer_km", 17))
    for column, every in (*nulls, ("voltage_v", 19)):
        db.execute(
            sql.SQL(
                "UPDATE telemetry SET {} = NULL WHERE extract(epoch FROM ts)::bigint % {} = 0"
            ).format(sql.Identifier(column), sql.Literal(every))
        )
    keys = [r[0] for r in db.execute("SELECT vehicle_key FROM vehicles ORDER BY 1")]
    since = [START_MS + i * 3_600_000 for i in range(len(keys))]
    since[-1] = START_MS + 400 * 86_400_000  # after its last fix: no row
    got = queries.copy_fixes(db, keys, since)
    expected = ordered_fixes(db, keys, since)
    assert len(expected["t_ms"]) > 10_000
    for name in ("speed_kmh", "hdop", "soc_pct", "odometer_km", "power_w"):
        assert np.isnan(expected[name]).any(), name
    assert np.isfinite(expected["power_w"]).mean() > 0.9  # voltage times current, where both
    assert keys[-1] not in set(got["vehicle"].tolist())
    assert set(got) == set(expected)
    for name, values in expected.items():
        assert got[name].dtype == values.dtype, name
        np.testing.assert_array_equal(got[name], values, err_msg=name)


def test_no_fixes_read_as_empty_columns(db_url: str, db: Any) -> None:
    """Vehicles without telemetry give empty columns of the documented dtypes."""
    got = queries.copy_fixes(db, [1, 2], [0, 0])
    assert all(len(v) == 0 for v in got.values())
    assert got["vehicle"].dtype == np.int64 and got["lat"].dtype == np.float64
