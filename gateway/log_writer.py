"""Answers reach the results store from one background thread in batches, so no request waits on the DB."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from kgft.results_store import ResultRow, ResultStore

log = logging.getLogger("kgft.gateway")
_BATCH_ROWS = 500
_LINGER_S = 0.1  # rows arriving within this window share one transaction
_RETRIES = 3
_RETRY_PAUSE_S = 0.5


@dataclass
class _Marker:
    """Everything queued before a marker is written when its event is set."""

    done: threading.Event = field(default_factory=threading.Event)
    stop: bool = False


class LogWriter:
    def __init__(self, store: ResultStore, on_lost: Callable[[int], None]):
        self._store = store
        self._on_lost = on_lost
        self._queue: queue.SimpleQueue[ResultRow | _Marker] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="kgft-log-writer", daemon=True)
        self._started = False

    def start(self) -> None:
        self._thread.start()
        self._started = True

    @property
    def running(self) -> bool:
        return self._started and self._thread.is_alive()

    def put(self, row: ResultRow) -> None:
        self._queue.put(row)

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Blocks until every row put before this call is written; False on timeout or when not running."""
        if not self.running:
            return False
        marker = _Marker()
        self._queue.put(marker)
        return marker.done.wait(timeout_s)

    def close(self, timeout_s: float = 30.0) -> None:
        if self.running:
            marker = _Marker(stop=True)
            self._queue.put(marker)
            self._thread.join(timeout_s)

    def _loop(self) -> None:
        while True:
            items = self._gather()
            rows = [item for item in items if isinstance(item, ResultRow)]
            if rows:
                self._write(rows)
            for item in items:
                if isinstance(item, _Marker):
                    item.done.set()
                    if item.stop:
                        return

    def _gather(self) -> list[ResultRow | _Marker]:
        """Sleeps rather than waits on the queue after the first row: a thread woken per row would take
        the GIL from the event loop once per request."""
        items = [self._queue.get()]
        if not isinstance(items[0], _Marker):
            time.sleep(_LINGER_S)
        while len(items) < _BATCH_ROWS and not isinstance(items[-1], _Marker):
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return items

    def _write(self, rows: list[ResultRow]) -> None:
        for attempt in range(1, _RETRIES + 1):
            try:
                self._store.record_many(rows)
                return
            except Exception as exc:  # any failure: the writer thread must outlive a bad batch
                log.warning("results store write failed (try %d of %d): %s", attempt, _RETRIES, exc)
                if attempt < _RETRIES:
                    time.sleep(_RETRY_PAUSE_S)
        log.error("dropped %d answers the results store would not take", len(rows))
        self._on_lost(len(rows))
