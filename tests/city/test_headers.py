"""Security headers on every answer (city/headers.py)."""

from __future__ import annotations

import httpx
import pytest

from city.headers import CONTENT_SECURITY_POLICY

SUMMARY = "/api/v1/mobility/summary?from=2025-03-01T00:00:00Z&to=2025-03-02T00:00:00Z"


@pytest.mark.parametrize(
    "path",
    [
        "/report",
        "/report/figures.csv",
        SUMMARY,
        "/api/v1/learning-city",
        "/api/v1/trips?from=nope&to=nope",  # an error answer too
        "/api/v1/no-such-thing",
        "/static/report.css",
        "/openapi.json",
        "/metrics",
    ],
)
def test_every_answer_carries_the_security_headers(client: httpx.Client, path: str) -> None:
    """The report, the CSV, the JSON API (answers and errors), static files and /metrics send
    the CSP (frame-ancestors 'none', no script), nosniff, a referrer policy and DENY framing."""
    headers = client.get(path).headers
    csp = headers["content-security-policy"]
    assert csp == CONTENT_SECURITY_POLICY
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["frame-ancestors"] == "'none'"
    assert directives["default-src"] == "'none'" and "script-src" not in directives
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-frame-options"] == "DENY"


def test_the_cached_fast_path_sends_them_too(client: httpx.Client) -> None:
    """The second identical figure request, served from the kept answer before routing,
    carries the same headers as the first."""
    first, second = client.get(SUMMARY), client.get(SUMMARY)
    assert second.content == first.content
    for name in ("content-security-policy", "x-content-type-options", "referrer-policy"):
        assert second.headers[name] == first.headers[name]
