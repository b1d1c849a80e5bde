"""Reads and discards what is left of a refused request's body before the refusal is sent.

A response that leaves while the client is still sending (401 before the body is read, 413 once it
passes the limit) is followed by uvicorn closing the socket when the connection is not kept alive
(`Connection: close`, HTTP/1.0, most proxies): unread bytes in the server's receive buffer make the
kernel send a reset, and the client sees "connection reset" or a broken pipe instead of the JSON error.
Drained first, the socket closes cleanly. Past `limit_bytes` the rest is left unread (a reset again):
the gateway will not read an unbounded upload only to refuse it.
"""

from __future__ import annotations

import asyncio
import contextlib

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_DRAIN_S = 5.0  # a client that uploads slower than this is not waited for


class DrainRefusedBodies:
    def __init__(self, app: ASGIApp, limit_bytes: int):
        self.app = app
        self.limit_bytes = limit_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        pending = True  # the client has more body to send

        async def tracked_receive() -> Message:
            nonlocal pending
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                pending = False
            return message

        async def drained_send(message: Message) -> None:
            nonlocal pending
            if message["type"] == "http.response.start" and pending:
                pending = False
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(_DRAIN_S):
                        await self._drain(receive)
            await send(message)

        await self.app(scope, tracked_receive, drained_send)

    async def _drain(self, receive: Receive) -> None:
        read = 0
        while read <= self.limit_bytes:
            message = await receive()
            if message["type"] != "http.request":
                return
            read += len(message.get("body", b""))
            if not message.get("more_body", False):
                return
