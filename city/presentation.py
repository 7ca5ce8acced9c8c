"""How the report writes a number for a reader: nice axis ticks, the unit that reads best for a
mass, singular units for one of a thing."""

from __future__ import annotations

import math

__all__ = ["format_tick", "mass", "nice_ticks", "quantity"]

#: Steps an axis may take, per power of ten (ticks at 0, 20, 40, never at 12.5 or 37.5).
_STEPS = (1, 2, 5, 10)


def nice_ticks(largest: float, count: int = 4) -> list[float]:
    """Axis ticks from 0 covering ``largest`` in about ``count`` equal, round steps.

    Examples
    --------
    >>> nice_ticks(50)
    [0.0, 20.0, 40.0, 60.0]
    >>> nice_ticks(3)
    [0.0, 1.0, 2.0, 3.0]
    >>> nice_ticks(0)
    [0.0, 1.0]
    """
    if not largest > 0 or not math.isfinite(largest):
        return [0.0, 1.0]
    raw = largest / count
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in _STEPS if m * magnitude >= raw * (1 - 1e-9))
    if step < 1 and largest >= 1:
        step = max(step, 1.0)  # whole things (trips) never get fractional ticks past one
    steps = max(1, math.ceil(largest / step - 1e-9))
    return [round(i * step, 10) for i in range(steps + 1)]


def format_tick(value: float, step: float) -> str:
    """A tick label with as many decimals as the step needs and no more.

    >>> format_tick(40.0, 20.0), format_tick(0.5, 0.25), format_tick(12000.0, 4000.0)
    ('40', '0.50', '12,000')
    >>> format_tick(0.4, 0.2)
    '0.4'
    """
    decimals = 0
    while decimals < 6 and abs(step * 10**decimals - round(step * 10**decimals)) > 1e-9:
        decimals += 1
    return f"{value:,.{decimals}f}"


def mass(kg: float) -> tuple[float, str]:
    """A mass in the unit that reads best: kilograms below a tonne, tonnes from one.

    >>> mass(420.0), mass(90_000.0)
    ((420.0, 'kg'), (90.0, 't'))
    """
    return (kg, "kg") if abs(kg) < 1000 else (kg / 1000, "t")


def quantity(value: float | None, unit: str) -> str:
    """``value`` with its unit, singular for exactly one.

    >>> quantity(1, "classrooms"), quantity(3, "classrooms"), quantity(1, "people")
    ('1 classroom', '3 classrooms', '1 person')
    >>> quantity(1234.5, "km"), quantity(0.25, "fraction"), quantity(None, "km")
    ('1,234 km', '0.25 fraction', '—')
    """
    if value is None:
        return "—"
    number = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}".rstrip("0").rstrip(".")
    if value == 1 and unit:
        if unit == "people":
            unit = "person"
        elif unit.endswith("s") and not unit.endswith("ss"):
            unit = unit[:-1]
    return f"{number} {unit}".rstrip()
