"""Delivery of the alert outbox to the operator's webhook: signed, retried with backoff,
bounded in time, never blocking the trip builder.

Each delivery is an HTTP ``POST`` of the stored JSON body with

- ``X-Pogo-Signature: sha256=<hex HMAC-SHA256 of the exact body under the secret>``,
- ``X-Pogo-Delivery: <uuid>``, the same on every retry of one transition,
- ``X-Pogo-Event: <kind>.<transition>`` (``low_battery.opened``, ...).

A 2xx answer marks the delivery delivered, and it is never sent again. Anything else (another
status, a redirect, which is not followed, a timeout, a refused connection) schedules a retry
with exponential backoff; a receiver that cannot be reached ends the run's deliveries (the rest
wait for the next run). Deliveries still undelivered a day after they were queued are abandoned
(the alert itself stays listed by the API). The one case of a second delivery: a crash between
the receiver's answer and the mark; receivers de-duplicate on ``X-Pogo-Delivery``.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg
import structlog

from fleet.alerts import queries as q

__all__ = ["DeliveryReport", "Webhook", "backoff_s", "deliver", "sign"]

log = structlog.get_logger("fleet.alerts")

_FIRST_RETRY_S = 30.0  # then 60, 120, ... s
_MAX_RETRY_S = 3600.0
_GIVE_UP_AFTER = timedelta(days=1)
_KEEP_SETTLED = timedelta(days=7)


@dataclass(frozen=True)
class Webhook:
    """Where and how alerts are delivered (``POGO_ALERT_WEBHOOK_*``).

    Attributes
    ----------
    url : str
        ``http://`` or ``https://`` URL (may hold a token: never logged).
    secret : bytes
        The HMAC-SHA256 key of ``X-Pogo-Signature``.
    timeout_s : float
        The longest one request may take, s.
    budget_s : float
        The longest one run's deliveries may take together, s: what is left waits.
    """

    url: str = field(repr=False)
    secret: bytes = field(repr=False)
    timeout_s: float = 5.0
    budget_s: float = 10.0


@dataclass
class DeliveryReport:
    """What one :func:`deliver` did."""

    delivered: int = 0
    failed: int = 0
    abandoned: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


def sign(secret: bytes, body: bytes) -> str:
    """The ``X-Pogo-Signature`` value of ``body``.

    Examples
    --------
    >>> sign(b"key", b"{}")[:7]
    'sha256='
    """
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def backoff_s(attempts: int) -> float:
    """Seconds before the next try after ``attempts`` failed ones: 30 s, doubling, at most an
    hour.

    Examples
    --------
    >>> [backoff_s(n) for n in (1, 2, 3, 10)]
    [30.0, 60.0, 120.0, 3600.0]
    """
    return float(min(_MAX_RETRY_S, _FIRST_RETRY_S * 2 ** max(attempts - 1, 0)))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not a delivery: the signed body never goes to another URL."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


class _Unreachable(Exception):
    """The receiver could not be reached (refused, timed out, no route)."""


def _post(webhook: Webhook, delivery_id: str, text: str, timeout_s: float) -> str | None:
    """Send one delivery; None when the receiver accepted it, else why not (no URL in it)."""
    data = text.encode("ascii")
    kind = json.loads(text)
    request = urllib.request.Request(  # noqa: S310 (the URL's scheme is checked at start-up)
        webhook.url,
        data=data,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "pogo-alerts/1",
            "X-Pogo-Delivery": delivery_id,
            "X-Pogo-Event": f"{kind['kind']}.{kind['transition']}",
            "X-Pogo-Signature": sign(webhook.secret, data),
        },
    )
    try:
        with _OPENER.open(request, timeout=timeout_s) as answer:
            status = int(answer.status)
    except urllib.error.HTTPError as exc:
        status = int(exc.code)
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise _Unreachable(f"unreachable ({type(reason).__name__}: {reason})") from None
    if 200 <= status < 300:
        return None
    return f"HTTP {status}"


def deliver(dsn: str, webhook: Webhook, *, now: datetime | None = None) -> DeliveryReport:
    """Send the due deliveries of the outbox, oldest first, within ``webhook.budget_s``.

    Parameters
    ----------
    dsn : str
        libpq URL of the store.
    webhook : Webhook
    now : datetime, optional
        The wall clock (UTC-aware) the schedule is read against; default the current time.
        (Delivery times are scheduling, not measurements; tests move it on.)

    Returns
    -------
    DeliveryReport

    Notes
    -----
    Each delivery is sent inside its own transaction holding its outbox row locked (``FOR
    UPDATE SKIP LOCKED``), so two processes delivering at once never send one row twice.
    """
    started = time.monotonic()
    deadline = started + webhook.budget_s
    clock = now or datetime.now(UTC)
    report = DeliveryReport()
    tried: list[str] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        report.abandoned = q.abandon_expired(conn, clock - _GIVE_UP_AFTER)
        q.delete_old_deliveries(conn, clock - _KEEP_SETTLED)
        while (left := deadline - time.monotonic()) > 0:
            with conn.transaction():
                due = q.next_due(conn, clock, tried)
                if due is None:
                    break
                delivery_id, text, attempts = due
                tried.append(delivery_id)
                try:
                    error = _post(webhook, delivery_id, text, min(webhook.timeout_s, left))
                except _Unreachable as exc:
                    error = str(exc)
                    unreachable = True
                else:
                    unreachable = False
                if error is None:
                    q.mark_delivered(conn, delivery_id, clock)
                    report.delivered += 1
                else:
                    retry = clock + timedelta(seconds=backoff_s(attempts + 1))
                    q.mark_failed(conn, delivery_id, retry, error)
                    report.failed += 1
                    report.errors.append(error)
            if unreachable:
                break
    report.seconds = time.monotonic() - started
    if report.delivered or report.failed or report.abandoned:
        log.info(
            "alerts_delivered",
            delivered=report.delivered,
            failed=report.failed,
            abandoned=report.abandoned,
            error=report.errors[-1] if report.errors else None,
            seconds=round(report.seconds, 3),
        )
    return report
