"""The gateway app: one FastAPI app wiring routes, routing, keys, limits, logging and metrics together."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Collection, Mapping
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from gateway.api import api_router
from gateway.body_drain import DrainRefusedBodies
from gateway.budget import CostEstimator
from gateway.counters import Counters, LocalCounters
from gateway.dispatch import Dispatcher
from gateway.errors import error_response
from gateway.fast_lane import FastLane
from gateway.keys import KeyRing, KeyTable
from gateway.log_writer import LogWriter
from gateway.metrics import GatewayMetrics
from gateway.route_table import RouteTable
from gateway.routing import Router
from gateway.service import Gateway
from gateway.shared_state import SharedCounters
from gateway.timing import MeteredApp
from gateway.web import build_router
from kgft.contract import Route
from kgft.errors import KgftError
from kgft.pricing import PriceBook
from kgft.results_store import ResultStore
from kgft.routes import route_names
from kgft.settings import Settings

log = logging.getLogger("kgft.gateway")
_FAST_PATHS = ("/v1/chat/completions", "/v1/answer")  # the endpoints that call routes (gateway/fast_lane.py)


def create_app(
    settings: Settings,
    prices: PriceBook,
    *,
    routes: Mapping[str, Route] | None = None,
    store: ResultStore | None = None,
    inline_routes: Collection[str] = (),
) -> FastAPI:
    """`routes` replaces building `settings.gateway_routes` (tests, benchmarks); `inline_routes` are
    called on the event loop with no thread hop and no timeout: only for routes that answer instantly.

    Configuration mistakes raise KgftError here, before anything listens.
    """
    names = list(routes) if routes is not None else list(settings.gateway_routes)
    unknown = [name for name in names if routes is None and name not in route_names()]
    if unknown:
        raise KgftError(
            f"unknown route(s) {', '.join(unknown)}; the gateway serves: {', '.join(route_names())}"
        )
    default = settings.gateway_default or (names[0] if names else "")
    router = Router(names, settings.gateway_experiments, default, settings.gateway_route_timeout_s)
    table = RouteTable(names, routes)
    owns_store = store is None
    results = store if store is not None else ResultStore(settings.store_url)
    metrics = GatewayMetrics()
    writer = LogWriter(results, metrics.rows_lost.inc)
    dispatcher = Dispatcher(
        table,
        threads=settings.gateway_threads,
        concurrency=settings.gateway_route_concurrency,
        shadow_queue=settings.gateway_shadow_queue,
        inline=inline_routes,
        default_concurrency=settings.gateway_default_concurrency,
        queue=settings.gateway_route_queue,
    )
    keys = _key_ring(settings, results) if settings.gateway_auth else None
    counters = counters_for(results)
    estimator = CostEstimator(prices, settings.max_tokens)
    gateway = Gateway(
        router=router,
        dispatcher=dispatcher,
        keys=keys,
        writer=writer,
        metrics=metrics,
        estimator=estimator,
        counters=counters,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(counters.start)
        writer.start()
        table.start_building(settings, prices)
        if keys is None:
            log.warning("gateway_auth is off: anyone who can reach this port can spend on its routes")
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(dispatcher.close)
            await anyio.to_thread.run_sync(writer.close)
            await anyio.to_thread.run_sync(counters.close)
            table.close()
            if owns_store:
                results.close()

    app = FastAPI(title="kgft gateway", version="1", lifespan=lifespan)
    api = api_router(
        gateway,
        table,
        results,
        writer,
        domain=settings.gateway_domain,
        max_body_bytes=settings.gateway_max_body_bytes,
        max_tokens_cap=settings.max_request_tokens,
    )
    app.include_router(api)
    app.include_router(build_router(settings.reports_dir))
    _openai_errors(app)
    app.add_middleware(FastLane, router=api, paths=_FAST_PATHS)
    app.add_middleware(MeteredApp, metrics=metrics)
    app.add_middleware(DrainRefusedBodies, limit_bytes=settings.gateway_drain_bytes)
    app.state.gateway = gateway
    return app


def counters_for(results: ResultStore) -> Counters:
    """In memory for one process on SQLite; in the database on PostgreSQL, where other workers and
    hosts may share it."""
    if results.url.startswith("sqlite"):
        return LocalCounters(results.engine)
    return SharedCounters(results.url)


def _key_ring(settings: Settings, results: ResultStore) -> KeyRing:
    table = KeyTable(results.engine)
    moved = table.import_file(settings.keys_path)
    if moved:
        log.info("moved %d API keys from %s into the results store", moved, settings.keys_path)
    return KeyRing(table)


def app_from_env() -> FastAPI:
    """`kgft serve --workers N`: each uvicorn worker builds its app from the settings the CLI passed
    down in the environment (KGFT_*)."""
    settings = Settings()
    return create_app(settings, PriceBook.load(settings.prices, utilisation=settings.local_utilisation))


def _openai_errors(app: FastAPI) -> None:
    """Unknown paths, wrong methods and anything unforeseen answer in OpenAI's error shape too."""

    async def http_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        return error_response(exc.status_code, message, "invalid_request_error", headers=exc.headers)

    async def validation_error(_: Request, exc: Exception) -> Response:
        return error_response(400, str(exc).splitlines()[0], "invalid_request_error", "invalid_request")

    async def unexpected(_: Request, exc: Exception) -> Response:
        log.error("unexpected error", exc_info=exc)
        return error_response(500, f"internal error ({type(exc).__name__}); see the gateway log", "api_error")

    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, unexpected)
