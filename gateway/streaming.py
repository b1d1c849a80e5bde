"""Streamed chat completions: chunks leave while the route writes its answer, not after it.

The response starts with the first text piece, so a route that fails before writing anything is refused
or falls back exactly as a whole answer is (same status, same headers); once text has left, a failure ends
the stream with an error event. The answer is served in a task of its own, so it is charged and logged
even when the client goes away mid-stream. Options read from the message's text are answered whole: the
reply is the pick in the instruction's format, which exists only once the route has picked.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from starlette.responses import Response, StreamingResponse

from gateway.chat import Chunks, event_stream, options_from_text
from gateway.errors import ApiError
from gateway.routing import Plan
from gateway.service import Caller, Clock, Gateway, Served
from kgft.contract import Question

_SSE = "text/event-stream"
_NO_CACHE = {"cache-control": "no-cache"}
# (route, text piece) while the route writes; None once the answer is served or has failed.
_Pieces = asyncio.Queue[tuple[str, str] | None]
_serving: set[asyncio.Task[Served]] = set()  # the loop holds tasks weakly; these must outlive their client


async def stream_completion(
    gateway: Gateway, question: Question, plan: Plan, caller: Caller, clock: Clock, include_usage: bool
) -> Response:
    """Raises ApiError, as `Gateway.serve` does, when the answer fails before any text was written."""
    pieces: _Pieces = asyncio.Queue()
    on_text = None if options_from_text(question) else lambda route, text: pieces.put_nowait((route, text))
    serving = asyncio.ensure_future(gateway.serve(question, plan, caller, clock, "chat", on_text))
    _serving.add(serving)

    def served_or_failed(task: asyncio.Task[Served]) -> None:
        _serving.discard(task)
        if not task.cancelled():
            task.exception()  # marks a failure as seen: the gateway has logged it, and a client may be gone
        pieces.put_nowait(None)

    serving.add_done_callback(served_or_failed)
    first = await pieces.get()
    if first is None:  # the route answers whole, or failed before writing
        served = serving.result()
        cost = served.cost()
        body = event_stream(question, served, served.summary(cost), include_usage)
        return Response(body, headers=served.headers(cost) | _NO_CACHE, media_type=_SSE)
    route, text = first
    # The cost is not known yet: it comes in the finishing chunk's `kgft` object.
    headers = {"x-kgft-route": route, "x-kgft-response-id": question.id} | _NO_CACHE
    if route != plan.route:
        headers["x-kgft-fallback-from"] = plan.route
    chunks = Chunks(question.id, int(time.time()), route)
    events = _events(chunks, text, pieces, serving, include_usage)
    return StreamingResponse(events, headers=headers, media_type=_SSE)


async def _events(
    chunks: Chunks, first: str, pieces: _Pieces, serving: asyncio.Future[Served], include_usage: bool
) -> AsyncIterator[bytes]:
    yield chunks.opening(first)
    while (piece := await pieces.get()) is not None:
        yield chunks.text(piece[1])
    try:
        served = serving.result()
    except ApiError as exc:  # already logged and counted by the gateway
        yield chunks.error(exc)
        return
    yield chunks.closing(served, served.summary(served.cost()), include_usage)
