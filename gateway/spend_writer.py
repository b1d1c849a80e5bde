"""Settled charges reach the spend table from one background thread, merged per (key, month).

A request never waits on this write: what it changes is only ever a hold turning into a charge no
larger in the common case, so others reading the table meanwhile see a key as spending more, not less.
While the database is away the deltas keep merging in memory (one entry per key and month, however
many requests) and are written when it answers again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import sqlalchemy as sa

log = logging.getLogger("kgft.gateway")
_EVERY_S = 0.05
_HOUSEKEEPING_EVERY_S = 30.0
_RETRY_ON_CLOSE_S = 0.5

# Both SQLite (3.24+) and PostgreSQL take this upsert as written.
_ADD = sa.text(
    "INSERT INTO kgft_gateway_spend (key_name, month, spent_pusd, held_pusd) "
    "VALUES (:key, :month, :spent, :held) ON CONFLICT (key_name, month) DO UPDATE SET "
    "spent_pusd = kgft_gateway_spend.spent_pusd + excluded.spent_pusd, "
    "held_pusd = kgft_gateway_spend.held_pusd + excluded.held_pusd"
)


class SpendWriter:
    def __init__(self, engine: sa.Engine, housekeeping: Callable[[sa.Connection], None] | None = None):
        self._engine = engine
        self._housekeeping = housekeeping
        self._pending: dict[tuple[str, str], list[int]] = {}  # (key, month) -> [spent, held] pico-dollars
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self._give_up_at = 0.0
        self._failing = False
        self._thread = threading.Thread(target=self._loop, name="kgft-spend-writer", daemon=True)

    def add(self, key: str, month: str, spent_pusd: int, held_pusd: int) -> None:
        with self._lock:
            delta = self._pending.setdefault((key, month), [0, 0])
            delta[0] += spent_pusd
            delta[1] += held_pusd

    def pending(self) -> int:
        """(key, month) entries not yet written: more than 0 for long means the database is away."""
        with self._lock:
            return len(self._pending)

    def start(self) -> None:
        self._thread.start()

    def close(self, timeout_s: float = 10.0) -> None:
        """Writes what is pending; what the database still refuses after `timeout_s` is logged as lost."""
        self._give_up_at = time.monotonic() + timeout_s
        self._stop = True
        if self._thread.is_alive():
            self._wake.set()
            self._thread.join(timeout_s + 1)
        else:
            self._last_writes()
        if self.pending():
            log.error("%d keys' spend could not be written: the results store is unreachable", self.pending())

    def _loop(self) -> None:
        housekept_at = time.monotonic()
        while not self._stop:
            self._wake.wait(_EVERY_S)
            self._wake.clear()
            self.write()
            if self._housekeeping is not None and time.monotonic() - housekept_at >= _HOUSEKEEPING_EVERY_S:
                housekept_at = time.monotonic()
                self._run_housekeeping()
        self._last_writes()

    def _last_writes(self) -> None:
        while not self.write() and time.monotonic() < self._give_up_at:
            time.sleep(_RETRY_ON_CLOSE_S)

    def write(self) -> bool:
        """One transaction for every pending delta; on failure they go back to pending. True when written."""
        with self._lock:
            taken, self._pending = self._pending, {}
        if not taken:
            return True
        rows = [
            {"key": key, "month": month, "spent": spent, "held": held}
            for (key, month), (spent, held) in taken.items()
        ]
        try:
            with self._engine.begin() as connection:
                connection.execute(_ADD, rows)
        except sa.exc.SQLAlchemyError as exc:
            if not self._failing:
                log.warning("spend not written, kept to retry: %s", str(exc).splitlines()[0])
            self._failing = True
            for (key, month), (spent, held) in taken.items():
                self.add(key, month, spent, held)
            return False
        if self._failing:
            log.warning("spend written again after the results store came back")
        self._failing = False
        return True

    def _run_housekeeping(self) -> None:
        assert self._housekeeping is not None
        try:
            with self._engine.begin() as connection:
                self._housekeeping(connection)
        except sa.exc.SQLAlchemyError as exc:
            log.warning("gateway housekeeping failed: %s", str(exc).splitlines()[0])
