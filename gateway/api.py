"""The HTTP endpoints: each turns a request into a Gateway call and the result into a response.

Handlers read the raw body and validate it themselves, so every refusal is OpenAI's error JSON (never
FastAPI's 422 shape) and the size limit is checked before a large body is read.
"""

from __future__ import annotations

import time
from functools import partial

import anyio
import orjson
from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import Response

from gateway.chat import ChatRequest, completion, to_question
from gateway.errors import ApiError, parse
from gateway.keys import ApiKey
from gateway.log_writer import LogWriter
from gateway.native import AnswerRequest, FeedbackRequest, answer_body
from gateway.route_table import RouteTable
from gateway.service import Caller, Clock, Gateway, new_response_id
from gateway.streaming import stream_completion
from gateway.timing import CLOCK
from kgft.contract import Domain
from kgft.results_store import ResultStore, StoreError

_JSON = "application/json"


def _json(body: object, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status, media_type=_JSON)


async def read_body(request: Request, limit: int, clock: Clock) -> bytes:
    """The body, refused with 413 as soon as it passes `limit` bytes (declared or streamed)."""
    too_large = ApiError(
        413, f"request body is larger than {limit} bytes", code="request_too_large", reason="too_large"
    )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    started = time.perf_counter()
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise too_large
    finally:
        clock.body_s += time.perf_counter() - started
    return bytes(body)


def api_router(
    gateway: Gateway,
    table: RouteTable,
    store: ResultStore,
    writer: LogWriter,
    *,
    domain: Domain,
    max_body_bytes: int,
    max_tokens_cap: int,
) -> APIRouter:
    router = APIRouter()
    started_at = int(time.time())

    def refused(exc: ApiError) -> Response:
        if exc.status < 500:
            gateway.metrics.rejections.labels(exc.reason).inc()
        return exc.response()

    async def admitted(request: Request) -> ApiKey | None:
        """For requests that run no route: the key, counted against its rate."""
        key = await gateway.authenticate(request.headers.get("authorization"))
        await gateway.admit(key)
        return key

    @router.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        """OpenAI chat completions; `model` is a route, an experiment or `auto`."""
        clock: Clock = request.scope[CLOCK]
        try:
            key = await gateway.authenticate(request.headers.get("authorization"))
            chat = parse(ChatRequest, await read_body(request, max_body_bytes, clock))
            user = chat.user or request.headers.get("x-kgft-user")
            plan = gateway.plan(chat.model, user, key)
            question = to_question(chat, new_response_id("chatcmpl"), domain, max_tokens_cap=max_tokens_cap)
            caller = Caller(key, user, await gateway.admit(key, plan, question))
            if chat.stream:
                include_usage = chat.stream_options is not None and chat.stream_options.include_usage
                return await stream_completion(gateway, question, plan, caller, clock, include_usage)
            served = await gateway.serve(question, plan, caller, clock, "chat")
        except ApiError as exc:
            return refused(exc)
        cost = served.cost()
        return Response(
            completion(question, served, served.summary(cost)), headers=served.headers(cost), media_type=_JSON
        )

    @router.post("/v1/answer")
    async def answer(request: Request) -> Response:
        """kgft's own contract: a Question in, the Answer (with citations and cost) out."""
        clock: Clock = request.scope[CLOCK]
        try:
            key = await gateway.authenticate(request.headers.get("authorization"))
            asked = parse(AnswerRequest, await read_body(request, max_body_bytes, clock))
            user = asked.user or request.headers.get("x-kgft-user")
            plan = gateway.plan(asked.target, user, key)
            question = asked.question(new_response_id("answer"), domain)
            caller = Caller(key, user, await gateway.admit(key, plan, question))
            served = await gateway.serve(question, plan, caller, clock, "answer")
        except ApiError as exc:
            return refused(exc)
        cost = served.cost()
        return Response(answer_body(served, cost), headers=served.headers(cost), media_type=_JSON)

    @router.post("/v1/feedback")
    async def feedback(request: Request) -> Response:
        """A user's verdict on a served answer; it joins the live rows' `correct` in reports."""
        clock: Clock = request.scope[CLOCK]
        try:
            key = await admitted(request)
            verdict = parse(FeedbackRequest, await read_body(request, max_body_bytes, clock))
            await anyio.to_thread.run_sync(writer.flush)  # the answer may still be on its way to the store
            # A key may label only the answers served to it; with auth off anyone may label any answer.
            owner = key.name if key is not None else None
            try:
                known = await anyio.to_thread.run_sync(
                    partial(store.record_feedback, owner=owner),
                    verdict.response_id,
                    verdict.correct,
                    verdict.rating,
                )
            except StoreError as exc:
                raise ApiError(
                    503, str(exc), type="api_error", code="store_unavailable", reason="store"
                ) from exc
            if not known:
                raise ApiError(
                    404,
                    f"no served answer has response_id '{verdict.response_id}'",
                    param="response_id",
                    code="response_not_found",
                    reason="unknown_response",
                )
        except ApiError as exc:
            return refused(exc)
        return _json({"response_id": verdict.response_id, "recorded": True})

    @router.get("/v1/models")
    async def models(request: Request) -> Response:
        try:
            await admitted(request)
        except ApiError as exc:
            return refused(exc)
        data = [
            {"id": name, "object": "model", "created": started_at, "owned_by": "kgft"}
            for name in gateway.router.models()
        ]
        return _json({"object": "list", "data": data})

    @router.get("/healthz")
    async def healthz() -> Response:
        """The process answers; says nothing about routes (that is /readyz)."""
        return _json({"status": "ok"})

    @router.get("/readyz")
    async def readyz() -> Response:
        """200 once every route is built and the results store answers; 503 with the reason until then."""
        routes = table.states()
        try:
            await anyio.to_thread.run_sync(store.ping)
            store_state = "ok"
        except StoreError as exc:
            store_state = str(exc)
        problems = [f"route '{name}': {state}" for name, state in routes.items() if state != "ready"]
        if store_state != "ok":
            problems.append(store_state)
        if not writer.running:
            problems.append("the gateway has not started (lifespan not run)")
        body = {"status": "ready" if not problems else "not ready", "routes": routes, "store": store_state}
        if problems:
            return _json(body | {"reason": "; ".join(problems)}, 503)
        return _json(body)

    @router.get("/metrics")
    async def metrics() -> Response:
        return Response(gateway.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return router
