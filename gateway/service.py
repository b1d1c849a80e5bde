"""What the gateway does for one request, whatever its wire format: admit, route, answer, charge, log.

Every attempt is a row under the request's response id: the served answer, a failed primary that a
fallback replaced, a shadow run, and a call that timed out (logged and charged when it ends).
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from typing import Any

from gateway.budget import CHARGED, CostEstimator, Hold, OverBudget, charge_for
from gateway.counters import Counters, RateLimited, StateUnavailable
from gateway.dispatch import Call, Dispatcher, RouteFailure, TextRelay
from gateway.errors import ApiError
from gateway.keys import ApiKey, KeyRing
from gateway.limits import seconds_to_next_month
from gateway.log_writer import LogWriter
from gateway.metrics import GatewayMetrics
from gateway.routing import Plan, Router, UnknownModel
from kgft.answer_labels import answer_labels
from kgft.contract import Answer, Question
from kgft.pricing import money
from kgft.results_store import LIVE_RUN, ResultRow

_LOADING_RETRY_S = "5"
# Receives (route, text piece) on the event loop while a streaming route writes its answer.
RouteText = Callable[[str, str], None]


class Clock:
    """Per-request timing shared with the ASGI middleware.

    The gateway's overhead is its total time less the time parked on route calls (`waited_s`, which
    includes the hop to the route's thread) and on the client's body; `waited_s - route_s` is the hop.
    """

    __slots__ = ("body_s", "route", "route_s", "waited_s")

    def __init__(self) -> None:
        self.route: str | None = None
        self.route_s = 0.0
        self.waited_s = 0.0
        self.body_s = 0.0

    def add(self, call: Call) -> None:
        self.route_s += call.seconds
        self.waited_s += call.waited_s


@dataclass(frozen=True)
class Caller:
    key: ApiKey | None
    user: str | None
    hold: Hold | None = None  # the budget reserved for this request's call


@dataclass(frozen=True)
class Served:
    """One answered request, with what every response format reports about it."""

    response_id: str
    created: int
    plan: Plan
    answer: Answer
    fallback: dict[str, str] | None
    shadow_queued: bool
    charged_usd: Decimal | None = None  # what the key paid; None with auth off

    @property
    def route(self) -> str:
        return self.answer.route

    def cost(self) -> dict[str, Any]:
        return self.answer.cost.model_dump(mode="json")

    def headers(self, cost: dict[str, Any]) -> dict[str, str]:
        headers = {
            "x-kgft-route": self.answer.route,
            "x-kgft-cost-usd": cost["runtime_usd"],
            "x-kgft-response-id": self.response_id,
        }
        if self.fallback is not None:
            headers["x-kgft-fallback-from"] = self.fallback["from"]
        return headers

    def summary(self, cost: dict[str, Any]) -> dict[str, Any]:
        """The `kgft` object added to OpenAI-shaped bodies."""
        answer = self.answer
        return {
            "response_id": self.response_id,
            "route": answer.route,
            "requested": self.plan.requested,
            "experiment": self.plan.experiment,
            "sticky": self.plan.sticky,
            "model": answer.model,
            "cost": cost,
            "charged_usd": None if self.charged_usd is None else format(self.charged_usd, "f"),
            "citations": [citation.model_dump() for citation in answer.citations],
            "choice": answer.choice,
            "abstained": answer.abstained,
            "abstain_reason": answer.abstain_reason,
            "fallback": self.fallback,
            "shadow": self.plan.shadow if self.shadow_queued else None,
            "timings": answer.timings.model_dump(),
        }


def new_response_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(12)}"


class Gateway:
    def __init__(
        self,
        *,
        router: Router,
        dispatcher: Dispatcher,
        keys: KeyRing | None,
        writer: LogWriter,
        metrics: GatewayMetrics,
        estimator: CostEstimator,
        counters: Counters,
    ):
        self.router = router
        self.dispatcher = dispatcher
        self.keys = keys
        self.writer = writer
        self.metrics = metrics
        self.estimator = estimator
        self.counters = counters

    async def authenticate(self, authorization: str | None) -> ApiKey | None:
        """The caller's key, or None when auth is off; 401 for a missing or unknown key."""
        if self.keys is None:
            return None
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(
                401,
                "missing API key: send 'Authorization: Bearer kgft-…' (`kgft keys create NAME` makes one)",
                code="missing_api_key",
                reason="auth",
            )
        key = await self.keys.find(token.strip())
        if key is None:
            raise ApiError(401, "invalid API key", code="invalid_api_key", reason="auth")
        return key

    async def admit(
        self, key: ApiKey | None, plan: Plan | None = None, question: Question | None = None
    ) -> Hold | None:
        """Counts the request against the key's rate and, given the call, holds its estimated cost
        against the key's month: 429 when either is spent, 503 when the shared counters are away."""
        if key is None:
            return None
        estimate = None if plan is None or question is None else self.estimator.estimate(plan.route, question)
        try:
            return await self.counters.admit(key, estimate)
        except RateLimited as limited:
            retry = max(1, math.ceil(limited.wait_s))
            raise ApiError(
                429,
                f"key '{key.name}' reached its rate limit of {key.rpm} requests/minute; retry in {retry} s",
                type="requests",
                code="rate_limit_exceeded",
                reason="rate_limit",
                headers={"retry-after": str(retry)},
            ) from limited
        except OverBudget as over:
            route = plan.route if plan is not None else "?"
            raise ApiError(
                429,
                f"key '{key.name}' has spent {_usd(over.spent)} and holds {_usd(over.held)} for calls in "
                f"flight of its {_usd(key.budget_usd)} budget for {over.month}; this call may cost up to "
                f"{_usd(over.estimate)} (max_tokens × route '{route}' price); it renews on the 1st "
                "(UTC), or ask for a larger budget or a smaller max_tokens",
                type="insufficient_quota",
                code="insufficient_quota",
                reason="budget",
                headers={"retry-after": str(seconds_to_next_month(datetime.now(UTC)))},
            ) from over
        except StateUnavailable as away:
            raise _state_error(away) from away

    def plan(self, model: str, user: str | None, key: ApiKey | None) -> Plan:
        try:
            return self.router.plan(model, user, key.name if key is not None else None)
        except UnknownModel as exc:
            raise ApiError(
                404, str(exc), param="model", code="model_not_found", reason="unknown_model"
            ) from exc

    async def serve(
        self,
        question: Question,
        plan: Plan,
        caller: Caller,
        clock: Clock,
        endpoint: str,
        on_text: RouteText | None = None,
    ) -> Served:
        """The question's id is the response id: live and shadow rows share it as their item id.

        With `on_text`, a streaming route's text goes to it as written. A route that fails after writing
        some is not replaced by its fallback: the client already has part of its answer.
        """
        response_id = question.id
        meta = _meta(caller, plan, endpoint)
        fallback = None
        relay = _relay(on_text, plan.route)
        hold = caller.hold
        try:
            call = await self._attempt(plan.route, question, plan, meta, relay, hold)
        except RouteFailure as failed:
            clock.route_s += failed.seconds
            clock.waited_s += failed.seconds
            if plan.fallback is None or (relay is not None and relay.wrote):
                clock.route = plan.route
                raise _route_error(failed) from failed
            key = caller.key
            hold = None if key is None else await self._fallback_hold(key, plan.fallback, question)
            call = await self._fall_back(question, plan, failed, clock, meta, on_text, hold)
            fallback = {"from": plan.route, "reason": str(failed)}
        clock.add(call)
        clock.route = call.answer.route
        shadow = plan.shadow if plan.shadow != call.answer.route else None
        queued = shadow is not None and self._shadow(question, shadow, meta)
        charged = self._account(question, call.answer, hold, clock.waited_s, meta, fallback)
        return Served(response_id, int(time.time()), plan, call.answer, fallback, queued, charged)

    async def _attempt(
        self,
        route: str,
        question: Question,
        plan: Plan,
        meta: dict[str, Any],
        relay: TextRelay | None,
        hold: Hold | None,
    ) -> Call:
        """One route call. A failure is logged (its hold settled at $0) before it is raised, except a
        timeout: that call still runs, and is logged and charged when it ends."""
        late = partial(self._late, question, route, meta, hold, plan.timeout_s)
        try:
            return await self.dispatcher.call(route, question, plan.timeout_s, relay, late)
        except RouteFailure as failed:
            if failed.why != "timeout":
                if hold is not None:
                    self.counters.settle(hold, Decimal(0))
                self.writer.put(_failed_row(question, failed, meta, "live"))
            raise

    def _late(
        self,
        question: Question,
        route: str,
        meta: dict[str, Any],
        hold: Hold | None,
        timeout_s: float,
        call: Call | None,
        failure: RouteFailure | None,
    ) -> None:
        """How a timed-out call ended (on its worker thread): its row, and its charge."""
        if call is None:
            assert failure is not None
            if hold is not None:
                self.counters.settle(hold, Decimal(0))
            self.writer.put(_failed_row(question, failure, meta, "live"))
            return
        answer = call.answer
        self.estimator.observe(answer)
        charged = charge_for(answer, hold)
        if hold is not None:
            self.counters.settle(hold, charged)
            meta = meta | {CHARGED: format(charged, "f")}
        usd = answer.cost.runtime_usd
        self.metrics.answered(route, answer.usage.prompt_tokens, answer.usage.completion_tokens, usd)
        error = (
            f"route '{route}' gave no answer within {timeout_s:g} s; it answered after {call.seconds:.3f} s"
        )
        row = _answer_row(question, answer, meta, "live", call.seconds * 1000, None, question.id)
        self.writer.put(replace(row, error=error))

    async def _fallback_hold(self, key: ApiKey, route: str, question: Question) -> Hold:
        estimate = self.estimator.estimate(route, question)
        try:
            return await self.counters.extend(key, estimate)
        except StateUnavailable as away:
            raise _state_error(away) from away

    async def _fall_back(
        self,
        question: Question,
        plan: Plan,
        failed: RouteFailure,
        clock: Clock,
        meta: dict[str, Any],
        on_text: RouteText | None,
        hold: Hold | None,
    ) -> Call:
        assert plan.fallback is not None
        relay = _relay(on_text, plan.fallback)
        try:
            call = await self._attempt(plan.fallback, question, plan, meta, relay, hold)
        except RouteFailure as second:
            clock.route_s += second.seconds
            clock.waited_s += second.seconds
            clock.route = plan.fallback
            raise _route_error(second, first=failed) from second
        self.metrics.fallbacks.labels(plan.route, plan.fallback, failed.why).inc()
        return call

    def _account(
        self,
        question: Question,
        answer: Answer,
        hold: Hold | None,
        route_s: float,
        meta: dict[str, Any],
        fallback: dict[str, str] | None,
    ) -> Decimal | None:
        """Settles the hold with what the key pays and logs the served row; returns the charge."""
        self.estimator.observe(answer)
        charged = None
        if hold is not None:
            charged = charge_for(answer, hold)
            self.counters.settle(hold, charged)
            meta = meta | {CHARGED: format(charged, "f")}
        usd = answer.cost.runtime_usd
        self.metrics.answered(answer.route, answer.usage.prompt_tokens, answer.usage.completion_tokens, usd)
        fallback_from = fallback["from"] if fallback else None
        self.writer.put(
            _answer_row(question, answer, meta, "live", route_s * 1000, fallback_from, question.id)
        )
        return charged

    def _shadow(self, question: Question, route: str, meta: dict[str, Any]) -> bool:
        """Queues the shadow run; its row shares the response id, so feedback on the answer labels both."""

        def done(answer: Answer | None, error: str | None, seconds: float) -> None:
            self.metrics.shadow_runs.labels(route, "error" if answer is None else "ok").inc()
            if answer is None:
                failure = RouteFailure(route, "error", error or "failed", seconds)
                self.writer.put(_failed_row(question, failure, meta, "shadow"))
            else:
                row = _answer_row(question, answer, meta, "shadow", seconds * 1000, None, question.id)
                self.writer.put(row)

        queued = self.dispatcher.shadow(route, question, done)
        if not queued:
            self.metrics.shadow_runs.labels(route, "dropped").inc()
        return queued


