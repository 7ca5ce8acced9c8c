"""The service's Prometheus metrics: fleet figures read from the database at scrape time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import structlog
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from fleet.alerts import KINDS

__all__ = ["SOH_BUCKETS", "STATES", "FleetCollector", "new_registry"]

log = structlog.get_logger("city.metrics")

STATES = ("riding", "parked", "charging", "offline")
SOH_BUCKETS = ("0-70", "70-80", "80-90", "90+", "unknown")
"""Battery state-of-health buckets (% of the rated capacity; unknown: no estimate yet)."""

Reader = Callable[[], dict[str, Any]]


class FleetCollector(Collector):
    """Yields the fleet gauges from ``read()``, called at every scrape.

    ``read`` returns the row of :func:`city.queries.fleet_gauges`. When the database cannot be
    read, only ``pogo_service_database_up 0`` is exposed, so a scrape never fails.
    """

    def __init__(self, read: Reader) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "pogo_service_database_up", "1 when the service read the database at this scrape."
        )
        try:
            row = self._read()
        except (psycopg.Error, TimeoutError) as exc:
            log.warning("metrics_read_failed", error=str(exc))
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        vehicles = GaugeMetricFamily(
            "pogo_vehicles", "Vehicles by state (vehicle_state table).", labels=["state"]
        )
        states = row["states"] or {}
        for state in STATES:
            vehicles.add_metric([state], float(states.get(state, 0)))
        yield vehicles
        yield GaugeMetricFamily(
            "pogo_vehicles_low_battery",
            "Vehicles whose last state of charge is below the low-battery threshold.",
            value=float(row["low_battery"]),
        )
        yield CounterMetricFamily("pogo_trips", "Trips built.", value=float(row["trips"]))
        yield CounterMetricFamily(
            "pogo_trip_distance_km", "Kilometres of the trips built.", value=row["distance_km"]
        )
        yield CounterMetricFamily(
            "pogo_trip_energy_kwh", "Battery energy of the trips built (kWh).", row["energy_kwh"]
        )
        yield CounterMetricFamily(
            "pogo_co2_avoided_kg", "CO2 avoided by the trips built (kg).", row["co2_avoided_kg"]
        )
        open_alerts = GaugeMetricFamily(
            "pogo_alerts_open", "Fleet alerts open, by kind (alerts table).", labels=["kind"]
        )
        by_kind = row["alerts_open"] or {}
        for kind in KINDS:
            open_alerts.add_metric([kind], float(by_kind.get(kind, 0)))
        yield open_alerts
        yield GaugeMetricFamily(
            "pogo_alert_deliveries_waiting",
            "Alert transitions not yet delivered to the webhook (the outbox).",
            value=float(row["alert_deliveries_waiting"]),
        )
        health = GaugeMetricFamily(
            "pogo_vehicles_battery_health",
            "Vehicles by battery state-of-health bucket (% of rated capacity, battery_health).",
            labels=["bucket"],
        )
        by_bucket = row["battery_health"] or {}
        for bucket in SOH_BUCKETS:
            health.add_metric([bucket], float(by_bucket.get(bucket, 0)))
        yield health
        if row["trip_builder_last_run"] is not None:
            yield GaugeMetricFamily(
                "pogo_trip_builder_last_run_timestamp_seconds",
                "When the trip builder last recorded progress (Unix time).",
                value=float(row["trip_builder_last_run"]),
            )


def new_registry(read: Reader) -> CollectorRegistry:
    """A registry of the service's own holding the fleet collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FleetCollector(read))
    return registry
