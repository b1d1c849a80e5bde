"""All-in cost per query: runtime cost, plus the one-off build cost spread over the queries it serves,
plus fixed monthly costs spread over the month's queries.

Everything is Decimal: a break-even volume or a $/correct answer must not drift with float rounding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from kgft.errors import KgftError
from kgft.ledger import LedgerEntry
from kgft.ledger_kinds import check_kind
from kgft.pricing import money
from kgft.projects import Project


class CostInputError(KgftError, ValueError):
    """A ledger figure is missing, negative or not a number; the CLI shows it as one line."""


@dataclass(frozen=True)
class RouteCosts:
    route: str
    build_usd: Decimal
    runtime_per_query_usd: Decimal
    unpriced_build_entries: int
    fixed_monthly_usd: Decimal = Decimal(0)  # reserved serving hardware, graph host, KG upkeep, refreshes


def route_entries(
    entries: Sequence[LedgerEntry],
    route: str,
    *,
    domain: str | None = None,
    configs: frozenset[str] = frozenset(),
) -> list[LedgerEntry]:
    """The entries that belong to this route's project: those naming one of its builds (whichever route
    booked them: hybrid shares kg's graph and ft's model), and the route's own entries that name no
    build. A route that names no builds takes its own entries. Entries of another domain never count."""
    return [entry for entry in entries if _belongs(entry, route, domain, configs)]


def _belongs(entry: LedgerEntry, route: str, domain: str | None, configs: frozenset[str]) -> bool:
    if entry.domain is not None and domain is not None and entry.domain != domain:
        return False
    if not configs:  # rows from before builds were recorded: match by route name, as then
        return entry.route == route
    return entry.config in configs or (entry.config is None and entry.route == route)


def missing_builds(entries: Sequence[LedgerEntry], configs: frozenset[str]) -> list[str]:
    """Builds the route names that no ledger entry records: its all-in would leave them out."""
    booked = {entry.config for entry in entries}
    return sorted(configs - booked)


def build_costs(
    entries: Sequence[LedgerEntry],
    route: str,
    *,
    domain: str | None = None,
    configs: frozenset[str] = frozenset(),
) -> tuple[Decimal, int]:
    """The route's priced build spend, and how many entries had no price (reported, never counted as $0)."""
    mine = route_entries(entries, route, domain=domain, configs=configs)
    total = sum((entry.cost_usd for entry in mine if entry.priced), Decimal(0))
    return total, sum(not entry.priced for entry in mine)


def cost_per_update(entries: Sequence[LedgerEntry]) -> Decimal | None:
    """The mean measured cost of one update of the route's knowledge: a finished `--update` ingest (KG)
    or refresh training run (FT); None when the ledger holds none, or only unpriced ones."""
    updates = [
        entry
        for entry in entries
        if entry.priced
        and (
            (entry.kind == "kg_update" and entry.meta.get("completed") is True)
            or (entry.kind == "training_run" and "refresh_of" in entry.meta)
        )
    ]
    if not updates:
        return None
    return sum((entry.cost_usd for entry in updates), Decimal(0)) / len(updates)


def keeping_current(entries: Sequence[LedgerEntry], updates_per_month: Decimal) -> dict[str, Decimal]:
    """The fixed monthly item for staying current at a stated update rate, priced from measured updates;
    empty when no rate is stated or no update was measured (the report then has nothing to guess)."""
    per_update = cost_per_update(entries)
    if updates_per_month <= 0 or per_update is None:
        return {}
    item = f"keeping current ({updates_per_month} updates × {money(per_update)} measured)"
    return {item: updates_per_month * per_update}


def all_in_per_query(costs: RouteCosts, monthly_queries: int, months: int) -> Decimal:
    """runtime + build / (monthly_queries × months) + fixed monthly / monthly_queries."""
    if monthly_queries <= 0 or months <= 0:
        raise ValueError(f"monthly_queries and months must be positive, got {monthly_queries} and {months}")
    return (
        costs.runtime_per_query_usd
        + costs.build_usd / (monthly_queries * months)
        + costs.fixed_monthly_usd / monthly_queries
    )


def per_correct(cost_per_query: Decimal, accuracy: float) -> Decimal | None:
    """Cost of one correct answer; None when nothing was right (the cost is unbounded, not a number)."""
    if not 0 <= accuracy <= 1:
        raise ValueError(f"accuracy must lie in [0, 1], got {accuracy}")
    if accuracy == 0:
        return None
    return cost_per_query / Decimal(repr(accuracy))