def _usd(value: Decimal) -> str:
    return "$0" if value == 0 else money(value)


def _state_error(away: StateUnavailable) -> ApiError:
    """503 with the reason: admitting without the shared counters would let every host spend alone."""
    return ApiError(
        503,
        f"{away}; nothing was run or charged, retry shortly",
        type="api_error",
        code="state_unavailable",
        reason="store",
        headers={"retry-after": "1"},
    )


def _relay(on_text: RouteText | None, route: str) -> TextRelay | None:
    return None if on_text is None else TextRelay(partial(on_text, route))


def _meta(caller: Caller, plan: Plan, endpoint: str) -> dict[str, Any]:
    """Row metadata; `key` is what seeds the monthly budgets after a restart."""
    meta = {
        "key": caller.key.name if caller.key else None,
        "user": caller.user,
        "endpoint": endpoint,
        "requested": plan.requested,
        "experiment": plan.experiment,
        "sticky": plan.sticky,
    }
    return {name: value for name, value in meta.items() if value is not None}


def _answer_row(
    question: Question,
    answer: Answer,
    meta: dict[str, Any],
    source: str,
    latency_ms: float,
    fallback_from: str | None,
    response_id: str | None,
) -> ResultRow:
    return ResultRow(
        run_id=LIVE_RUN,
        item_id=question.id,
        route=answer.route,
        question=question.text,
        answer_text=answer.text,
        runtime_cost_usd=answer.cost.runtime_usd,
        priced=answer.cost.priced,
        category=question.domain,
        choice=answer.choice,
        abstained=answer.abstained,
        prompt_tokens=answer.usage.prompt_tokens,
        completion_tokens=answer.usage.completion_tokens,
        reasoning_tokens=answer.usage.reasoning_tokens,
        latency_ms=latency_ms,
        citations=[citation.model_dump() for citation in answer.citations],
        source=source,
        response_id=response_id,
        fallback_from=fallback_from,
        meta=meta | answer_labels(answer),
    )


