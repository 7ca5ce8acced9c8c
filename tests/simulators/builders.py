"""Small scenario builders for the simulator's tests."""

from __future__ import annotations

from datetime import UTC, datetime

from simulators import FaultRates, ScenarioConfig, benguerir


def scenario(
    days: float = 2.0,
    vehicles: int = 8,
    seed: int = 3,
    faults: bool | FaultRates = False,
    start: datetime | None = None,
    **overrides: object,
) -> ScenarioConfig:
    """A short Benguerir scenario: ``vehicles`` vehicles for ``days`` days (from 2024-03-04)."""
    return benguerir(
        seed=seed,
        days=days,
        vehicles=vehicles,
        start=start or datetime(2024, 3, 4, tzinfo=UTC),
        faults=faults,
        **overrides,
    )
