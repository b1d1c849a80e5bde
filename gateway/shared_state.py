"""Counters in the results database (PostgreSQL), so every worker and host enforces one limit per key.

Time is the database's clock (`clock_timestamp()`), never a host's, so skew between hosts cannot
stretch or shrink a window or move a month. One round trip per request (kgft_gateway_admit): a
per-key advisory lock (requests of one key queue, other keys' do not), the sliding window's count and
hit, then the budget hold. Settling goes through the background SpendWriter.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from gateway.budget import Hold, OverBudget
from gateway.counters import RateLimited, StateUnavailable
from gateway.keys import ApiKey
from gateway.limits import WINDOW_S
from gateway.spend_writer import SpendWriter
from gateway.state_tables import create_gateway_tables, from_pusd, to_pusd
from kgft.errors import first_line

_NO_LIMIT_PUSD = 2**62
_CONNECT_TIMEOUT_S = 2  # an unreachable database is a quick 503, not a stalled request

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
    INSERT INTO kgft_gateway_requests AS r (key_name, second, requests) VALUES (p_key, now_s, 1)
        ON CONFLICT (key_name, second) DO UPDATE SET requests = r.requests + 1;
    IF p_est IS NULL THEN
        RETURN QUERY SELECT 0::bigint, NULL::text, NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    this_month := to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM');
    INSERT INTO kgft_gateway_spend (key_name, month, spent_pusd, held_pusd) VALUES (p_key, this_month, 0, 0)
        ON CONFLICT (key_name, month) DO NOTHING;
    UPDATE kgft_gateway_spend s SET held_pusd = s.held_pusd + p_est
        WHERE s.key_name = p_key AND s.month = this_month AND s.spent_pusd + s.held_pusd + p_est <= p_budget;
    IF FOUND THEN
        RETURN QUERY SELECT 0::bigint, this_month, NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    RETURN QUERY SELECT 0::bigint, this_month, s.spent_pusd, s.held_pusd
        FROM kgft_gateway_spend s WHERE s.key_name = p_key AND s.month = this_month;
END
$$
"""
_ADMIT = sa.text(
    "SELECT * FROM kgft_gateway_admit(CAST(:key AS varchar), CAST(:rpm AS integer), "
    "CAST(:window AS integer), CAST(:est AS bigint), CAST(:budget AS bigint))"
)
_MONTH = "to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM')"
_EXTEND = sa.text(
    f"""
    INSERT INTO kgft_gateway_spend AS s (key_name, month, spent_pusd, held_pusd)
    VALUES (CAST(:key AS varchar), {_MONTH}, 0, CAST(:est AS bigint))
    ON CONFLICT (key_name, month) DO UPDATE SET held_pusd = s.held_pusd + excluded.held_pusd
    RETURNING s.month
    """
)
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
    blocking = True

    def __init__(self, url: str):
        if not url.startswith("postgresql"):
            raise StateUnavailable(f"shared gateway counters need PostgreSQL, not {url.split(':', 1)[0]}")
        self.engine = sa.create_engine(
            url, pool_size=8, max_overflow=32, connect_args={"connect_timeout": _CONNECT_TIMEOUT_S}
        )
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._where = self.engine.url.render_as_string(hide_password=True)
        create_gateway_tables(self.engine)
        with self.engine.begin() as connection:
            # Workers starting together would race on CREATE OR REPLACE; this lock queues them.
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(7230116)"))
            connection.exec_driver_sql(_ADMIT_FUNCTION)
        self._writer = SpendWriter(self.engine, housekeeping=_forget_old_seconds)
        self._settle_lock = threading.Lock()

    def start(self) -> None:
        self._writer.start()

    def close(self) -> None:
        self._writer.close()
        self.engine.dispose()

    def admit(self, key: ApiKey, estimate_usd: Decimal | None) -> Hold | None:
        params: dict[str, Any] = {
            "key": key.name,
            "rpm": key.rpm,
            "window": WINDOW_S,
            "est": None if estimate_usd is None else to_pusd(estimate_usd),
            "budget": min(to_pusd(key.budget_usd), _NO_LIMIT_PUSD),
        }
        try:
            with self._autocommit.connect() as connection:
                wait_s, month, spent, held = connection.execute(_ADMIT, params).one()
        except SQLAlchemyError as exc:
            raise self._unavailable(exc) from exc
        if wait_s > 0:
            raise RateLimited(wait_s)
        if estimate_usd is None:
            return None
        if spent is not None:
            raise OverBudget(month, from_pusd(spent), from_pusd(held), estimate_usd)
        return Hold(key.name, month, estimate_usd)

    def extend(self, key: ApiKey, estimate_usd: Decimal) -> Hold:
        try:
            with self._autocommit.connect() as connection:
                params = {"key": key.name, "est": to_pusd(estimate_usd)}
                month = connection.execute(_EXTEND, params).scalar_one()
        except SQLAlchemyError as exc:
            raise self._unavailable(exc) from exc
        return Hold(key.name, month, estimate_usd)

    def settle(self, hold: Hold, charged_usd: Decimal) -> None:
        with self._settle_lock:
            if hold.settled:
                return
            hold.settled = True
        self._writer.add(hold.key, hold.month, to_pusd(charged_usd), -to_pusd(hold.usd))

    def standing(self, name: str) -> tuple[str, Decimal, Decimal]:
        """(month, spent, held) of a key now, as every host sees it: settles still pending are not in it."""
        with self.engine.connect() as connection:
            month, spent, held = connection.execute(_STANDING, {"key": name}).one()
        return month, from_pusd(spent), from_pusd(held)

    def pending_spend(self) -> int:
        return self._writer.pending()

    def _unavailable(self, exc: SQLAlchemyError) -> StateUnavailable:
        return StateUnavailable(
            f"the gateway's shared counters (PostgreSQL at {self._where}) did not answer: {first_line(exc)}"
        )


def _forget_old_seconds(connection: sa.Connection) -> None:
    connection.execute(_FORGET_OLD_SECONDS, {"window": WINDOW_S})
