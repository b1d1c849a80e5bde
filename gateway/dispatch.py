"""Calling routes: sync route code runs in worker threads so the event loop stays free, with a timeout;
a route that can answer a question on the loop (AsyncRoute: a model behind HTTP) does so there, and
waits for a slot there too (RouteGate: one count of slots for both kinds of call).

Each route takes a bounded number of calls at once (`default_concurrency` unless configured) and lets a
bounded number wait (`queue`); a call past that is refused at once as busy (503 with retry-after)
rather than joining a queue that would only time out. A call that timed out cannot be stopped (route
code is sync); it keeps its slot until it ends, and `late` is then told what it cost. Shadow runs have
their own single thread and a bounded queue, so they never hold up a served answer for long. A streaming
route's text pieces hop back to the event loop through a TextRelay as it writes them.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
import weakref
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, TypeGuard

from gateway.route_gate import RouteGate
from gateway.route_table import RouteTable, RouteUnavailable
from kgft.contract import Answer, AsyncRoute, OnText, Question, Route, StreamingRoute
from kgft.errors import ContextLengthError, KgftError

log = logging.getLogger("kgft.gateway")
_MESSAGE_CHARS = 300

ShadowDone = Callable[[Answer | None, str | None, float], None]
# After a timeout: the abandoned call's answer, or the failure that ended it (skipped, or raised).
LateDone = Callable[["Call | None", "RouteFailure | None"], None]


class RouteFailure(Exception):
    """A route raised, timed out, is not loaded or is full; `why` is error, too_long, timeout,
    unavailable or busy (then `retry_after_s` says when a slot is likely free)."""

    def __init__(self, route: str, why: str, message: str, seconds: float, retry_after_s: int = 1):
        super().__init__(message)
        self.route = route
        self.why = why
        self.seconds = seconds
        self.retry_after_s = retry_after_s


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
        default_concurrency: int = 2,
        queue: int = 16,
    ):
        self._table = table
        self._inline = frozenset(inline)
        self._slots = {name: concurrency.get(name, default_concurrency) for name in table.names}
        self._gates = {name: RouteGate(slots) for name, slots in self._slots.items()}
        self._queue = queue
        self._load = dict.fromkeys(table.names, 0)  # calls running or waiting for a slot, timed out too
        self._seconds = dict.fromkeys(table.names, 1.0)  # a recent call's length, for retry-after
        self._load_lock = threading.Lock()
        self._running: set[Future[Call]] = set()  # route calls in the pool, abandoned ones included
        self._tasks: set[asyncio.Future[Call]] = set()  # route calls on the event loop, the same
        self._async_routes: weakref.WeakKeyDictionary[Route, bool] = weakref.WeakKeyDictionary()
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="kgft-route")
        self._shadow_pool = ThreadPoolExecutor(1, thread_name_prefix="kgft-shadow")
        self._shadow_limit = shadow_queue
        self._shadows: set[Future[None]] = set()  # queued or running
        self._shadow_lock = threading.Lock()

    async def call(
        self,
        name: str,
        question: Question,
        timeout_s: float,
        relay: TextRelay | None = None,
        late: LateDone | None = None,
    ) -> Call:
        """With `relay`, a StreamingRoute's text goes to it while the route writes; inline routes answer
        whole, since their pieces would arrive after the call had ended. After a timeout, `late` hears
        how the abandoned call ended, on the thread it ended on."""
        route = self._route(name)
        if name in self._inline:
            return self._answer(route, question, None)
        self._enter(name)
        started = time.perf_counter()
        if relay is None and self._on_loop(route) and route.answers_async(question):
            return await self._call_on_loop(route, name, question, timeout_s, late, started)
        abandoned = _Flag()
        try:
            running = self._pool.submit(self._gated, route, name, question, abandoned, relay)
            with self._load_lock:
                self._running.add(running)
            running.add_done_callback(self._forget_call)
        except RuntimeError as exc:  # the pool refused the call (shutting down)
            self._leave(name, None)
            raise _failure(name, exc, time.perf_counter() - started) from exc
        try:
            waiting = asyncio.wrap_future(running)
            return await _in_time(name, waiting, running, timeout_s, started, abandoned, late)
        finally:
            if relay is not None:
                relay.close()

    async def _call_on_loop(
        self,
        route: AsyncRoute,
        name: str,
        question: Question,
        timeout_s: float,
        late: LateDone | None,
        started: float,
    ) -> Call:
        abandoned = _Flag()
        task = asyncio.ensure_future(self._answer_on_loop(route, name, question, abandoned))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return await _in_time(name, task, task, timeout_s, started, abandoned, late)

    async def _answer_on_loop(
        self, route: AsyncRoute, name: str, question: Question, abandoned: _Flag
    ) -> Call:
        """Waits on the loop for a slot, as `_gated` waits in the pool; one gate counts both kinds."""
        seconds = None
        try:
            async with self._gates[name]:
                if abandoned.is_set():
                    raise _Abandoned
                started = time.perf_counter()
                try:
                    answer = await route.answer_async(question)
                except Exception as exc:
                    raise _failure(name, exc, time.perf_counter() - started) from exc
                seconds = time.perf_counter() - started
                return Call(answer, seconds, seconds)
        finally:
            self._leave(name, seconds)

    def load(self, name: str) -> int:
        """Calls on the route now: running (timed-out ones included) or waiting for a slot."""
        with self._load_lock:
            return self._load[name]

    def _enter(self, name: str) -> None:
        with self._load_lock:
            slots = self._slots[name]
            if self._load[name] >= slots + self._queue:
                waiting = self._load[name] - slots + 1
                retry = max(1, math.ceil(self._seconds[name] * waiting / slots))
                raise RouteFailure(
                    name,
                    "busy",
                    f"route '{name}' is busy: {slots} call(s) running and {self._queue} waiting; "
                    f"retry in {retry} s",
                    0.0,
                    retry_after_s=retry,
                )
            self._load[name] += 1

    def _leave(self, name: str, seconds: float | None) -> None:
        with self._load_lock:
            self._load[name] -= 1
            if seconds is not None:
                self._seconds[name] = 0.8 * self._seconds[name] + 0.2 * seconds

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
        """Drops queued shadow runs; gives the running one and route calls that timed out `timeout_s`
        to end, so they are logged and charged."""
        self._shadow_pool.shutdown(wait=False, cancel_futures=True)
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._shadow_lock:
            shadows = list(self._shadows)
        with self._load_lock:
            calls = list(self._running)
        pending: list[Future[Any]] = [*shadows, *calls]
        deadline = time.monotonic() + timeout_s
        wait(pending, timeout_s)
        # Calls on the loop end there while this runs in a thread (the gateway's lifespan).
        while any(not task.done() for task in list(self._tasks)) and time.monotonic() < deadline:
            time.sleep(0.02)

    def _forget_call(self, future: Future[Call]) -> None:
        with self._load_lock:
            self._running.discard(future)

    def _forget_shadow(self, future: Future[None]) -> None:
        with self._shadow_lock:
            self._shadows.discard(future)

    def _on_loop(self, route: Route) -> TypeGuard[AsyncRoute]:
        """Whether the route can answer on the loop; remembered, as a runtime protocol check is slow."""
        known = self._async_routes.get(route)
        if known is None:
            known = self._async_routes[route] = isinstance(route, AsyncRoute)
        return known

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
        abandoned: _Flag,
        relay: TextRelay | None,
    ) -> Call:
        seconds = None
        try:
            with self._gates[name]:
                if abandoned.is_set():
                    raise _Abandoned
                call = self._answer(route, question, relay)
                seconds = call.seconds
                return call
        finally:
            self._leave(name, seconds)

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


class _Flag:
    """Set once by the loop when it gives up on a call, read by the call before it starts: a plain
    attribute is enough (one writer, a read that may come late), where threading.Event's lock and
    condition cost ~3% of a forwarded request's CPU."""

    __slots__ = ("_set",)

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        self._set = True

    def is_set(self) -> bool:
        return self._set


