"""Ground truth on disk: every true ride, as CSV (for people) or .npz (for programs).

CSV columns, in order: ``fleet, vehicle, ride_id, rider, start_ts, end_ts, distance_km,
energy_kwh, start_zone, end_zone, start_lat, start_lon, end_lat, end_lon, harsh_braking,
harsh_acceleration, battery_kwh`` (the pack's true usable capacity during the ride); times
are RFC 3339 UTC with milliseconds (``2024-01-01T07:21:09.717Z``), distances km, energy kWh,
zones the ids of ``fleet/data/benguerir_zones.geojson`` (empty outside every zone). ``.npz``
holds one array ``truth`` of :data:`simulators.render.TRUTH_DTYPE`. The suffix of the path chooses.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from simulators.errors import SimulatorError
from simulators.render import TRUTH_DTYPE

if TYPE_CHECKING:
    from simulators.simulation import Simulation

__all__ = ["read_truth", "write_truth"]

_COLUMNS = (
    "fleet",
    "vehicle",
    "ride_id",
    "rider",
    "start_ts",
    "end_ts",
    "distance_km",
    "energy_kwh",
    "start_zone",
    "end_zone",
    "start_lat",
    "start_lon",
    "end_lat",
    "end_lon",
    "harsh_braking",
    "harsh_acceleration",
    "battery_kwh",
)


def write_truth(sim: Simulation | np.ndarray, path: str | Path) -> Path:
    """Write the ground truth of ``sim`` (or a truth array) to ``path`` (.csv or .npz)."""
    truth = sim if isinstance(sim, np.ndarray) else sim.truth
    path = Path(path)
    if path.suffix == ".npz":
        np.savez_compressed(path, truth=truth)
        return path
    if path.suffix != ".csv":
        raise SimulatorError(f"truth path {str(path)!r} must end in .csv or .npz")
    columns = [truth[name] for name in _COLUMNS]
    for i, name in enumerate(_COLUMNS):
        if name.endswith("_ts"):
            columns[i] = np.char.add(np.datetime_as_string(truth[name], unit="ms"), "Z")
        elif truth.dtype[name].kind == "f":
            digits = 7 if name.endswith(("lat", "lon")) else 6
            columns[i] = np.char.mod(f"%.{digits}f", truth[name])
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(_COLUMNS)
        writer.writerows(zip(*columns, strict=True))
    return path


def read_truth(path: str | Path) -> np.ndarray:
    """Read ground truth written by :func:`write_truth` (array of ``TRUTH_DTYPE``)."""
    path = Path(path)
    if path.suffix == ".npz":
        with np.load(path) as data:
            return np.asarray(data["truth"], dtype=TRUTH_DTYPE)
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if not rows or tuple(rows[0]) != _COLUMNS:
        raise SimulatorError(f"{str(path)!r} is not a ground-truth CSV (header {rows[:1]})")
    body = rows[1:]
    out = np.empty(len(body), dtype=TRUTH_DTYPE)
    if not body:
        return out
    columns = list(zip(*body, strict=True))
    for name, values in zip(_COLUMNS, columns, strict=True):
        if name.endswith("_ts"):
            out[name] = np.array([v.rstrip("Z") for v in values], dtype="datetime64[ms]")
        else:
            out[name] = np.array(values).astype(TRUTH_DTYPE[name])
    return out