def monthly_overhead(costs: RouteCosts, months: int) -> Decimal:
    """What a route costs a month before any query: its build written off, plus its fixed costs."""
    return costs.build_usd / months + costs.fixed_monthly_usd


def break_even_queries_per_month(a: RouteCosts, b: RouteCosts, months: int) -> Decimal | None:
    """Monthly volume where a and b cost the same all-in per query; None when one is cheaper at every
    volume of at least one query a month.

    With overhead O = B/m + F, solving r_a + O_a/v = r_b + O_b/v gives v = (O_b − O_a) / (r_a − r_b).
    Below that volume the route with the smaller overhead is cheaper; above it, the smaller runtime cost.
    """
    if months <= 0:
        raise ValueError(f"months must be positive, got {months}")
    runtime_gap = a.runtime_per_query_usd - b.runtime_per_query_usd
    overhead_gap = monthly_overhead(b, months) - monthly_overhead(a, months)
    if runtime_gap == 0 or overhead_gap == 0:
        return None
    volume = overhead_gap / runtime_gap
    return volume if volume >= 1 else None


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
    routes: Sequence[str] | None = None,
    domain: str | None = None,
    config: str | None = None,
    share: BaseModelShare | None = None,
) -> LedgerEntry:
    """A hand-entered build cost (`kgft ledger add`): hours × hourly rate, one flat amount, or a base-model
    share. `routes` are the known route names: a typo would silently drop out of every all-in."""
    if not route.strip() or not kind.strip():
        raise CostInputError("a ledger entry needs a route and a kind")
    if routes is not None and route not in routes:
        raise CostInputError(f"unknown route '{route}'; use one of: {', '.join(routes)}")
    check_kind(kind)
    project = Project(domain or None, config or None)
    if share is not None:
        if kind != "base_model_share" or hours is not None or rate_usd is not None or usd is not None:
            raise CostInputError("a share (--fraction/--reason) is a base_model_share and nothing else")
        return share.entry(route, description, project)
    if kind == "base_model_share":
        raise CostInputError(
            "base_model_share needs --fraction with --published-usd and --source, or --reason"
        )
    if usd is not None:
        if hours is not None or rate_usd is not None:
            raise CostInputError("give either a flat amount or hours and a rate, not both")
        amount = _non_negative("amount", usd)
        return LedgerEntry(
            route,
            kind,
            description,
            amount,
            f"{money(amount)} flat",
            True,
            domain=project.domain,
            config=project.config,
        )
    if hours is None and rate_usd is None:
        raise CostInputError("give a flat amount, or hours and an hourly rate")
    spent, rate = _non_negative("hours", hours), _non_negative("hourly rate", rate_usd)
    basis = f"{format(spent.normalize(), 'f')} h × {money(rate)}/h"
    meta = {"hours": str(spent), "rate_usd": str(rate)}
    return LedgerEntry(
        route,
        kind,
        description,
        spent * rate,
        basis,
        True,
        meta=meta,
        domain=project.domain,
        config=project.config,
    )


@dataclass(frozen=True)
class BaseModelShare:
    """A stated fraction of a base model's published pre-training cost, or zero with the reason."""

    fraction: Decimal
    published_usd: Decimal | None = None
    source: str = ""
    reason: str = ""

    def entry(self, route: str, description: str, project: Project) -> LedgerEntry:
        fraction = _non_negative("fraction", self.fraction)
        if fraction > 1:
            raise CostInputError(f"fraction must lie in [0, 1], got {fraction}")
        if fraction == 0:
            if not self.reason.strip():
                raise CostInputError("a zero base-model share needs --reason")
            meta = {"fraction": "0", "reason": self.reason}
            return LedgerEntry(
                route,
                "base_model_share",
                description,
                Decimal(0),
                f"0 × ({self.reason})",
                True,
                meta=meta,
                domain=project.domain,
                config=project.config,
            )
        published = _non_negative("published pre-training cost", self.published_usd)
        if not self.source.strip():
            raise CostInputError("a base-model share needs --source for the published cost")
        amount = fraction * published
        meta = {"fraction": str(fraction), "published_cost_usd": str(published), "source": self.source}
        basis = f"{format(fraction.normalize(), 'f')} × {money(published)} ({self.source})"
        return LedgerEntry(
            route,
            "base_model_share",
            description,
            amount,
            basis,
            True,
            meta=meta,
            domain=project.domain,
            config=project.config,
        )