async def _in_time(
    name: str,
    waiting: asyncio.Future[Call],
    call: Future[Call] | asyncio.Future[Call],
    timeout_s: float,
    started: float,
    abandoned: _Flag,
    late: LateDone | None,
) -> Call:
    """The call's result within `timeout_s`, else a timeout failure. The call itself goes on (route code
    cannot be stopped mid-call) and `late` hears how it ended, from `call`: for a pool call that is its
    thread's future, so `late` is told even if this loop is gone by then."""
    try:
        async with asyncio.timeout(timeout_s):
            # shield: a timed-out call runs to its end, so `late` can log and charge it
            answered = await asyncio.shield(waiting)
    except TimeoutError as exc:
        abandoned.set()  # a call still waiting for a slot is skipped
        waiting.add_done_callback(_seen)
        if late is not None:
            call.add_done_callback(partial(_report_late, late, name, started))
        raise RouteFailure(
            name, "timeout", f"route '{name}' gave no answer within {timeout_s:g} s", timeout_s
        ) from exc
    except RouteFailure as exc:
        exc.seconds = time.perf_counter() - started
        raise
    return replace(answered, waited_s=time.perf_counter() - started)


def _seen(waiting: asyncio.Future[Call]) -> None:
    """Marks an abandoned call's outcome as retrieved: `late` has it, asyncio need not warn."""
    if not waiting.cancelled():
        waiting.exception()


def _report_late(
    late: LateDone, name: str, started: float, running: Future[Call] | asyncio.Future[Call]
) -> None:
    """Tells `late` how a timed-out call ended; a failing callback is logged, never raised in the pool."""
    try:
        error = running.exception()
        if error is None:
            late(running.result(), None)
        elif isinstance(error, _Abandoned):
            late(None, RouteFailure(name, "timeout", f"route '{name}' never got a slot", 0.0))
        elif isinstance(error, RouteFailure):
            late(None, error)
        else:
            late(None, _failure(name, error, time.perf_counter() - started))
    except Exception:
        log.exception("a timed-out call on route '%s' could not be recorded", name)


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
