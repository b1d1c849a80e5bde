"""A route's call slots, taken by worker threads and by event-loop tasks alike.

A route that answers on the event loop (a model behind HTTP) must not wait for a slot in a worker
thread: under load most of its calls would then run the thread path. So a task waits on its loop,
a thread on a condition, and a freed slot goes straight to a waiting task, else to a waiting thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Callable
from typing import Any


class RouteGate:
    def __init__(self, slots: int):
        self._free = slots
        self._lock = threading.Lock()
        self._freed = threading.Condition(self._lock)
        self._tasks: deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = deque()

    def __enter__(self) -> None:
        """Takes a slot, blocking this thread until one is free."""
        with self._freed:
            while self._free == 0:
                self._freed.wait()
            self._free -= 1

    def __exit__(self, *_: object) -> None:
        self.release()

    async def __aenter__(self) -> None:
        await self.acquire_async()

    async def __aexit__(self, *_: object) -> None:
        self.release()

    async def acquire_async(self) -> None:
        """Takes a slot, waiting on the running loop; a cancelled wait holds no slot."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._free > 0:
                self._free -= 1
                return
            waiter: asyncio.Future[None] = loop.create_future()
            self._tasks.append((loop, waiter))
        try:
            await waiter
        except asyncio.CancelledError:
            with self._lock, contextlib.suppress(ValueError):  # not queued: handed over already
                self._tasks.remove((loop, waiter))
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed a slot just as the wait was cancelled
            raise

    def release(self) -> None:
        with self._lock:
            while self._tasks:
                loop, waiter = self._tasks.popleft()
                try:
                    _call_soon(loop, self._hand_over, waiter)
                    return
                except RuntimeError:  # its loop has closed: no one waits there any more
                    continue
            self._free += 1
            self._freed.notify()

    def _hand_over(self, waiter: asyncio.Future[None]) -> None:
        """On the waiter's loop: the slot is its own, or, if its wait was cancelled meanwhile, free again."""
        if waiter.done():
            self.release()
        else:
            waiter.set_result(None)


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[..., Any], *args: Any) -> None:
    """`call_soon` from the loop's own thread (the usual release), else the thread-safe call."""
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        loop.call_soon(callback, *args)
    else:
        loop.call_soon_threadsafe(callback, *args)
