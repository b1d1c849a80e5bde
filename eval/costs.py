"""All-in cost per query: runtime cost plus the one-off build cost spread over the queries it serves.

Everything is Decimal: a break-even volume or a $/correct answer must not drift with float rounding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from kgft.errors import KgftError
from kgft.ledger import LedgerEntry
from kgft.pricing import money


class CostInputError(KgftError, ValueError):
    """A ledger figure is missing, negative or not a number; the CLI shows it as one line."""


@dataclass(frozen=True)
class RouteCosts:
    route: str
    build_usd: Decimal
    runtime_per_query_usd: Decimal
    unpriced_build_entries: int


def build_costs(entries: Sequence[LedgerEntry], route: str) -> tuple[Decimal, int]:
    """The route's priced build spend, and how many entries had no price (reported, never counted as $0)."""
    mine = [entry for entry in entries if entry.route == route]
    total = sum((entry.cost_usd for entry in mine if entry.priced), Decimal(0))
    return total, sum(not entry.priced for entry in mine)


def all_in_per_query(costs: RouteCosts, monthly_queries: int, months: int) -> Decimal:
    """runtime + build / (monthly_queries × months): the build is paid off over the amortization window."""
    if monthly_queries <= 0 or months <= 0:
        raise ValueError(f"monthly_queries and months must be positive, got {monthly_queries} and {months}")
    return costs.runtime_per_query_usd + costs.build_usd / (monthly_queries * months)


def per_correct(cost_per_query: Decimal, accuracy: float) -> Decimal | None:
    """Cost of one correct answer; None when nothing was right (the cost is unbounded, not a number)."""
    if not 0 <= accuracy <= 1:
        raise ValueError(f"accuracy must lie in [0, 1], got {accuracy}")
    if accuracy == 0:
        return None
    return cost_per_query / Decimal(repr(accuracy))


def break_even_queries_per_month(a: RouteCosts, b: RouteCosts, months: int) -> Decimal | None:
    """Monthly volume where a and b cost the same all-in per query; None when one is never dearer.

    Solving r_a + B_a/(v·m) = r_b + B_b/(v·m) gives v = (B_b − B_a) / ((r_a − r_b)·m). Below that volume
    the route with the smaller build cost is cheaper; above it, the one with the smaller runtime cost.
    """
    if months <= 0:
        raise ValueError(f"months must be positive, got {months}")
    runtime_gap = a.runtime_per_query_usd - b.runtime_per_query_usd
    build_gap = b.build_usd - a.build_usd
    if runtime_gap == 0 or build_gap == 0:
        return None
    volume = build_gap / (runtime_gap * months)
    return volume if volume > 0 else None


def cost_curve(costs: RouteCosts, volumes: Sequence[int], months: int) -> list[Decimal]:
    """All-in $/query at each monthly volume: the break-even plot's line for one route."""
    return [all_in_per_query(costs, volume, months) for volume in volumes]


def _non_negative(name: str, value: Decimal | float | None) -> Decimal:
    if value is None:
        raise CostInputError(f"{name} is missing")
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite() or number < 0:
        raise CostInputError(f"{name} must be a non-negative number, got {value}")
    return number


def manual_entry(
    route: str,
    kind: str,
    *,
    hours: float | None = None,
    rate_usd: Decimal | None = None,
    usd: Decimal | None = None,
    description: str = "",
) -> LedgerEntry:
    """A hand-entered build cost (`kgft ledger add`): hours × hourly rate, or one flat amount."""
    if not route.strip() or not kind.strip():
        raise CostInputError("a ledger entry needs a route and a kind")
    if usd is not None:
        if hours is not None or rate_usd is not None:
            raise CostInputError("give either a flat amount or hours and a rate, not both")
        amount = _non_negative("amount", usd)
        return LedgerEntry(route, kind, description, amount, f"{money(amount)} flat", True)
    if hours is None and rate_usd is None:
        raise CostInputError("give a flat amount, or hours and an hourly rate")
    spent, rate = _non_negative("hours", hours), _non_negative("hourly rate", rate_usd)
    basis = f"{format(spent.normalize(), 'f')} h × {money(rate)}/h"
    return LedgerEntry(
        route, kind, description, spent * rate, basis, True, meta={"hours": str(spent), "rate_usd": str(rate)}
    )
