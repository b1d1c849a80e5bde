"""Oversized bodies get the 413 JSON on a real server, never a reset, however the client connects."""

from __future__ import annotations

import json
import socket
from decimal import Decimal

import httpx
import pytest

from tests.gateway_fakes import FakeRoute, chat_body, make_app
from tests.gateway_keys import key_table
from tests.served_gateway import served

MEGABYTE_BODY = json.dumps(chat_body("x" * 1_000_000)).encode()
TRIES = 12


def _raw_post(base: str, body: bytes, headers: str) -> str:
    """Sends the whole body as a plain socket client does (no retry on a write error), then reads the
    reply; returns its status line, or the socket error that stopped it."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        head = (
            "POST /v1/chat/completions HTTP/1.1\r\nhost: gateway\r\ncontent-type: application/json\r\n"
            f"{headers}content-length: {len(body)}\r\n\r\n"
        )
        try:
            connection.sendall(head.encode())
            for start in range(0, len(body), 65536):
                connection.sendall(body[start : start + 65536])
            reply = b""
            while b"\r\n\r\n" not in reply and (chunk := connection.recv(65536)):
                reply += chunk
        except OSError as exc:
            return type(exc).__name__
    return reply.split(b"\r\n")[0].decode()


@pytest.mark.parametrize("http", ["httptools", "h11"])
def test_a_megabyte_body_on_a_closing_connection_gets_413_not_a_reset(tmp_path, http):
    app, _ = make_app(tmp_path, {"kg": FakeRoute("kg")})
    with served(app, http) as base:
        outcomes = [_raw_post(base, MEGABYTE_BODY, "connection: close\r\n") for _ in range(TRIES)]
    assert outcomes == ["HTTP/1.1 413 Request Entity Too Large"] * TRIES


def test_a_refused_key_with_a_large_body_gets_its_401_not_a_reset(tmp_path):
    key_table(tmp_path).create("someone", 60, Decimal(1))
    app, _ = make_app(tmp_path, {"kg": FakeRoute("kg")}, gateway_auth=True)
    with served(app) as base:
        outcomes = [_raw_post(base, MEGABYTE_BODY, "connection: close\r\n") for _ in range(TRIES)]
    assert outcomes == ["HTTP/1.1 401 Unauthorized"] * TRIES


def test_httpx_gets_the_413_json_for_a_megabyte_body_every_time(tmp_path):
    app, _ = make_app(tmp_path, {"kg": FakeRoute("kg")})
    with served(app) as base, httpx.Client(base_url=base, timeout=10) as client:
        replies = [
            client.post(
                "/v1/chat/completions", content=MEGABYTE_BODY, headers={"content-type": "application/json"}
            )
            for _ in range(TRIES)
        ]
    assert [reply.status_code for reply in replies] == [413] * TRIES
    assert {reply.json()["error"]["code"] for reply in replies} == {"request_too_large"}


def test_a_body_past_the_drain_limit_is_not_read_to_its_end(tmp_path):
    app, _ = make_app(tmp_path, {"kg": FakeRoute("kg")}, gateway_drain_bytes=0)
    with served(app) as base:
        outcomes = [_raw_post(base, MEGABYTE_BODY * 4, "connection: close\r\n") for _ in range(4)]
    # The server stopped reading: the client's send fails at least once in four tries.
    assert any(not outcome.startswith("HTTP/1.1") for outcome in outcomes)
