"""City interoperability: MDS 2.0 Provider objects and a GBFS 3.0 feed from our trips, events,
vehicles and zones, as pure mappings (no HTTP: the routers in ``city/routers/`` call them).

:mod:`interop.mds` (trips, vehicles, telemetry), :mod:`interop.events` (the micromobility state
machine), :mod:`interop.reports` (the monthly CSV and its energy and CO2 companion),
:mod:`interop.gbfs` (the feed), :mod:`interop.ids` (stable UUIDs, rotating GBFS ids),
:mod:`interop.periods` (hours, months, versions) and :mod:`interop.queries` (their SQL).
"""

from interop.errors import BadPeriodError, InteropError, NotAcceptableError

__all__ = ["BadPeriodError", "InteropError", "NotAcceptableError"]
