"""A cache of trip figures, valid while the trips table is unchanged.

Every statement writing ``trips`` bumps ``city_data_version`` (a trigger of migration 0032), so
a request reads that one-row counter once (a primary-key lookup) and answers from the cache
when the figures it needs were computed at the same version. Entries are bounded (least
recently used dropped first) and all dropped when the version moves. The cached rows are
shared between requests: callers read them and never change them.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from datetime import datetime
from typing import Any

from city import queries

__all__ = ["CachedFigures", "FiguresCache"]

Row = dict[str, Any]


class FiguresCache:
    """Figures keyed by what computed them, for one data version at a time (per process)."""

    def __init__(self, max_entries: int = 1024) -> None:
        self.max_entries = max_entries
        self.version: int | None = None
        self.entries: OrderedDict[Hashable, Any] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def lookup(self, version: int, key: Hashable) -> tuple[bool, Any]:
        if version != self.version:
            self.entries.clear()
            self.version = version
        if key in self.entries:
            self.entries.move_to_end(key)
            self.hits += 1
            return True, self.entries[key]
        self.misses += 1
        return False, None

    def store(self, version: int, key: Hashable, value: Any) -> None:
        if version != self.version or self.max_entries <= 0:
            return
        self.entries[key] = value
        while len(self.entries) > self.max_entries:
            self.entries.popitem(last=False)


class CachedFigures:
    """The figure queries of one request, through the cache (the version read once)."""

    def __init__(self, conn: queries.Conn, cache: FiguresCache) -> None:
        self.conn = conn
        self.cache = cache
        self._version: int | None = None
        self._read = False

    async def _get(self, key: Hashable, compute: Callable[[], Awaitable[Any]]) -> Any:
        if self.cache.max_entries <= 0:
            return await compute()
        if not self._read:
            self._version = await queries.data_version(self.conn)
            self._read = True
        if self._version is None:  # migration 0032 not applied: no caching
            return await compute()
        found, value = self.cache.lookup(self._version, key)
        if found:
            return value
        value = await compute()
        self.cache.store(self._version, key, value)
        return value

    async def summary(self, start: datetime, end: datetime) -> Row:
        result: Row = await self._get(
            ("summary", start, end), lambda: queries.summary(self.conn, start, end)
        )
        return result

    async def period_series(self, start: datetime, end: datetime, unit: str) -> list[Row]:
        result: list[Row] = await self._get(
            ("series", start, end, unit),
            lambda: queries.period_series(self.conn, start, end, unit),
        )
        return result

    async def methodologies(self, start: datetime, end: datetime) -> list[Row]:
        result: list[Row] = await self._get(
            ("methodologies", start, end), lambda: queries.methodologies(self.conn, start, end)
        )
        return result

    async def trip_span(self) -> Row:
        result: Row = await self._get(("span",), lambda: queries.trip_span(self.conn))
        return result