def _failed_row(question: Question, failed: RouteFailure, meta: dict[str, Any], source: str) -> ResultRow:
    """A route that gave no answer is logged too, so failure rates show in the live report."""
    return ResultRow(
        run_id=LIVE_RUN,
        item_id=question.id,
        route=failed.route,
        question=question.text,
        answer_text="",
        runtime_cost_usd=Decimal(0),
        priced=False,
        category=question.domain,
        latency_ms=failed.seconds * 1000,
        error=str(failed),
        source=source,
        response_id=question.id,
        meta=meta,
    )


def _route_error(failed: RouteFailure, first: RouteFailure | None = None) -> ApiError:
    """400 for a prompt longer than the model's context (OpenAI's context_length_exceeded), 502 for a route
    that raised, 504 for one that timed out, 503 for one not loaded."""
    message = str(failed) if first is None else f"{first}; fallback {failed}"
    if failed.why == "too_long":
        return ApiError(400, message, type="invalid_request_error", code="context_length_exceeded")
    if failed.why == "timeout":
        return ApiError(504, message, type="api_error", code="route_timeout", reason="route")
    if failed.why == "busy":
        return ApiError(
            503,
            message,
            type="api_error",
            code="route_busy",
            reason="busy",
            headers={"retry-after": str(failed.retry_after_s)},
        )
    if failed.why == "unavailable":
        return ApiError(
            503,
            message,
            type="api_error",
            code="route_unavailable",
            reason="route",
            headers={"retry-after": _LOADING_RETRY_S},
        )
    return ApiError(502, message, type="api_error", code="route_error", reason="route")
