"""The telemetry point of the wire contract: its fields, and one numpy structured dtype for
every codec and every writer.

Every decoder of the ingester (JSON point, JSON batch, ThingsBoard batch, binary) returns an
array of :data:`POINT_DTYPE`, the simulators convert their points to it, and the store writes
it. Optional float fields hold NaN when absent (the ingester's validation has already turned
every NaN or Infinity that a device *sent* into a dead letter, so NaN can only mean absent);
``seq`` holds :data:`SEQ_ABSENT` when absent.
"""

from __future__ import annotations

from typing import Final

import numpy as np

__all__ = [
    "FIELDS",
    "FLOAT32_FIELDS",
    "OPTIONAL_FIELDS",
    "OPTIONAL_FLOAT_FIELDS",
    "POINT_DTYPE",
    "REQUIRED_FIELDS",
    "SEQ_ABSENT",
    "empty_points",
]

POINT_DTYPE: Final = np.dtype(
    [
        ("ts_ms", "<i8"),  # device time, epoch milliseconds UTC
        ("lat", "<f8"),  # WGS84 degrees
        ("lon", "<f8"),
        ("speed_kmh", "<f4"),
        ("heading_deg", "<f4"),
        ("hdop", "<f4"),
        ("soc_pct", "<f4"),
        ("voltage_v", "<f4"),
        ("current_a", "<f4"),
        ("batt_temp_c", "<f4"),
        ("odometer_km", "<f8"),
        ("seq", "<i8"),
    ]
)

SEQ_ABSENT: Final = int(np.iinfo(np.int64).min)

#: The fields every point carries (``ts`` is ``ts_ms`` in :data:`POINT_DTYPE`).
REQUIRED_FIELDS: Final = ("ts", "lat", "lon")

#: The optional fields, in wire order.
OPTIONAL_FIELDS: Final = (
    "speed_kmh",
    "heading_deg",
    "hdop",
    "soc_pct",
    "voltage_v",
    "current_a",
    "batt_temp_c",
    "odometer_km",
    "seq",
)

#: Every field, by its wire name, in wire order.
FIELDS: Final = (*REQUIRED_FIELDS, *OPTIONAL_FIELDS)

#: The optional fields that are numbers with a fraction (all but the integer ``seq``).
OPTIONAL_FLOAT_FIELDS: Final = tuple(n for n in OPTIONAL_FIELDS if POINT_DTYPE[n].kind == "f")

#: The optional fields stored as ``real`` (float32) in the telemetry table.
FLOAT32_FIELDS: Final = tuple(n for n in OPTIONAL_FIELDS if POINT_DTYPE[n] == np.float32)


def empty_points(n: int) -> np.ndarray:
    """``n`` points with every optional field absent (NaN, or :data:`SEQ_ABSENT` for seq)."""
    points = np.zeros(n, dtype=POINT_DTYPE)
    for name in OPTIONAL_FIELDS:
        points[name] = SEQ_ABSENT if name == "seq" else np.nan
    return points
