"""Answers reach the results store from one background thread in batches, so no request waits on the DB.

While the store is away the rows wait in memory, in order, and are written when it answers again.
"""

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
_RETRIES = 3  # at shutdown, before the backlog is given up
_RETRY_PAUSE_S = 0.5
_BACKLOG_ROWS = 100_000  # kept while the store is away (about 100 MB at most); older ones are lost


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
        self._failing = False

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
        backlog: list[ResultRow] = []  # rows the store refused, kept in order until it takes them
        while True:
            items = self._gather(retry_in_s=_RETRY_PAUSE_S if backlog else None)
            backlog += [item for item in items if isinstance(item, ResultRow)]
            if len(backlog) > _BACKLOG_ROWS:
                lost = len(backlog) - _BACKLOG_ROWS
                del backlog[:lost]
                log.error("dropped the %d oldest answers: the results store has been away too long", lost)
                self._on_lost(lost)
            if backlog and self._write(backlog):
                backlog = []
            for item in items:
                if isinstance(item, _Marker):
                    item.done.set()  # written, or kept in the backlog: either way, taken
                    if item.stop:
                        self._last_tries(backlog)
                        return

    def _gather(self, retry_in_s: float | None) -> list[ResultRow | _Marker]:
        """Sleeps rather than waits on the queue after the first row: a thread woken per row would take
        the GIL from the event loop once per request. With a backlog, returns within `retry_in_s`."""
        try:
            items = [self._queue.get(timeout=retry_in_s)]
        except queue.Empty:
            return []
        if not isinstance(items[0], _Marker):
            time.sleep(_LINGER_S)
        while len(items) < _BATCH_ROWS and not isinstance(items[-1], _Marker):
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return items

    def _write(self, rows: list[ResultRow]) -> bool:
        """True once the store took every row; a failure keeps them for the next try."""
        try:
            for start in range(0, len(rows), _BATCH_ROWS):
                self._store.record_many(rows[start : start + _BATCH_ROWS])
        except Exception as exc:  # any failure: the writer thread must outlive a bad batch
            if not self._failing:
                log.warning("results store write failed, %d answers kept to retry: %s", len(rows), exc)
            self._failing = True
            return False
        if self._failing:
            log.warning("results store writes again; the kept answers are written")
        self._failing = False
        return True

    def _last_tries(self, backlog: list[ResultRow]) -> None:
        for _ in range(_RETRIES):
            if not backlog or self._write(backlog):
                return
            time.sleep(_RETRY_PAUSE_S)
        log.error("dropped %d answers the results store would not take", len(backlog))
        self._on_lost(len(backlog))
