"""When rides are wanted, and by whom: the hourly, weekly and seasonal demand, and the riders.

Local time is Morocco's UTC+1 (the Ramadan switch to UTC+0 is not modelled). The profiles
are relative weights, each normalised to a mean of one, so the scenario's ``trips_per_day`` is
the fleet's mean over a year.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from simulators.config import ScenarioConfig

__all__ = [
    "HOURLY",
    "MONTHLY",
    "WEEKLY",
    "expected_distinct_riders",
    "hourly_intensity",
    "rider_weights",
]

F64 = npt.NDArray[np.float64]

# Trips by local hour: students and staff to UM6P in the morning, lunch, the evening peak.
_HOURLY = np.array(
    [
        0.15,
        0.08,
        0.05,
        0.04,
        0.05,
        0.15,
        0.45,
        1.10,
        1.60,
        1.30,
        1.05,
        1.10,
        1.45,
        1.50,
        1.25,
        1.15,
        1.30,
        1.60,
        1.75,
        1.55,
        1.20,
        0.90,
        0.60,
        0.30,
    ]
)
HOURLY: F64 = _HOURLY / _HOURLY.mean()
# Monday .. Sunday: weekdays busier, Friday's prayer and the weekend calmer.
_WEEKLY = np.array([1.06, 1.06, 1.06, 1.06, 0.96, 0.92, 0.88])
WEEKLY: F64 = _WEEKLY / _WEEKLY.mean()
# January .. December: the summer break and the heat empty the campus.
_MONTHLY = np.array([1.00, 1.03, 1.06, 1.06, 1.08, 0.95, 0.72, 0.66, 0.96, 1.10, 1.14, 1.04])
_MONTH_DAYS = np.array([31, 28.25, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
MONTHLY: F64 = _MONTHLY / np.average(_MONTHLY, weights=_MONTH_DAYS)


def hourly_intensity(config: ScenarioConfig) -> tuple[F64, F64]:
    """Expected trips in each hour of the window, and each hour's start (s since start).

    Returns ``(expected, starts)``, both of shape ``(ceil(days * 24),)``; the last hour may be
    partial and its expectation is scaled by the part inside the window.
    """
    horizon = config.days * 86_400.0
    starts = np.arange(0.0, horizon, 3600.0)
    start_ms = np.datetime64(config.start.replace(tzinfo=None), "ms")
    local = (
        start_ms
        + (starts * 1000).astype("timedelta64[ms]")
        + np.timedelta64(int(config.utc_offset_h * 3_600_000), "ms")
    )
    hour = (local.astype("datetime64[h]").astype(np.int64)) % 24
    day = local.astype("datetime64[D]").astype(np.int64)
    weekday = (day + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0
    month = local.astype("datetime64[M]").astype(np.int64) % 12
    per_hour = config.trips_per_day / 24.0
    length = np.minimum(horizon - starts, 3600.0) / 3600.0
    expected = per_hour * HOURLY[hour] * WEEKLY[weekday] * MONTHLY[month] * length
    return expected, starts


def rider_weights(config: ScenarioConfig) -> F64:
    """How often each rider of the population rides (relative weights, summing to one).

    Activity is lognormal (a few daily commuters, many occasional riders). The population's
    size is solved so that ``trips_per_day * calibration_days`` trips reach ``riders_target``
    distinct riders in expectation. Deterministic for a seed.
    """
    rng = np.random.default_rng([config.seed, 0x5249])
    pool = np.exp(config.rider_activity_sigma * rng.standard_normal(400_000))
    trips = config.trips_per_day * config.calibration_days
    target = min(config.riders_target, 0.95 * trips)
    low, high = max(1, int(target)), pool.size
    while high - low > 1:  # bisection over the population size
        mid = (low + high) // 2
        if expected_distinct_riders(pool[:mid] / pool[:mid].sum(), trips) < target:
            low = mid
        else:
            high = mid
    weights = pool[:high]
    return weights / weights.sum()  # type: ignore[no-any-return]


def expected_distinct_riders(weights: F64, trips: float) -> float:
    """Expected number of distinct riders among ``trips`` independent draws by ``weights``."""
    return float(np.sum(-np.expm1(trips * np.log1p(-np.minimum(weights, 1 - 1e-12)))))
