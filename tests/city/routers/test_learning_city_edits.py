"""The hardened edit API: one indicator with its ETag, If-Match on every edit, body limits,
and a 4xx naming every malformed input."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx
import pytest

from tests.city.conftest import WRITE_TOKEN

WRITE = {"Authorization": f"Bearer {WRITE_TOKEN}"}
TRAINERS = "/api/v1/learning-city/youth-platform/indicators/trainers"
EDIT = {"label": "Trainers", "value": 50, "unit": "people", "editor": "secretary"}


def _etag(client: httpx.Client, url: str = TRAINERS) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.text
    return response.headers["etag"]


def _changes(client: httpx.Client) -> list[dict[str, object]]:
    changes: list[dict[str, object]] = client.get("/api/v1/learning-city/changes").json()["changes"]
    return changes


def test_get_one_indicator_returns_it_with_an_etag_that_each_edit_changes(
    client: httpx.Client,
) -> None:
    """GET of one indicator answers it with a strong ETag; the same ETag in If-None-Match
    gets 304; after an edit the ETag differs and the edit's answer carries the new one."""
    response = client.get(TRAINERS)
    assert response.status_code == 200, response.text
    assert response.json()["value"] == 45 and response.json()["label"] == "Trainers"
    tag = response.headers["etag"]
    assert tag.startswith('"') and tag.endswith('"') and not tag.startswith("W/")
    assert client.get(TRAINERS).headers["etag"] == tag  # stable while unchanged
    unchanged = client.get(TRAINERS, headers={"If-None-Match": tag})
    assert unchanged.status_code == 304 and unchanged.headers["etag"] == tag

    edited = client.patch(
        TRAINERS, json={"value": 46, "editor": "e"}, headers={**WRITE, "If-Match": tag}
    )
    assert edited.status_code == 200, edited.text
    assert edited.headers["etag"] != tag
    assert edited.headers["etag"] == _etag(client)
    assert client.get(TRAINERS, headers={"If-None-Match": tag}).status_code == 200


def test_get_of_an_unknown_indicator_is_404(client: httpx.Client) -> None:
    """An indicator that is not stored (the live table's are measured) is a 404."""
    assert client.get("/api/v1/learning-city/youth-platform/indicators/none").status_code == 404
    assert client.get("/api/v1/learning-city/pogo-live/indicators/km").status_code == 404


@pytest.mark.parametrize("method", ["put", "patch"])
def test_an_edit_without_if_match_is_428_and_changes_nothing(
    client: httpx.Client, method: str
) -> None:
    """PUT and PATCH without If-Match get 428 saying what to send; nothing is stored or logged."""
    response = client.request(method, TRAINERS, json=EDIT, headers=WRITE)
    assert response.status_code == 428, response.text
    assert "If-Match" in response.json()["detail"]
    assert client.get(TRAINERS).json()["value"] == 45
    assert _changes(client) == []


def test_two_editors_who_get_then_put_do_not_lose_the_first_edit(client: httpx.Client) -> None:
    """Both editors GET the same version; the first PUT lands; the second, made from the
    version it read, gets 412 with the current ETag, and the first edit stays."""
    first = second = _etag(client)
    one = client.put(TRAINERS, json={**EDIT, "value": 51}, headers={**WRITE, "If-Match": first})
    assert one.status_code == 200, one.text
    two = client.put(TRAINERS, json={**EDIT, "value": 52}, headers={**WRITE, "If-Match": second})
    assert two.status_code == 412, two.text
    assert two.headers["etag"] == one.headers["etag"]
    assert client.get(TRAINERS).json()["value"] == 51
    assert len(_changes(client)) == 1
    retry = client.put(
        TRAINERS, json={**EDIT, "value": 52}, headers={**WRITE, "If-Match": two.headers["etag"]}
    )
    assert retry.status_code == 200 and client.get(TRAINERS).json()["value"] == 52


@pytest.mark.parametrize(
    ("if_match", "status"),
    [('W/"x"', 412), ('"nope", "other"', 412), ("*", 200), ("not-a-tag", 422)],
)
def test_if_match_forms(client: httpx.Client, if_match: str, status: int) -> None:
    """A weak tag never matches (strong comparison), nor an unknown list; * matches an
    existing indicator; a value that is not an entity tag gets 422 naming If-Match."""
    response = client.patch(
        TRAINERS, json={"value": 1, "editor": "e"}, headers={**WRITE, "If-Match": if_match}
    )
    assert response.status_code == status, response.text
    if status == 422:
        assert response.json()["detail"][0]["loc"] == ["header", "If-Match"]


