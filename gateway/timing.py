"""Times and counts every /v1 request as pure ASGI middleware.

BaseHTTPMiddleware would add a task and a body copy per request; this adds two perf_counter calls.
The handler adds its route time to the request's Clock, so the overhead histogram is the gateway's own.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.metrics import GatewayMetrics
from gateway.service import Clock

CLOCK = "kgft.clock"  # the scope key handlers read their Clock from


class MeteredApp:
    def __init__(self, app: ASGIApp, metrics: GatewayMetrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        clock = scope[CLOCK] = Clock()
        started = time.perf_counter()
        status = 500

        async def timed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            seconds = time.perf_counter() - started
            self.metrics.finished(clock.route or "none", status, seconds)
            if clock.route is not None and status == 200:
                self.metrics.overhead.observe(seconds - clock.waited_s - clock.body_s)
                self.metrics.route_hop.observe(clock.waited_s - clock.route_s)
