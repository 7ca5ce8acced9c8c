"""PostgreSQL's binary COPY format, built with numpy for fixed-width rows (no per-row Python).

Every row of the staging table is fixed-width: optional real columns travel as NaN and
``seq`` as INT64_MIN when absent, and the INSERT turns them into NULL, so one structured dtype
describes the whole stream.
"""

from __future__ import annotations

from typing import Final

import numpy as np

__all__ = ["PG_EPOCH_MS", "copy_payload"]

PG_EPOCH_MS: Final = 946_684_800_000  # 2000-01-01T00:00:00Z, PostgreSQL's timestamp epoch
_HEADER: Final = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
_TRAILER: Final = b"\xff\xff"

# (staging column, big-endian type)
_COLUMNS: Final = (
    ("vehicle_key", ">i4"),
    ("ts", ">i8"),
    ("lat", ">f8"),
    ("lon", ">f8"),
    ("speed_kmh", ">f4"),
    ("heading_deg", ">f4"),
    ("hdop", ">f4"),
    ("soc_pct", ">f4"),
    ("voltage_v", ">f4"),
    ("current_a", ">f4"),
    ("batt_temp_c", ">f4"),
    ("odometer_km", ">f8"),
    ("seq", ">i8"),
    ("received_at", ">i8"),
)
_ROW: Final = np.dtype(
    [("nfields", ">i2")]
    + [item for name, kind in _COLUMNS for item in ((f"len_{name}", ">i4"), (name, kind))]
)


def copy_payload(points: np.ndarray, vehicle_key: np.ndarray, received_ms: np.ndarray) -> bytes:
    """The bytes of ``COPY ingest_staging FROM STDIN (FORMAT BINARY)`` for these points.

    Parameters
    ----------
    points
        :data:`ingest.point.POINT_DTYPE`, validated.
    vehicle_key, received_ms
        int32 and int64 arrays of the same length.
    """
    rows = np.empty(len(points), dtype=_ROW)
    rows["nfields"] = len(_COLUMNS)
    for name, kind in _COLUMNS:
        rows[f"len_{name}"] = np.dtype(kind).itemsize
    rows["vehicle_key"] = vehicle_key
    rows["ts"] = (points["ts_ms"] - PG_EPOCH_MS) * 1000
    rows["received_at"] = (received_ms - PG_EPOCH_MS) * 1000
    for name, _ in _COLUMNS[2:13]:
        rows[name] = points[name]
    return _HEADER + rows.tobytes() + _TRAILER
