"""Counters in the results database (PostgreSQL), so every worker and host enforces one limit per key.

Time is the database's clock (`clock_timestamp()`), never a host's, so skew between hosts cannot
stretch or shrink a window or move a month. One round trip per request (kgft_gateway_admit), made on
the event loop: a per-key advisory lock (requests of one key queue, other keys' do not), the sliding
window's count and hit, then the budget hold. Settling goes through the background SpendWriter.

That round trip goes through asyncpg, not psycopg's async connections (which the rest of kgft's
PostgreSQL use goes through, via SQLAlchemy): on a forwarded chat request it cost the gateway ~0.07 ms
of CPU less (~9% of the request), as aiohttp, not httpx, forwards the request itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from decimal import Decimal
from typing import Any

import asyncpg
import sqlalchemy as sa

from gateway.budget import Hold, OverBudget
from gateway.counters import RateLimited, StateUnavailable
from gateway.keys import ApiKey
from gateway.limits import WINDOW_S
from gateway.spend_writer import SpendWriter
from gateway.state_tables import create_gateway_tables, from_pusd, to_pusd
from kgft.errors import first_line

_NO_LIMIT_PUSD = 2**62
# An unreachable database is a quick 503, not a stalled request. Counters commit without waiting for
# the WAL flush (~0.5 ms each): a database crash may forget the last fraction of a second of hits and
# holds, which a limit can afford.
_CONNECT: dict[str, Any] = {"connect_timeout": 2, "options": "-c synchronous_commit=off"}
_ADMIT_CONNECT: dict[str, Any] = {"timeout": 2, "server_settings": {"synchronous_commit": "off"}}
_DRIVER_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)
# Per worker: admissions beyond this wait for a connection (a key's requests queue on its lock anyway).
ADMIT_CONNECTIONS = 8

# One round trip per request: the lock, the window's count and hit, and the hold run in one function
# call, in its own transaction. In READ COMMITTED each statement inside sees what others committed
# before it began, and a holder's lock is released only after its commit is visible, so the count
# taken under the lock is exact.
_ADMIT_FUNCTION = """
CREATE OR REPLACE FUNCTION kgft_gateway_admit(
    p_key varchar, p_rpm integer, p_window integer, p_est bigint, p_budget bigint
) RETURNS TABLE (out_wait bigint, out_month text, out_spent bigint, out_held bigint)
LANGUAGE plpgsql AS $$
DECLARE
    now_s bigint;
    used bigint;
    oldest bigint;
    this_month text;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended(p_key, 0));
    now_s := floor(extract(epoch FROM clock_timestamp()));
    SELECT coalesce(sum(r.requests), 0), min(r.second) INTO used, oldest
        FROM kgft_gateway_requests r WHERE r.key_name = p_key AND r.second > now_s - p_window;
    IF used >= p_rpm THEN
        RETURN QUERY SELECT greatest(1, oldest + p_window - now_s), NULL::text, NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    -- UPDATE first: the row of this second and this month's row are there for all but the first request.
    UPDATE kgft_gateway_requests r SET requests = r.requests + 1
        WHERE r.key_name = p_key AND r.second = now_s;
    IF NOT FOUND THEN
        INSERT INTO kgft_gateway_requests AS r (key_name, second, requests) VALUES (p_key, now_s, 1)
            ON CONFLICT (key_name, second) DO UPDATE SET requests = r.requests + 1;
    END IF;
    IF p_est IS NULL THEN
        RETURN QUERY SELECT 0::bigint, NULL::text, NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    this_month := to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM');
    UPDATE kgft_gateway_spend s SET held_pusd = s.held_pusd + p_est
        WHERE s.key_name = p_key AND s.month = this_month AND s.spent_pusd + s.held_pusd + p_est <= p_budget;
    IF NOT FOUND THEN
        INSERT INTO kgft_gateway_spend AS s (key_name, month, spent_pusd, held_pusd)
            SELECT p_key, this_month, 0, p_est WHERE p_est <= p_budget
            ON CONFLICT (key_name, month) DO UPDATE SET held_pusd = s.held_pusd + p_est
            WHERE s.spent_pusd + s.held_pusd + p_est <= p_budget;
    END IF;
    IF FOUND THEN
        RETURN QUERY SELECT 0::bigint, this_month, NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    RETURN QUERY SELECT 0::bigint, this_month, coalesce(s.spent_pusd, 0), coalesce(s.held_pusd, 0)
        FROM (SELECT 1) one LEFT JOIN kgft_gateway_spend s ON s.key_name = p_key AND s.month = this_month;
