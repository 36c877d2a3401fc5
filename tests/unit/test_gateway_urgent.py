"""Recognising an urgent send from its raw body, before (or without) parsing it."""

from __future__ import annotations

import json

import pytest

from services.gateway.edge.urgent import looks_urgent


@pytest.mark.parametrize(
    "body",
    [
        b'{"envelope": {"urgent": true}}',
        b'{"envelope":{"urgent":true,"nonce":"x"}}',
        b'{"envelope": {"urgent" :\n true}, "extra": 1}',
        b'{"envelope": {"\\u0075rgent": true}}',  # escaped key: only the parser sees it
        b'{"envelope": {"urgent": true, "nonce": ',  # not JSON (cut off)
    ],
)
def test_urgent_bodies_are_recognised(body: bytes) -> None:
    assert looks_urgent(body, complete=True)


@pytest.mark.parametrize(
    "body",
    [
        b'{"envelope": {"urgent": false}}',
        b'{"envelope": {"urgent": "true"}}',
        b'{"envelope": {"text": "\\"urgent\\": true"}}',  # inside a string, escaped quotes
        b"[" * 100_000,
        b"",
        b"\xff\xfe",
    ],
)
def test_other_bodies_are_not_urgent(body: bytes) -> None:
    assert not looks_urgent(body, complete=True)


def test_a_body_cut_off_at_the_limit_is_judged_by_its_first_bytes() -> None:
    prefix = json.dumps({"envelope": {"urgent": True, "ciphertext": "A" * 1000}}).encode()[:500]
    assert looks_urgent(prefix, complete=False)
    assert not looks_urgent(prefix.replace(b"true", b"false"), complete=False)
    escaped_only = b'{"envelope": {"\\u0075rgent": true, "ciphertext": "AAAA'
    assert not looks_urgent(escaped_only, complete=False)  # never parsed when cut off
