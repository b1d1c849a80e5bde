"""The freshness report: per route, accuracy on changed and unchanged items before and after the update,
the stale-answer rate, and what the update took (seconds, dollars as the ledger booked them)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path

from eval.freshness import FreshnessItem
from eval.stats import Interval, mean_interval, paired_bootstrap_diff


@dataclass(frozen=True)
class Phase:
    """One route's picks on every item, in item order (None: no pick or an abstention)."""

    picks: list[str | None]


@dataclass(frozen=True)
class Update:
    seconds: float
    cost_usd: Decimal
    priced: bool
    what: str  # "11 amendments ingested with --update", "a refresh LoRA run on 50 changed articles"


@dataclass(frozen=True)
class RouteFreshness:
    route: str
    changed_before: Interval
    changed_after: Interval
    changed_gain: Interval  # after − before, paired by item
    stale_before: float
    stale_after: float
    unchanged_before: Interval | None
    unchanged_after: Interval | None
    update: Update


def route_freshness(
    route: str, items: Sequence[FreshnessItem], before: Phase, after: Phase, update: Update
) -> RouteFreshness:
    changed = [i for i, item in enumerate(items) if item.changed]
    kept = [i for i, item in enumerate(items) if not item.changed]

    def right(phase: Phase, which: list[int]) -> list[bool]:
        return [phase.picks[i] == items[i].gold for i in which]

    def stale(phase: Phase) -> float:
        return sum(phase.picks[i] == items[i].stale for i in changed) / max(1, len(changed))

    return RouteFreshness(
        route,
        mean_interval(right(before, changed)),
        mean_interval(right(after, changed)),
        paired_bootstrap_diff(right(after, changed), right(before, changed)),
        stale(before),
        stale(after),
        mean_interval(right(before, kept)) if kept else None,
        mean_interval(right(after, kept)) if kept else None,
        update,
    )


def write_report(out: Path, items: Sequence[FreshnessItem], routes: Sequence[RouteFreshness]) -> Path:
    """report.json (every figure) and report.md (the table a reader wants) in `out`."""
    changed = sum(item.changed for item in items)
    figures = {"items": len(items), "changed": changed, "unchanged": len(items) - changed}
    (out / "report.json").write_text(
        json.dumps(figures | {"routes": [asdict(route) for route in routes]}, default=str, indent=2), "utf-8"
    )
    lines = [
        f"# Freshness: {changed} changed and {len(items) - changed} unchanged articles (KG-derived MCQs)",
        "",
        "| route | changed: before → after (95% CI) | stale answers: before → after "
        "| unchanged: before → after | update: seconds | update: $ |",
        "|---|---|---|---|---|---|",
    ]
    for route in routes:
        cost = f"{route.update.cost_usd:.6f}" if route.update.priced else "unpriced"
        lines.append(
            f"| {route.route} | {_interval(route.changed_before)} → {_interval(route.changed_after)} "
            f"| {route.stale_before:.0%} → {route.stale_after:.0%} "
            f"| {_interval(route.unchanged_before)} → {_interval(route.unchanged_after)} "
            f"| {route.update.seconds:.1f} | {cost} |"
        )
    lines += ["", *(f"- {route.route} update: {route.update.what}" for route in routes)]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def _interval(interval: Interval | None) -> str:
    if interval is None:
        return "–"
    return f"{interval.estimate:.0%} [{interval.low:.0%}, {interval.high:.0%}]"
