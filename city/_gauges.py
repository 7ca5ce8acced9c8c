"""The bridge from the synchronous Prometheus collector to the service's async pool."""

from __future__ import annotations

from typing import Any

import anyio.from_thread
from psycopg_pool import AsyncConnectionPool

from city import queries

__all__ = ["GaugeReader"]


class GaugeReader:
    """Reads :func:`city.queries.fleet_gauges` through the pool the lifespan binds.

    Called by the collector inside ``/metrics``, which FastAPI runs in a worker thread, so the
    query runs on the service's event loop with ``anyio.from_thread.run``.
    """

    def __init__(self, low_battery_pct: float) -> None:
        self.low_battery_pct = low_battery_pct
        self.pool: AsyncConnectionPool[queries.Conn] | None = None

    async def _read(self) -> dict[str, Any]:
        if self.pool is None:
            raise TimeoutError("the service's pool is not open")
        async with self.pool.connection(timeout=5) as conn:
            return await queries.fleet_gauges(conn, self.low_battery_pct)

    def __call__(self) -> dict[str, Any]:
        return anyio.from_thread.run(self._read)
