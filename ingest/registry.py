"""The ingester's registry check (``POGO_INGEST_REQUIRE_REGISTERED``): defence in depth
behind the broker's ACLs.

:class:`Registry` holds a snapshot of the active devices (``fleet.devices.active_vehicles``)
and answers ``admits(fleet, vehicle, received_at)`` from memory. The snapshot is read again
every ``refresh_s`` (so a revocation reaches the ingester within that time even before the
broker reloads), and whenever a vehicle it does not hold shows up in a message received after
the last read: a device registered before its message arrived is never refused, and a flood
of unknown vehicles costs at most one read per batch (one read covers every message received
before it). A failed read keeps the last snapshot.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import psycopg
import structlog

__all__ = ["Registry"]

log = structlog.get_logger("ingest")

Loader = Callable[[], frozenset[tuple[str, str]]]


class Registry:
    """A refreshed snapshot of the active devices; see the module's docstring."""

    def __init__(
        self,
        load: Loader,
        refresh_s: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._load = load
        self.refresh_s = refresh_s
        self._clock = clock  # epoch seconds, the clock of Message.received_at
        self._active: frozenset[tuple[str, str]] = frozenset()
        self._read_at: float | None = None  # start of the last read, successful or not

    @property
    def loaded(self) -> bool:
        return self._read_at is not None

    def refresh(self) -> bool:
        """Read the registry now; False (the last snapshot kept) when the read failed."""
        now = self._clock()  # before the read: what it returns is at least this recent
        try:
            active = self._load()
        except psycopg.Error as exc:
            if self._read_at is not None:
                self._read_at = now  # retry after the interval, not on every message
            log.warning("device registry read failed; keeping the last one", error=str(exc))
            return False
        self._active = active
        self._read_at = now
        return True

    def load_initial(self, stop: threading.Event, retry_s: float = 1.0) -> bool:
        """Read the registry until it succeeds (nothing is judged before); False if ``stop``
        was set first."""
        while not self.refresh():
            if stop.wait(retry_s):
                return False
        log.info("device registry loaded", active=len(self._active))
        return True

    def admits(self, fleet: str, vehicle: str, received_at: float) -> bool:
        """Whether ``fleet/vehicle`` is an active device, for a message received at
        ``received_at`` (epoch seconds): the registry is read again when the snapshot is
        old, or when the vehicle is unknown and the last read began before the message."""
        read_at = self._read_at if self._read_at is not None else float("-inf")
        if self._clock() - read_at >= self.refresh_s:
            self.refresh()
        if (fleet, vehicle) in self._active:
            return True
        if (self._read_at is None or self._read_at <= received_at) and self.refresh():
            return (fleet, vehicle) in self._active
        return False
