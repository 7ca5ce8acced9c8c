"""A cache of trip figures and of the answers built from them, valid while the trips table is
unchanged.

Every statement writing ``trips`` bumps ``city_data_version`` (a trigger of migration 0032).
The service reads that one-row counter at most once every ``check_interval_s`` (a primary-key
lookup) and answers from the cache while it has not moved, so a figure is at most
``check_interval_s`` behind the trips table (0: every request reads the counter). A request
served from the cache takes no database connection at all. Entries are bounded (least
recently used dropped first) and all dropped when the version moves; cached rows are shared
between requests, which read them and never change them.

Every trip figure comes from the trip index (:mod:`city.tripindex`), loaded once per data
version whether answers are kept or not (``max_entries=0`` keeps none), and computed from it
on every request; what is kept are the serialised answers (bytes). Every key of a kept value
begins with the access of the caller it was computed for (:mod:`city.auth`), so an answer
that depends on who asks is never served to a caller with other access.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from datetime import datetime
from typing import Any

import anyio.to_thread
from psycopg_pool import AsyncConnectionPool

from city import queries
from city.auth import Access
from city.buckets import Unit
from city.tripindex import TripIndex, load_index

__all__ = ["FIGURES_VERSION", "CachedFigures", "FiguresCache"]

FIGURES_VERSION = "figures_version"
"""The request-state key where a request records the data version it answered at."""

Row = dict[str, Any]


class FiguresCache:
    """Figures keyed by what computed them, for one data version at a time (per process)."""

    def __init__(self, dsn: str, max_entries: int = 1024, check_interval_s: float = 0.2) -> None:
        self.max_entries = max_entries
        self.dsn = dsn
        self.index: TripIndex | None = None
        self.index_lock = asyncio.Lock()
        self.check_interval_s = check_interval_s
        self.version: int | None = None
        self.checked_at = float("-inf")
        self._reading: asyncio.Future[int | None] | None = None
        self.entries: OrderedDict[Hashable, Any] = OrderedDict()
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.max_entries > 0

    def fresh(self) -> bool:
        """Whether the last version read is recent enough to answer without reading again."""
        return (
            self.version is not None and time.monotonic() - self.checked_at < self.check_interval_s
        )

    def saw(self, version: int | None, at: float) -> None:
        """Record the version read at monotonic time ``at``; a new version empties the cache."""
        if version != self.version:
            self.entries.clear()
            self.version = version
        self.checked_at = at

    async def current(self, pool: AsyncConnectionPool[queries.Conn]) -> int | None:
        """The data version, read again when the last reading is not :meth:`fresh`.

        One reading at a time: the requests that find the version stale meanwhile wait for
        that one (without it, all of them read it at once every ``check_interval_s``, queuing
        for the pool's few connections, and every answer of that moment waited for the
        queue).
        """
        if self.fresh():
            return self.version
        if self._reading is None:
            self._reading = asyncio.ensure_future(self._read(pool))
        # Shielded: a request that goes away does not cancel the others' reading.
        return await asyncio.shield(self._reading)

    async def _read(self, pool: AsyncConnectionPool[queries.Conn]) -> int | None:
        try:
            at = time.monotonic()
            async with pool.connection() as conn:
                version = await queries.data_version(conn)
            self.saw(version, at)
            return version
        finally:
            self._reading = None

    def lookup(self, version: int, key: Hashable) -> tuple[bool, Any]:
        if version == self.version and key in self.entries:
            self.entries.move_to_end(key)
            self.hits += 1
            return True, self.entries[key]
        self.misses += 1
        return False, None

    def current_index(self) -> TripIndex | None:
        """The trip index when it holds the last version read and that reading is fresh (a
        request can then be answered without the database), else None."""
        index = self.index
        if not self.fresh() or index is None or self.version is None:
            return None
        return index if index.version >= self.version else None

    def store(self, version: int, key: Hashable, value: Any) -> None:
        if version != self.version or not self.enabled:
            return
        self.entries[key] = value
        while len(self.entries) > self.max_entries:
            self.entries.popitem(last=False)


class CachedFigures:
    """One request's figures through the cache, for one caller's access; a connection only
    when one is needed."""

    def __init__(
        self,
        pool: AsyncConnectionPool[queries.Conn],
        cache: FiguresCache,
        stack: contextlib.AsyncExitStack,
        access: Access,
        state: dict[str, Any] | None = None,
        version: int | None = None,
    ) -> None:
        """``version``: the data version to answer at, when the caller has just read it from
        a fresh cache (no reading then)."""
        self.pool = pool
        self.access = access
        self._state = state
        self.cache = cache
        self._stack = stack
        self._conn: queries.Conn | None = None
        self._version = version
        self._read = version is not None

    async def connection(self) -> queries.Conn:
        """The request's pooled connection, taken on first use, returned when it ends."""
        if self._conn is None:
            self._conn = await self._stack.enter_async_context(self.pool.connection())
        return self._conn

    async def version(self) -> int | None:
        """The data version this request answers at (None: migration 0032 missing)."""
        if not self._read:
            self._read = True
            self._version = await self.cache.current(self.pool)
            if self._state is not None and self._version is not None:
                # city.http_cache keeps the answer under the version it was computed at.
                self._state[FIGURES_VERSION] = self._version
        return self._version

    async def cached(self, key: tuple[Hashable, ...], compute: Callable[[], Awaitable[Any]]) -> Any:
        """``compute()``'s value, from the cache when it holds one at this version for a caller
        of this access."""
        if not self.cache.enabled:
            return await compute()
        version = await self.version()
        if version is None:
            return await compute()
        key = (self.access, *key)
        found, value = self.cache.lookup(version, key)
        if found:
            return value
        value = await compute()
        self.cache.store(version, key, value)
        return value

    async def trip_index(self) -> TripIndex:
        """The trip index at this request's version, loaded once per version (loaded for the
        request alone when the database has no data version, before migration 0032)."""
        version = await self.version()
        index = self.cache.index
        if version is not None and index is not None and index.version >= version:
            return index
        async with self.cache.index_lock:
            index = self.cache.index
            if version is None or index is None or index.version < version:
                index = await anyio.to_thread.run_sync(load_index, self.cache.dsn)
                if version is not None:
                    self.cache.index = index
        return index

    # The figures themselves are not kept: the index computes any of them in microseconds,
    # and rows kept by the thousand (one per window asked) made the garbage collector's full
    # passes stall every request for a tenth of a second; the serialised answers are kept
    # (:meth:`cached`, bytes, which the collector never scans).

    async def summary(self, start: datetime, end: datetime, distinct: bool = True) -> Row:
        return (await self.trip_index()).summary(start, end, distinct)

    async def period_series(
        self, start: datetime, end: datetime, unit: Unit, distinct: bool = True
    ) -> list[Row]:
        return (await self.trip_index()).series(start, end, unit, distinct)

    async def methodologies(self, start: datetime, end: datetime) -> list[Row]:
        return (await self.trip_index()).methodologies(start, end)

    async def trip_span(self) -> Row:
        return (await self.trip_index()).span()
