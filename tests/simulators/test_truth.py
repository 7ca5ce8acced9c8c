"""simulators/truth.py: ground truth written and read back, as CSV and as .npz."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from simulators import SimulatorError, read_truth, simulate, write_truth
from tests.simulators.builders import scenario


def test_npz_round_trip_is_exact(tmp_path: Path) -> None:
    """.npz keeps every field exactly."""
    sim = simulate(scenario(days=1))
    back = read_truth(write_truth(sim, tmp_path / "truth.npz"))
    assert np.array_equal(back, sim.truth)


def test_csv_round_trip(tmp_path: Path) -> None:
    """CSV keeps ids, times, zones and harsh event counts exactly, and distances to a
    millimetre."""
    sim = simulate(scenario(days=1))
    path = write_truth(sim, tmp_path / "truth.csv")
    back = read_truth(path)
    assert path.read_text().splitlines()[0].startswith("fleet,vehicle,ride_id,rider,start_ts")
    names = ("vehicle", "ride_id", "rider", "start_ts", "end_ts", "start_zone", "end_zone")
    for name in (*names, "harsh_braking", "harsh_acceleration"):
        assert np.array_equal(back[name], sim.truth[name])
    assert np.allclose(back["distance_km"], sim.truth["distance_km"], atol=1e-6)
    assert np.allclose(back["battery_kwh"], sim.truth["battery_kwh"], atol=1e-6)


def test_other_suffix_refused(tmp_path: Path) -> None:
    """A path that is neither .csv nor .npz is refused with its name."""
    with pytest.raises(SimulatorError, match=r"truth\.txt"):
        write_truth(simulate(scenario(days=1)), tmp_path / "truth.txt")