END
$$
"""
# Straight to the driver (asyncpg prepares and caches each statement), as SQLAlchemy's execution path
# costs as much as the call itself.
_ADMIT = "SELECT * FROM kgft_gateway_admit($1::varchar, $2::integer, $3::integer, $4::bigint, $5::bigint)"
_MONTH = "to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM')"
_EXTEND = f"""
    INSERT INTO kgft_gateway_spend AS s (key_name, month, spent_pusd, held_pusd)
    VALUES ($1::varchar, {_MONTH}, 0, $2::bigint)
    ON CONFLICT (key_name, month) DO UPDATE SET held_pusd = s.held_pusd + excluded.held_pusd
    RETURNING s.month
    """
_STANDING = sa.text(
    f"""
    SELECT m.month, coalesce(s.spent_pusd, 0), coalesce(s.held_pusd, 0)
    FROM (SELECT {_MONTH} AS month) m
    LEFT JOIN kgft_gateway_spend s ON s.key_name = CAST(:key AS varchar) AND s.month = m.month
    """
)
_FORGET_OLD_SECONDS = sa.text(
    "DELETE FROM kgft_gateway_requests "
    "WHERE second <= floor(extract(epoch FROM clock_timestamp()))::bigint - :window"
)


class SharedCounters:
    """Admission runs on the caller's event loop (asyncpg): no thread hop per request, and at most
    ADMIT_CONNECTIONS connections per worker however many requests wait."""

    def __init__(self, url: str):
        if not url.startswith("postgresql"):
            raise StateUnavailable(f"shared gateway counters need PostgreSQL, not {url.split(':', 1)[0]}")
        self.engine = sa.create_engine(url, pool_size=2, connect_args=_CONNECT)
        self._where = self.engine.url.render_as_string(hide_password=True)
        create_gateway_tables(self.engine)
        with self.engine.begin() as connection:
            # Workers starting together would race on CREATE OR REPLACE; this lock queues them.
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(7230116)"))
            connection.exec_driver_sql(_ADMIT_FUNCTION)
        self._dsn = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._pools: dict[asyncio.AbstractEventLoop, _LoopConnections] = {}
        self._pools_lock = threading.Lock()
        self._writer = SpendWriter(self.engine, housekeeping=_forget_old_seconds)
        self._settle_lock = threading.Lock()

    def start(self) -> None:
        self._writer.start()

    def close(self) -> None:
        self._writer.close()
        with self._pools_lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()
        self.engine.dispose()

    async def admit(self, key: ApiKey, estimate_usd: Decimal | None) -> Hold | None:
        estimate = None if estimate_usd is None else to_pusd(estimate_usd)
        budget = min(to_pusd(key.budget_usd), _NO_LIMIT_PUSD)
        wait_s, month, spent, held = await self._call(_ADMIT, key.name, key.rpm, WINDOW_S, estimate, budget)
        if wait_s > 0:
            raise RateLimited(wait_s)
        if estimate_usd is None:
            return None
        if spent is not None:
            raise OverBudget(month, from_pusd(spent), from_pusd(held), estimate_usd)
        return Hold(key.name, month, estimate_usd)

    async def extend(self, key: ApiKey, estimate_usd: Decimal) -> Hold:
        (month,) = await self._call(_EXTEND, key.name, to_pusd(estimate_usd))
        return Hold(key.name, month, estimate_usd)

    def settle(self, hold: Hold, charged_usd: Decimal) -> None:
        with self._settle_lock:
            if hold.settled:
                return
            hold.settled = True
        self._writer.add(hold.key, hold.month, to_pusd(charged_usd), -to_pusd(hold.usd))

    def standing(self, name: str) -> tuple[str, Decimal, Decimal]:
        return key_standing(self.engine, name)

    async def _call(self, sql: str, *args: Any) -> tuple[Any, ...]:
        """One statement in its own transaction."""
        try:
            row = await self._pool().fetch_one(sql, args)
        except _DRIVER_ERRORS as exc:
            raise self._unavailable(exc) from exc
        assert row is not None
        return tuple(row)

    def _pool(self) -> _LoopConnections:
        loop = asyncio.get_running_loop()
        with self._pools_lock:
            pool = self._pools.get(loop)
            if pool is None:
                for gone in [other for other in self._pools if other.is_closed()]:
                    self._pools.pop(gone).close()
                pool = self._pools[loop] = _LoopConnections(loop, self._dsn)
            return pool

    def pending_spend(self) -> int:
        return self._writer.pending()

    def _unavailable(self, exc: Exception) -> StateUnavailable:
        return StateUnavailable(
            f"the gateway's shared counters (PostgreSQL at {self._where}) did not answer: {first_line(exc)}"
        )


class _LoopConnections:
    """Idle connections of one event loop (asyncpg's are bound to it); a connection whose statement
    failed or was cancelled is closed, never reused (its state is unknown)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, dsn: str):
        self._loop = loop
        self._dsn = dsn
        self._idle: list[asyncpg.Connection] = []
        self._free = asyncio.Semaphore(ADMIT_CONNECTIONS)

    async def fetch_one(self, sql: str, args: tuple[Any, ...]) -> Any:
        async with self._free:
            connection = self._idle.pop() if self._idle else None
            if connection is None:
                connection = await asyncpg.connect(self._dsn, **_ADMIT_CONNECT)
            try:
                row = await connection.fetchrow(sql, *args)
            except BaseException:
                connection.terminate()
                raise
            self._idle.append(connection)
            return row

    def close(self) -> None:
        """From any thread: the connections close on their own loop; a loop already closed can close
        nothing, and its connections are dropped (only tests run a loop per call)."""
        idle, self._idle = self._idle, []
        with contextlib.suppress(RuntimeError):  # the loop closed before or while we asked
            self._loop.call_soon_threadsafe(_terminate, idle)


def _terminate(connections: list[asyncpg.Connection]) -> None:
    for connection in connections:
        connection.terminate()


def key_standing(engine: sa.Engine, name: str) -> tuple[str, Decimal, Decimal]:
    """(month, spent, held) of a key now, as every host sees it: settles still pending are not in it."""
    with engine.connect() as connection:
        month, spent, held = connection.execute(_STANDING, {"key": name}).one()
    return month, from_pusd(spent), from_pusd(held)


def _forget_old_seconds(connection: sa.Connection) -> None:
    connection.execute(_FORGET_OLD_SECONDS, {"window": WINDOW_S})
