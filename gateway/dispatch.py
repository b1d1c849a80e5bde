"""Calling routes: sync route code runs in worker threads so the event loop stays free, with a timeout.

Each route takes a bounded number of calls at once (1 unless configured): the KG route shares one
graph connection and local models gain nothing from a second caller on the same cores. Shadow runs have
their own single thread and a bounded queue, so they never hold up a served answer for long. A streaming
route's text pieces hop back to the event loop through a TextRelay as it writes them.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace

from gateway.route_table import RouteTable, RouteUnavailable
from kgft.contract import Answer, OnText, Question, Route, StreamingRoute
from kgft.errors import ContextLengthError, KgftError

log = logging.getLogger("kgft.gateway")
_MESSAGE_CHARS = 300

ShadowDone = Callable[[Answer | None, str | None, float], None]


class RouteFailure(Exception):
    """A route raised, timed out or is not loaded; `why` is error, too_long, timeout or unavailable."""

    def __init__(self, route: str, why: str, message: str, seconds: float):
        super().__init__(message)
        self.route = route
        self.why = why
        self.seconds = seconds


@dataclass(frozen=True)
class Call:
    answer: Answer
    seconds: float  # inside route.answer() only
    waited_s: float  # on the event loop: the route call plus the hop to and from its thread


class TextRelay:
    """Carries a streaming route's text pieces from its worker thread to `on_text` on the event loop.

    The dispatcher closes it when the call ends or is given up: a call that timed out may still be
    writing, and its late pieces must reach neither the client nor a fallback's stream.
    """

    def __init__(self, on_text: OnText):
        self._loop = asyncio.get_running_loop()
        self._on_text = on_text
        self._open = True
        self.wrote = False  # some text reached `on_text`

    def send(self, piece: str) -> None:
        """Called on the route's thread; pieces arrive in order, all before the call's result."""
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._deliver, piece)

    def close(self) -> None:
        self._open = False

    def _deliver(self, piece: str) -> None:
        if self._open:
            self.wrote = True
            self._on_text(piece)


class _Abandoned(Exception):
    """The caller gave up (timeout) before this call got its turn."""


class Dispatcher:
    def __init__(
        self,
        table: RouteTable,
        *,
        threads: int,
        concurrency: Mapping[str, int],
        shadow_queue: int,
        inline: Collection[str] = (),
    ):
        self._table = table
        self._inline = frozenset(inline)
        self._gates = {name: threading.BoundedSemaphore(concurrency.get(name, 1)) for name in table.names}
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="kgft-route")
        self._shadow_pool = ThreadPoolExecutor(1, thread_name_prefix="kgft-shadow")
        self._shadow_limit = shadow_queue
        self._shadows: set[Future[None]] = set()  # queued or running
        self._shadow_lock = threading.Lock()

    async def call(
        self, name: str, question: Question, timeout_s: float, relay: TextRelay | None = None
    ) -> Call:
        """With `relay`, a StreamingRoute's text goes to it while the route writes; inline routes answer
        whole, since their pieces would arrive after the call had ended."""
        route = self._route(name)
        if name in self._inline:
            return self._answer(route, question, None)
        abandoned = threading.Event()
        started = time.perf_counter()
        try:
            async with asyncio.timeout(timeout_s):
                call = await asyncio.get_running_loop().run_in_executor(
                    self._pool, self._gated, route, name, question, abandoned, relay
                )
        except TimeoutError as exc:
            abandoned.set()  # a call still queued behind the gate is skipped; a running one cannot be stopped
            raise RouteFailure(
                name, "timeout", f"route '{name}' gave no answer within {timeout_s:g} s", timeout_s
            ) from exc
        except RouteFailure as exc:
            exc.seconds = time.perf_counter() - started
            raise
        except Exception as exc:  # the pool refused the call (shutting down)
            raise _failure(name, exc, time.perf_counter() - started) from exc
        finally:
            if relay is not None:
                relay.close()
        return replace(call, waited_s=time.perf_counter() - started)

    def shadow(self, name: str, question: Question, done: ShadowDone) -> bool:
        """Queues a background run and returns at once; False when the queue is full and it is dropped."""
        with self._shadow_lock:
            if len(self._shadows) >= self._shadow_limit:
                return False
            future = self._shadow_pool.submit(self._run_shadow, name, question, done)
            self._shadows.add(future)
        future.add_done_callback(self._forget_shadow)
        return True

    def close(self, timeout_s: float = 30.0) -> None:
        """Drops queued shadow runs and gives the running one `timeout_s` to be logged; abandoned route
        calls run out on their own."""
        self._shadow_pool.shutdown(wait=False, cancel_futures=True)
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._shadow_lock:
            running = list(self._shadows)
        wait(running, timeout_s)

    def _forget_shadow(self, future: Future[None]) -> None:
        with self._shadow_lock:
            self._shadows.discard(future)

    def _route(self, name: str) -> Route:
        try:
            return self._table.get(name)
        except RouteUnavailable as exc:
            raise RouteFailure(name, "unavailable", str(exc), 0.0) from exc

    def _answer(self, route: Route, question: Question, relay: TextRelay | None) -> Call:
        started = time.perf_counter()
        try:
            if relay is not None and isinstance(route, StreamingRoute):
                answer = route.answer_streaming(question, relay.send)
            else:
                answer = route.answer(question)
        except Exception as exc:
            raise _failure(route.name, exc, time.perf_counter() - started) from exc
        seconds = time.perf_counter() - started
        return Call(answer, seconds, seconds)

    def _gated(
        self,
        route: Route,
        name: str,
        question: Question,
        abandoned: threading.Event,
        relay: TextRelay | None,
    ) -> Call:
        with self._gates[name]:
            if abandoned.is_set():
                raise _Abandoned
            return self._answer(route, question, relay)

    def _run_shadow(self, name: str, question: Question, done: ShadowDone) -> None:
        started = time.perf_counter()
        try:
            route = self._route(name)
            with self._gates[name]:
                call = self._answer(route, question, None)
            done(call.answer, None, call.seconds)
        except RouteFailure as exc:
            done(None, str(exc), time.perf_counter() - started)
        except Exception:  # a failing log callback must not kill the shadow thread
            log.exception("shadow run on route '%s' could not be recorded", name)


def _failure(route: str, exc: BaseException, seconds: float) -> RouteFailure:
    """A one-line reason for the client; the traceback goes to the server log only."""
    if isinstance(exc, KgftError):
        message = str(exc)
    else:
        log.error("route '%s' raised", route, exc_info=exc)
        message = f"{type(exc).__name__}: {exc}"
    first = (message.strip().splitlines() or [type(exc).__name__])[0][:_MESSAGE_CHARS]
    why = "too_long" if isinstance(exc, ContextLengthError) else "error"
    return RouteFailure(route, why, f"route '{route}' failed: {first}", seconds)
