"""The odometer check of a trip's GPS distance (the haversine itself: the module's examples)."""

from __future__ import annotations

import numpy as np
import pytest

from fleet.distance import odometer_check
from fleet.rules import TripRules

RULES = TripRules()


def test_odometer_disagreement_is_flagged() -> None:
    """A GPS distance 40 % off the odometer's is flagged; 4 % is not; no odometer, no flag."""
    odo, flagged = odometer_check(
        [5.0, 5.2, 5.0], [100.0, 100.0, np.nan], [105.0, 103.0, np.nan], RULES
    )
    assert flagged.tolist() == [False, True, False]
    assert odo[0] == pytest.approx(5.0)
    assert np.isnan(odo[2])
