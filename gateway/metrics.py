"""Prometheus metrics in the gateway's own registry, so two apps in one process never share counters.

Under `kgft serve --workers N`, prometheus_client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR, which
the library itself reads at import) keeps each worker's values in files that /metrics adds up.
"""

from __future__ import annotations

import os
from decimal import Decimal

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

# The overhead budget is p50 1 ms and p99 5 ms, so buckets are fine-grained below 10 ms.
_OVERHEAD_BUCKETS = (
    0.00005, 0.0001, 0.0002, 0.0003, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01,
    0.025, 0.05,
)  # fmt: skip
_LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "kgft_requests", "API requests by served route and HTTP status", ["route", "status"], registry=r
        )
        self.latency = Histogram(
            "kgft_request_latency_seconds",
            "Time from request to response, by served route",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.overhead = Histogram(
            "kgft_gateway_overhead_seconds",
            "Time in the gateway per answered request, less route calls (and their thread hop, see "
            "kgft_route_hop_seconds) and less waiting for the client's body",
            buckets=_OVERHEAD_BUCKETS,
            registry=r,
        )
        self.route_hop = Histogram(
            "kgft_route_hop_seconds",
            "Per answered request, time parked on route calls beyond the calls themselves: the hop to the "
            "route's thread and back, waiting for the route's turn, and event-loop queueing",
            buckets=_OVERHEAD_BUCKETS,
            registry=r,
        )
        self.tokens = Counter(
            "kgft_tokens", "Tokens of served answers by route", ["route", "kind"], registry=r
        )
        self.cost = Counter("kgft_cost_usd", "Runtime cost of served answers by route", ["route"], registry=r)
        self.fallbacks = Counter(
            "kgft_fallbacks",
            "Answers given by a fallback route",
            ["from_route", "to_route", "why"],
            registry=r,
        )
        self.shadow_runs = Counter(
            "kgft_shadow_runs", "Shadow runs by route and outcome (ok, error, dropped)", ["route", "outcome"],
            registry=r,
        )  # fmt: skip
        self.rejections = Counter(
            "kgft_rejections", "Requests refused before any route ran, by reason", ["reason"], registry=r
        )
        self.rows_lost = Counter(
            "kgft_log_rows_lost", "Answers the results store could not take after retries", registry=r
        )

    def answered(self, route: str, prompt_tokens: int, completion_tokens: int, cost_usd: Decimal) -> None:
        self.tokens.labels(route, "prompt").inc(prompt_tokens)
        self.tokens.labels(route, "completion").inc(completion_tokens)
        self.cost.labels(route).inc(float(cost_usd))

    def finished(self, route: str, status: int, seconds: float) -> None:
        self.requests.labels(route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def render(self) -> bytes:
        folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if not folder:
            return generate_latest(self.registry)
        every_worker = CollectorRegistry()
        multiprocess.MultiProcessCollector(every_worker, path=folder)
        return generate_latest(every_worker)
