"""Entity tags of programme indicators and the preconditions of their edits (RFC 9110, 13.1).

An indicator's ETag is a digest of every stored column (``updated_at`` included), so any edit
changes it. An edit names the version it was made from: ``If-Match`` with the ETag of an
earlier GET (strong comparison), or ``If-None-Match: *`` to create an indicator that must not
exist yet. Without either the edit is refused (428), and with a stale one too (412): two
editors who GET then PUT no longer overwrite each other silently.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any, Literal

from city.errors import BadParameterError, PreconditionFailedError, PreconditionRequiredError

__all__ = ["check_preconditions", "indicator_etag", "none_match", "parse_entity_tags"]

_TAG = re.compile(r'\s*(W/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*(?:,|$)')
_EXPECTED = 'an entity tag from the ETag of a GET, such as "1f2e...", or *'


def _canonical(value: object) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return str(value)


def indicator_etag(row: dict[str, Any]) -> str:
    """The strong ETag of a stored indicator row (the columns the API returns)."""
    text = json.dumps(row, sort_keys=True, default=_canonical, separators=(",", ":"))
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'


def parse_entity_tags(header: str, raw: str) -> list[tuple[bool, str]] | Literal["*"]:
    """``*``, or the ``(weak, opaque-tag)`` pairs of an ``If-Match``/``If-None-Match`` value.

    Raises
    ------
    BadParameterError
        Naming the header when the value is not ``*`` or a list of entity tags.
    """
    if raw.strip() == "*":
        return "*"
    tags: list[tuple[bool, str]] = []
    position = 0
    while position < len(raw):
        match = _TAG.match(raw, position)
        if match is None or match.end() == position:
            raise BadParameterError(header, raw, _EXPECTED, where="header")
        tags.append((match.group(1) is not None, f'"{match.group(2)}"'))
        position = match.end()
    if not tags:
        raise BadParameterError(header, raw, _EXPECTED, where="header")
    return tags


def none_match(if_none_match: str, current: str) -> bool:
    """Whether a GET's ``If-None-Match`` matches ``current`` (weak comparison): answer 304."""
    return _matches_weakly(parse_entity_tags("If-None-Match", if_none_match), current)


def check_preconditions(
    if_match: str | None, if_none_match: str | None, current: str | None, *, may_create: bool
) -> None:
    """Let an edit of the indicator whose ETag is ``current`` (None: absent) go ahead, or refuse.

    Raises
    ------
    PreconditionRequiredError
        When neither ``If-Match`` nor ``If-None-Match: *`` (the latter only where the edit
        ``may_create``) is given.
    PreconditionFailedError
        When ``If-Match`` names no current version, or ``If-None-Match`` matches one.
    BadParameterError
        When either header is malformed.
    """
    none_match = (
        None if if_none_match is None else parse_entity_tags("If-None-Match", if_none_match)
    )
    if if_match is None and not (may_create and none_match == "*"):
        how = " (or If-None-Match: * to create one)" if may_create else ""
        raise PreconditionRequiredError(
            f"editing needs If-Match with the indicator's ETag from a GET{how}, so that an "
            "edit made meanwhile by someone else is not overwritten"
        )
    if if_match is not None:
        tags = parse_entity_tags("If-Match", if_match)
        if current is None:
            raise PreconditionFailedError("If-Match: the indicator does not exist", None)
        if tags != "*" and (False, current) not in tags:  # strong comparison: W/ never matches
            raise PreconditionFailedError(
                "If-Match: the indicator changed since that ETag was read; GET it again, "
                "then apply the edit to what is stored now",
                current,
            )
    if current is not None and _matches_weakly(none_match, current):
        raise PreconditionFailedError("If-None-Match: the indicator exists", current)


def _matches_weakly(tags: list[tuple[bool, str]] | Literal["*"] | None, current: str) -> bool:
    if tags is None:
        return False
    return tags == "*" or current in {tag for _, tag in tags}
