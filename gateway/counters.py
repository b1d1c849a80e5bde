"""The seam for a key's counters (request rate, monthly spend): in this process, or shared in the database.

`LocalCounters` serves one process on SQLite (nothing to wait on); `SharedCounters`
(gateway/shared_state.py) serves every worker and host on one PostgreSQL.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol

import sqlalchemy as sa

from gateway.budget import Budgets, Hold
from gateway.keys import ApiKey
from gateway.limits import RateLimiter, month_of
from gateway.spend_writer import SpendWriter
from gateway.state_tables import create_gateway_tables, from_pusd, spend, to_pusd
from kgft.errors import KgftError


class RateLimited(Exception):
    def __init__(self, wait_s: float):
        super().__init__(f"retry in {wait_s:.3f} s")
        self.wait_s = wait_s


class StateUnavailable(KgftError):
    """The database that holds the shared counters did not answer."""


class Counters(Protocol):
    async def admit(self, key: ApiKey, estimate_usd: Decimal | None) -> Hold | None:
        """Counts one request; with an estimate, also holds it against this month's budget.
        Raises RateLimited, OverBudget or StateUnavailable."""

    async def extend(self, key: ApiKey, estimate_usd: Decimal) -> Hold:
        """A hold that is not refused (a fallback after an admitted call failed)."""

    def settle(self, hold: Hold, charged_usd: Decimal) -> None:
        """Turns the hold into what the call cost; never waits on the database."""

    def standing(self, name: str) -> tuple[str, Decimal, Decimal]:
        """(this month, spent, held) of a key as admission sees it now."""

    def start(self) -> None: ...

    def close(self) -> None: ...


class LocalCounters:
    """Counters in memory; spend is read from the spend table at start and written back as it settles."""

    def __init__(self, engine: sa.Engine):
        self._engine = engine
        create_gateway_tables(engine)
        self._rates = RateLimiter()
        self._budgets = Budgets()
        self._writer = SpendWriter(engine)

    def start(self) -> None:
        """This month's spend from the table (one row per key), so a restart does not reset budgets."""
        month = month_of(datetime.now(UTC))
        query = sa.select(spend.c.key_name, spend.c.spent_pusd).where(spend.c.month == month)
        with self._engine.connect() as connection:
            spent = {(name, month): from_pusd(pusd) for name, pusd in connection.execute(query)}
        self._budgets = Budgets(spent)
        self._writer.start()

    def close(self) -> None:
        self._writer.close()

    async def admit(self, key: ApiKey, estimate_usd: Decimal | None) -> Hold | None:
        wait_s = self._rates.wait_s(key.name, key.rpm, time.time())
        if wait_s > 0:
            raise RateLimited(wait_s)
        if estimate_usd is None:
            return None
        return self._budgets.reserve(key.name, month_of(datetime.now(UTC)), key.budget_usd, estimate_usd)

    async def extend(self, key: ApiKey, estimate_usd: Decimal) -> Hold:
        return self._budgets.extend(key.name, month_of(datetime.now(UTC)), estimate_usd)

    def settle(self, hold: Hold, charged_usd: Decimal) -> None:
        if self._budgets.settle(hold, charged_usd):
            self._writer.add(hold.key, hold.month, to_pusd(charged_usd), 0)

    def standing(self, name: str) -> tuple[str, Decimal, Decimal]:
        month = month_of(datetime.now(UTC))
        return month, self._budgets.spent(name, month), self._budgets.held(name, month)
