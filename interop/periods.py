"""The periods MDS asks by: a UTC hour ``YYYY-MM-DDTHH`` and a month ``YYYY-MM`` of the city's
local calendar; and the version a request accepts.

Each parser raises :class:`~interop.errors.BadPeriodError` naming the parameter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from interop.errors import BadPeriodError, NotAcceptableError

__all__ = ["Period", "accepted_version", "parse_hour", "parse_month"]

_HOUR = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Period:
    """A half-open UTC interval ``[start, end)`` and the local date it starts on."""

    start: datetime
    end: datetime
    first_day: date

    @property
    def start_ms(self) -> int:
        return int(self.start.timestamp() * 1000)

    @property
    def end_ms(self) -> int:
        return int(self.end.timestamp() * 1000)


def parse_hour(name: str, raw: str | None) -> Period:
    """``2026-11-22T08`` to the UTC hour ``[08:00, 09:00)`` of that day.

    >>> parse_hour("end_time", "2026-11-22T08").start.isoformat()
    '2026-11-22T08:00:00+00:00'
    """
    if raw is None or raw == "":
        raise BadPeriodError(name, raw, "a UTC hour YYYY-MM-DDTHH (the parameter is required)")
    match = _HOUR.match(raw)
    if not match:
        raise BadPeriodError(name, raw, "a UTC hour YYYY-MM-DDTHH such as 2026-11-22T08")
    year, month, day, hour = (int(g) for g in match.groups())
    try:
        start = datetime(year, month, day, hour, tzinfo=UTC)
    except ValueError as exc:
        raise BadPeriodError(name, raw, f"a real UTC hour YYYY-MM-DDTHH ({exc})") from None
    return Period(start, start + timedelta(hours=1), start.date())


def parse_month(name: str, raw: str, zone: ZoneInfo) -> Period:
    """``2026-11`` to the month from the 1st at local midnight in ``zone`` to the next 1st.

    >>> p = parse_month("month", "2026-03", ZoneInfo("Europe/Paris"))
    >>> p.start.isoformat(), p.end.isoformat()
    ('2026-02-28T23:00:00+00:00', '2026-03-31T22:00:00+00:00')
    """
    match = _MONTH.match(raw)
    if not match:
        raise BadPeriodError(name, raw, "a month YYYY-MM such as 2026-11")
    year, month = (int(g) for g in match.groups())
    if not (1 <= month <= 12 and 1970 <= year <= 9998):
        raise BadPeriodError(name, raw, "a month YYYY-MM from 1970-01 on")
    following = (year + month // 12, month % 12 + 1)
    start = datetime(year, month, 1, tzinfo=zone).astimezone(UTC)
    end = datetime(*following, 1, tzinfo=zone).astimezone(UTC)
    return Period(start, end, date(year, month, 1))


def _params(part: str) -> tuple[str, dict[str, str]]:
    media, *rest = (p.strip() for p in part.split(";"))
    params = {}
    for p in rest:
        key, _, value = p.partition("=")
        params[key.strip().lower()] = value.strip().strip('"')
    return media.lower(), params


def accepted_version(accept: str | None, media: str, version: str) -> None:
    """Check that an ``Accept`` header admits ``media`` at ``version`` (MDS versioning).

    A header naming ``media`` must give it a ``version`` parameter equal to ``version``
    (major.minor, e.g. ``2.0``) in one of its entries; a header that does not name ``media``
    must admit it through ``*/*`` or its type's wildcard (or ``application/json`` for JSON). No
    header at all gets ``version``: MDS's fallback for that case is version 0.2, which this
    service does not serve, and answering 406 to every client that sends none helps no one.

    Raises
    ------
    NotAcceptableError
        Naming what the header asked for and what is served.

    >>> media = "application/vnd.mds+json"
    >>> accepted_version(f"{media};version=2.0", media, "2.0")
    >>> accepted_version(f"{media};version=1.2", media, "2.0")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    interop.errors.NotAcceptableError: Accept asks for ...version=1.2; this service serves ...
    """
    if accept is None or not accept.strip():
        return
    entries = [_params(p) for p in accept.split(",") if p.strip()]
    named = [params for m, params in entries if m == media]
    if named:
        if any(params.get("version") == version for params in named):
            return
    else:
        kind = media.split("/")[0]
        suffix = media.rpartition("+")[2]
        plain = {"json": "application/json", "csv": "text/csv"}.get(suffix)
        wild = {"*/*", f"{kind}/*"} | ({plain} if plain else set())
        if any(m in wild for m, _ in entries):
            return
    raise NotAcceptableError(
        f"Accept asks for {accept.strip()}; this service serves {media};version={version}"
    )
