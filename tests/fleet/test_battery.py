"""Energy per trip from the state of charge."""

from __future__ import annotations

import numpy as np
import pytest

from fleet.battery import energy_kwh


def test_energy_from_soc_never_counts_charging() -> None:
    """Energy is the SoC drop times capacity; a rising SoC gives 0, not negative energy."""
    e = energy_kwh([80.0, 40.0, np.nan], [70.0, 45.0, 30.0], [2.3, 2.3, 2.3])
    assert e[0] == pytest.approx(0.23)
    assert e[1] == 0.0
    assert np.isnan(e[2])
