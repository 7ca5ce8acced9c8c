"""Who asks (city/auth.py): one decision per request from the Authorization header."""

from __future__ import annotations

import pytest

from city import ServiceConfig
from city.auth import Caller, decide, read_refusal
from tests.city.conftest import READ_TOKEN, WRITE_TOKEN

CONFIG = ServiceConfig(dsn="postgresql://unused", read_token=READ_TOKEN, write_token=WRITE_TOKEN)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, Caller("anonymous")),
        ("", Caller("anonymous")),
        (f"Bearer {WRITE_TOKEN}", Caller("write")),
        (f"bearer  {READ_TOKEN} ", Caller("read")),
        ("Bearer", Caller("anonymous")),
        ("Basic eDp5", Caller("anonymous")),
        ("Bearer nope", Caller("anonymous", "the bearer token is not a token of this service")),
    ],
)
def test_the_header_decides_the_caller(header: str | None, expected: Caller) -> None:
    """The bearer scheme's parsing (case-insensitive scheme, credential stripped; another
    scheme or none is no token); an unknown bearer token is refused with a reason."""
    assert decide(CONFIG, header) == expected


def test_reading_needs_a_token_only_when_a_read_token_is_set() -> None:
    """Anonymous callers read when no read token is set; a refused token never reads."""
    open_config = ServiceConfig(dsn="postgresql://unused", write_token=WRITE_TOKEN)
    assert read_refusal(open_config, Caller("anonymous")) is None
    assert read_refusal(CONFIG, Caller("anonymous")) is not None
    assert read_refusal(CONFIG, Caller("read")) is None
    refused = decide(open_config, "Bearer nope")
    assert read_refusal(open_config, refused) == refused.refused
