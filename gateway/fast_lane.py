"""The chat endpoints straight to their handlers, past Starlette's exception layer and FastAPI's routing.

On a forwarded chat request those layers (ExceptionMiddleware, the router's path matching twice, the
included router, the endpoint wrapper and its exit stack) took ~11% of the gateway worker's CPU, as much
as its PostgreSQL admission. The handlers stay registered on the FastAPI router (the OpenAPI document,
405 for another method); this lane only calls the same functions sooner. Our handlers catch their own
refusals; anything unforeseen still reaches ServerErrorMiddleware, outside this lane, which answers
with the app's OpenAI-shaped 500.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

Handler = Callable[[Request], Awaitable[Response]]


class FastLane:
    def __init__(self, app: ASGIApp, router: APIRouter, paths: Collection[str]):
        self.app = app
        self._handlers: dict[str, Handler] = {
            route.path: route.endpoint
            for route in router.routes
            if isinstance(route, APIRoute) and route.path in paths and "POST" in (route.methods or ())
        }
        missing = set(paths) - set(self._handlers)
        if missing:
            raise ValueError(f"no POST handler for {', '.join(sorted(missing))} on the router")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = self._handlers.get(scope["path"]) if scope["type"] == "http" else None
        if handler is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        response = await handler(Request(scope, receive))
        await response(scope, receive, send)
