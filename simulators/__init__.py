"""Device and fleet simulators: the Benguerir scenario, faults, load, ground truth.

The public surface::

    from simulators import benguerir, simulate, received, write_truth, read_truth

    sim = simulate(benguerir(seed=7, days=30))
    sim.points     # every point as transmitted (POINT_DTYPE), faults included
    sim.events     # ride_start/ride_end/charge_start/charge_end/fault (EVENT_DTYPE)
    sim.truth      # every true ride (TRUTH_DTYPE)
    sim.malformed  # the bad payloads the devices send (MALFORMED_DTYPE)
    sim.vehicles   # fleet, vehicle, battery_kwh
    received(sim)  # the history as the ingester would receive it, chunk by chunk (arrays)
    publish(sim, MqttTarget(host, port, root="pogo/v1"), mode="binary", speedup=60)
    load(config, MqttTarget(...), processes=2)  # flat out, for the ingest benchmark
"""

from simulators.backfill import Received, received
from simulators.config import FaultRates, ScenarioConfig, benguerir
from simulators.errors import PublishError, ScenarioError, SimulatorError
from simulators.load import LoadCounts, load
from simulators.publish import MqttTarget, PublishCounts, live_start, publish
from simulators.render import (
    EVENT_DTYPE,
    FLAG_BUFFERED,
    FLAG_DUPLICATE,
    FLAG_MULTIPATH,
    FLAG_OUT_OF_ORDER,
    FLAG_SKEWED,
    MALFORMED_DTYPE,
    POINT_DTYPE,
    STATE_CHARGING,
    STATE_PARKED,
    STATE_RIDING,
    TRUTH_DTYPE,
    Rendered,
)
from simulators.simulation import VEHICLE_DTYPE, Simulation, simulate
from simulators.truth import read_truth, write_truth

__all__ = [
    "EVENT_DTYPE",
    "FLAG_BUFFERED",
    "FLAG_DUPLICATE",
    "FLAG_MULTIPATH",
    "FLAG_OUT_OF_ORDER",
    "FLAG_SKEWED",
    "MALFORMED_DTYPE",
    "POINT_DTYPE",
    "STATE_CHARGING",
    "STATE_PARKED",
    "STATE_RIDING",
    "TRUTH_DTYPE",
    "VEHICLE_DTYPE",
    "FaultRates",
    "LoadCounts",
    "MqttTarget",
    "PublishCounts",
    "PublishError",
    "Received",
    "Rendered",
    "ScenarioConfig",
    "ScenarioError",
    "Simulation",
    "SimulatorError",
    "benguerir",
    "live_start",
    "load",
    "publish",
    "read_truth",
    "received",
    "simulate",
    "write_truth",
]
