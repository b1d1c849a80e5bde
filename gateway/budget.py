"""Monthly budgets that hold under concurrency: a call's estimated cost is held before it runs, and
the hold is replaced by what it cost once it ends.

A burst of requests cannot pass a check that only looks at spend already settled: each admitted
request holds its estimate, so `spent + held + estimate` is what a new request is measured against.
Rules: an unpriced answer is charged what was held for it (never $0); a call that raised is charged $0
(it reported no cost); a call that timed out keeps its hold until it ends and is then charged.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from kgft.contract import Answer, Question
from kgft.pricing import PriceBook

_MILLION = Decimal(1_000_000)
CHARGED = "charged_usd"  # row meta: what the key was charged, where it differs from the runtime cost


class OverBudget(Exception):
    def __init__(self, month: str, spent: Decimal, held: Decimal, estimate: Decimal):
        super().__init__(f"spent {spent}, held {held}, estimate {estimate} in {month}")
        self.month = month
        self.spent = spent
        self.held = held
        self.estimate = estimate


@dataclass
class Hold:
    """One call's reserved estimate; settled once, from whichever thread the call ends on."""

    key: str
    month: str
    usd: Decimal
    settled: bool = field(default=False)


class Budgets:
    """Settled spend and open holds per (key, month) in memory; thread-safe, as late calls settle on
    worker threads. The single-process gateway's; spend is seeded from, and written to, the spend table."""

    def __init__(self, spent: Mapping[tuple[str, str], Decimal] | None = None) -> None:
        self._spent: dict[tuple[str, str], Decimal] = dict(spent or {})
        self._held: dict[tuple[str, str], Decimal] = {}
        self._lock = threading.Lock()

    def reserve(self, key: str, month: str, budget_usd: Decimal, estimate_usd: Decimal) -> Hold:
        """Holds `estimate_usd`, or raises OverBudget when it does not fit beside what is spent and held."""
        slot = (key, month)
        with self._lock:
            spent = self._spent.get(slot, Decimal(0))
            held = self._held.get(slot, Decimal(0))
            if spent + held + estimate_usd > budget_usd:
                raise OverBudget(month, spent, held, estimate_usd)
            self._held[slot] = held + estimate_usd
        return Hold(key, month, estimate_usd)

    def extend(self, key: str, month: str, estimate_usd: Decimal) -> Hold:
        """A hold that is not refused: a fallback after an admitted call failed is the gateway's choice."""
        with self._lock:
            self._held[key, month] = self._held.get((key, month), Decimal(0)) + estimate_usd
        return Hold(key, month, estimate_usd)

    def settle(self, hold: Hold, charged_usd: Decimal) -> bool:
        """False when the hold was settled already."""
        slot = (hold.key, hold.month)
        with self._lock:
            if hold.settled:
                return False
            hold.settled = True
            self._held[slot] = self._held.get(slot, Decimal(0)) - hold.usd
            self._spent[slot] = self._spent.get(slot, Decimal(0)) + charged_usd
        return True

    def spent(self, key: str, month: str) -> Decimal:
        with self._lock:
            return self._spent.get((key, month), Decimal(0))

    def held(self, key: str, month: str) -> Decimal:
        with self._lock:
            return self._held.get((key, month), Decimal(0))


def charge_for(answer: Answer, hold: Hold | None) -> Decimal:
    """What the key pays for an answer: its runtime cost, or the hold when the answer is unpriced."""
    if answer.cost.priced or hold is None:
        return answer.cost.runtime_usd
    return hold.usd


class CostEstimator:
    """The most one call is expected to cost: `max_tokens` × the route's dearest $ per completion token.

    The rate is learned from the route's priced answers (whole cost ÷ completion tokens, so prompt,
    retrieval and prefill ride along); before a route has answered, it is the dearest input + output
    price in the price book, a ceiling no listed API model exceeds.
    """

    def __init__(self, prices: PriceBook, default_max_tokens: int):
        dearest = max((price.input + price.output for price in prices.models.values()), default=Decimal(0))
        self.ceiling_usd_per_token = dearest / _MILLION
        self.default_max_tokens = default_max_tokens
        self._rates: dict[str, Decimal] = {}
        self._lock = threading.Lock()

    def estimate(self, route: str, question: Question) -> Decimal:
        asked = question.params.max_tokens if question.params is not None else None
        max_tokens = asked or self.default_max_tokens
        with self._lock:
            rate = self._rates.get(route, self.ceiling_usd_per_token)
        return rate * max_tokens

    def observe(self, answer: Answer) -> None:
        tokens = answer.usage.completion_tokens
        if not answer.cost.priced or tokens <= 0:
            return
        rate = answer.cost.runtime_usd / tokens
        with self._lock:
            self._rates[answer.route] = max(rate, self._rates.get(answer.route, Decimal(0)))