def test_put_creates_only_with_if_none_match_star(client: httpx.Client) -> None:
    """A new indicator is created by PUT with If-None-Match: *; the same again gets 412
    (it exists now); If-Match on an absent indicator gets 412."""
    url = "/api/v1/learning-city/cultural-centre/indicators/plays"
    body = {"label": "Plays staged", "value": 12, "editor": "director"}
    stale = client.put(
        url.replace("plays", "concerts"), json=body, headers={**WRITE, "If-Match": '"x"'}
    )
    assert stale.status_code == 412, stale.text
    created = client.put(url, json=body, headers={**WRITE, "If-None-Match": "*"})
    assert created.status_code == 200, created.text
    assert created.headers["etag"] == _etag(client, url)
    again = client.put(url, json=body, headers={**WRITE, "If-None-Match": "*"})
    assert again.status_code == 412
    assert len(_changes(client)) == 1


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('{"label": "x", "value": NaN, "editor": "e"}', "value"),
        ('{"label": "x", "value": Infinity, "editor": "e"}', "value"),
        ('{"label": "x", "value": 1e400, "editor": "e"}', "value"),
        ('{"label": "x", "value": -1e400, "editor": "e"}', "value"),
        ('{"label": "\\ud800", "value": 1, "editor": "e"}', "label"),
        ('{"label": "x", "value": 1, "editor": "\\udfff\\ud800"}', "editor"),
        ('{"label": "x", "value": 1, "editor": "e", "\\ud800": 1}', None),  # loc: the body
        ('{"label": "x", "value": 1, "editor": "e"', 40),  # where the JSON broke
        ("[1, 2]", None),
    ],
)
@pytest.mark.parametrize("method", ["put", "patch"])
def test_non_finite_numbers_and_lone_surrogates_are_422_naming_the_field(
    client: httpx.Client, method: str, raw: str, field: str | int | None
) -> None:
    """NaN, Infinity, 1e400 (an overflow to infinity), lone surrogates in a value or a key,
    truncated JSON and a body of the wrong shape: each is a 422 whose loc names the body
    field, never a 500; nothing is stored."""
    headers = {**WRITE, "If-Match": _etag(client), "Content-Type": "application/json"}
    response = client.request(method, TRAINERS, content=raw.encode(), headers=headers)
    assert response.status_code == 422, response.text
    loc = response.json()["detail"][0]["loc"]
    assert loc[0] == "body"
    if field is not None:
        assert field in loc, loc
    assert _changes(client) == []


def test_a_cursor_of_booleans_is_422_naming_cursor(client: httpx.Client) -> None:
    """The cursor `W3RydWUsZmFsc2Vd` (base64 of [true,false]) is not a page token: 422 on
    cursor, not a 500 from the database."""
    params = {
        "from": "2025-03-01T00:00:00Z",
        "to": "2025-03-02T00:00:00Z",
        "cursor": "W3RydWUsZmFsc2Vd",
    }
    response = client.get("/api/v1/trips", params=params, headers=WRITE)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", "cursor"]


def _raw_request(base_url: str, head: bytes, chunks: list[bytes]) -> tuple[bytes, int]:
    """Send ``head``, then ``chunks`` until the server answers; the answer and how many
    chunks went out before it came."""
    url = urlsplit(base_url)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(head)
        sent = 0
        sock.setblocking(False)
        answer = b""
        for chunk in chunks:
            with contextlib.suppress(BlockingIOError):
                answer += sock.recv(65536)
            if answer:
                break
            try:
                sock.sendall(chunk)
            except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                break
            sent += 1
            time.sleep(0.002)
        sock.setblocking(True)
        deadline = time.monotonic() + 10
        while b"\r\n\r\n" not in answer and time.monotonic() < deadline:
            try:
                more = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not more:
                break
            answer += more
    return answer, sent


def test_a_declared_100_mb_body_is_413_before_it_is_read_or_authenticated(
    make_client: Callable[..., httpx.Client],
) -> None:
    """An unauthenticated PUT announcing 100 MB gets 413 (not 401) after a few kilobytes
    were sent: the body is neither read nor parsed."""
    client = make_client()
    head = (
        f"PUT {TRAINERS} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {100 * 1024 * 1024}\r\n\r\n"
    ).encode()
    answer, sent = _raw_request(str(client.base_url), head, [b" " * 4096] * 25_600)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 64, sent  # far less than the 100 MB announced


def test_a_streamed_body_over_the_limit_is_413_once_the_count_passes_it(
    make_client: Callable[..., httpx.Client],
) -> None:
    """A chunked body (no Content-Length) is counted as it comes: over a 4 KiB limit it gets
    413 before the write token is even looked at, and a body under the limit still works."""
    client = make_client(max_body_bytes=4096)
    head = (
        f"PATCH {TRAINERS} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    chunk = b"400\r\n" + b" " * 1024 + b"\r\n"
    answer, sent = _raw_request(str(client.base_url), head, [chunk] * 10_000)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"limit of 4096 bytes" in answer
    assert sent < 64, sent
    small = client.patch(
        TRAINERS, json={"value": 1, "editor": "e"}, headers={**WRITE, "If-Match": _etag(client)}
    )
    assert small.status_code == 200, small.text
