"""``simulate(config)``: the scenario's plan, rendered to points, events and ground truth."""

from __future__ import annotations

import functools
from collections.abc import Iterator

import numpy as np

from simulators.config import ScenarioConfig
from simulators.plan import Plan, plan
from simulators.render import Rendered, render

__all__ = ["VEHICLE_DTYPE", "Simulation", "simulate"]

VEHICLE_DTYPE = np.dtype([("fleet", "U16"), ("vehicle", "U16"), ("battery_kwh", "f8")])


class Simulation:
    """A simulated fleet over the config's window.

    ``truth``, ``events`` and ``vehicles`` are cheap (the schedule); ``points`` and
    ``malformed`` render the whole window on first use (about 1 M points a month for 40
    vehicles). :meth:`chunks` renders the window piece by piece for long runs; the pieces
    concatenated hold the same points as ``points`` (each point's noise is a function of its
    vehicle and time, not of the chunking).
    """

    def __init__(self, config: ScenarioConfig) -> None:
        self.config = config
        self.plan: Plan = plan(config)

    @property
    def horizon_s(self) -> float:
        """The window's length in seconds."""
        return self.config.days * 86_400.0

    @functools.cached_property
    def _whole(self) -> Rendered:
        return render(self.plan, 0.0, self.horizon_s + 1.0)

    @property
    def points(self) -> np.ndarray:
        """Every point as transmitted (``render.POINT_DTYPE``), in order of ``sent_ts``."""
        return self._whole.points

    @property
    def malformed(self) -> np.ndarray:
        """The bad payloads the devices send (``render.MALFORMED_DTYPE``)."""
        return self._whole.malformed

    @functools.cached_property
    def events(self) -> np.ndarray:
        """Ride, charge and fault events (``render.EVENT_DTYPE``), by vehicle and time."""
        return render_events(self)

    @functools.cached_property
    def truth(self) -> np.ndarray:
        """Every true ride (``render.TRUTH_DTYPE``), by vehicle and start."""
        from simulators.render import _truth

        return _truth(self.plan, np.arange(self.plan.rides))

    @functools.cached_property
    def vehicles(self) -> np.ndarray:
        """The fleet: ``fleet``, ``vehicle`` id and ``battery_kwh``."""
        out = np.empty(self.config.vehicles, dtype=VEHICLE_DTYPE)
        out["fleet"] = self.config.fleet
        out["vehicle"] = self.config.vehicle_ids
        out["battery_kwh"] = self.config.battery_kwh
        return out

    def chunks(self, days: float = 7.0) -> Iterator[Rendered]:
        """Render the window ``days`` at a time (rides and spells by the chunk they start in)."""
        seq = np.zeros(self.config.vehicles, dtype=np.int64)
        step = days * 86_400.0
        w0 = 0.0
        while w0 <= self.horizon_s:
            w1 = w0 + step if w0 + step <= self.horizon_s else self.horizon_s + 1.0
            piece = render(self.plan, w0, w1, seq)
            seq = piece.seq_next
            yield piece
            w0 = w1


def render_events(sim: Simulation) -> np.ndarray:
    """All events of the window, without rendering points."""
    from simulators.render import _events

    return _events(sim.plan, np.arange(sim.plan.rides), 0.0, sim.horizon_s + 1.0)


def simulate(config: ScenarioConfig) -> Simulation:
    """Plan the scenario (points are rendered when first asked for)."""
    return Simulation(config)
