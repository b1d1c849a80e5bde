"""The run summary: per-route accuracy and all-in cost, paired comparisons and a one-sentence verdict.

Every report (HTML, Markdown, JSON) is drawn from this one JSON-ready dict, so they never disagree.
Money is Decimal until it leaves as a decimal string; floats only carry statistics.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from itertools import combinations
from statistics import fmean
from typing import Any

from eval.costs import (
    RouteCosts,
    all_in_per_query,
    break_even_queries_per_month,
    keeping_current,
    missing_builds,
    per_correct,
    route_entries,
)
from eval.metrics import abstention_rate
from eval.report.formatting import usd
from eval.stats import (
    Interval,
    fisher_exact_p,
    mcnemar_exact_p,
    mean_interval,
    paired_bootstrap_diff,
    paired_mean_diff,
    percentiles,
    sample_size_line,
    unpaired_bootstrap_diff,
)
from kgft.errors import KgftError
from kgft.ledger import LedgerEntry
from kgft.results_store import ResultRow

PREFERRED_ORDER = ("kg", "ft", "llm")  # the main comparison is KG − FT whenever both ran
MAIN_PAIR = ("kg", "ft")
USD_PLACES = Decimal("1e-10")  # a tenth of a micro-dollar: finer than any per-token price
PAIRING_NOTE = (
    "Paired statistics use only items both routes answered with a verdict; a row with an error counts "
    "as incorrect on any item that some route was scored on."
)
KG_DERIVED_NOTE = (
    "This dataset was derived from the knowledge graph itself, which favours the KG route; "
    "quote independent benchmarks for the headline."
)


class SummaryError(KgftError):
    """The rows cannot be summarized as asked (for example, a named route has no rows)."""


def build_summary(
    rows: Sequence[ResultRow],
    ledger: Sequence[LedgerEntry],
    *,
    dataset: str,
    monthly_queries: int,
    months: int,
    kg_derived: bool = False,
    routes: Sequence[str] | None = None,
    seed: int = 0,
    fixed_monthly: Mapping[str, Mapping[str, Decimal]] | None = None,
    scenarios: Sequence[dict[str, Any]] = (),
    updates_per_month: Decimal = Decimal(0),
) -> dict[str, Any]:
    """`routes` orders the routes; KG − FT is the main `comparison` when both ran, else the first two.

    `fixed_monthly` is route → {item: USD a month}; `scenarios` are worked plans (eval.scenario) shown
    beside the measured routes. `updates_per_month` adds each route's cost of staying current, priced
    from the updates its ledger entries measured (eval.costs.keeping_current).
    """
    by_route: dict[str, list[ResultRow]] = defaultdict(list)
    for row in rows:
        by_route[row.route].append(row)
    names, missing = _route_order(by_route, routes)
    outcomes = _outcomes(rows)
    builds = {name: _builds(by_route[name]) for name in names}
    entries = {name: _entries(name, by_route[name], builds[name], ledger) for name in names}
    fixed = {
        name: dict((fixed_monthly or {}).get(name, {})) | keeping_current(entries[name], updates_per_month)
        for name in names
    }
    costs = {name: _route_costs(name, by_route[name], entries[name], fixed[name]) for name in names}
    summaries = {
        name: _route_summary(
            by_route[name],
            outcomes[name],
            costs[name],
            entries[name],
            builds[name],
            fixed[name],
            monthly_queries,
            months,
            seed,
        )
        for name in names
    }
    comparisons = {
        f"{a}_vs_{b}": _comparison(a, b, by_route, outcomes, costs, months, seed)
        for a, b in combinations(names, 2)
    }
    main = comparisons[f"{names[0]}_vs_{names[1]}"] if len(names) > 1 else None
    notes = [PAIRING_NOTE] + ([KG_DERIVED_NOTE] if kg_derived else [])
    notes += [f"Route '{name}' was named for this run but has no rows." for name in missing]
    notes += _cost_notes(summaries)
    return {
        "dataset": dataset,
        "kg_derived": kg_derived,
        "monthly_queries": monthly_queries,
        "amortization_months": months,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "route_order": names,
        "routes": summaries,
        "comparison": main,
        "comparisons": comparisons,
        "scenarios": list(scenarios),
        "verdict": _verdict(summaries, main, monthly_queries, kg_derived),
        "notes": notes,
    }


def _builds(rows: list[ResultRow]) -> list[dict[str, str]]:
    """The builds the route's rows name (eval records them); none on rows from before that."""
    found: dict[str, dict[str, str]] = {}
    for row in rows:
        for build in row.meta.get("builds", []):
            found.setdefault(build["config"], build)
    return list(found.values())


def _entries(
    name: str, rows: list[ResultRow], builds: list[dict[str, str]], ledger: Sequence[LedgerEntry]
) -> list[LedgerEntry]:
    domains = Counter(row.meta["domain"] for row in rows if "domain" in row.meta)
    domain = domains.most_common(1)[0][0] if domains else None
    configs = frozenset(build["config"] for build in builds)
    return route_entries(ledger, name, domain=domain, configs=configs)


def _cost_notes(routes: dict[str, dict[str, Any]]) -> list[str]:
    notes = []
    for name, stats in routes.items():
        if len(stats["configs"]) > 1:
            notes.append(
                f"{_label(name)}: its rows come from {len(stats['configs'])} configurations "
                f"({', '.join(stats['configs'])}); its figures mix them."
            )
        if stats["unpriced_queries"]:
            notes.append(
                f"{_label(name)}: {stats['unpriced_queries']} of {stats['n']} rows are unpriced "
                f"({stats['errors']} of them errors); its runtime $/query counts only the priced rows' spend."
            )
        for build in stats["missing_builds"]:
            notes.append(
                f"{_label(name)}: no ledger entry records the build of {build['what']} ({build['config']}); "
                "its all-in leaves that build out."
            )
    return notes


def _route_order(
    by_route: dict[str, list[ResultRow]], routes: Sequence[str] | None
) -> tuple[list[str], list[str]]:
    """The routes to report in order, and those the caller named that have no rows (a cut-short run)."""
    if not by_route:
        raise SummaryError("no result rows to summarize")
    if routes is not None:
        named = list(dict.fromkeys(routes))
        present = [name for name in named if name in by_route]
        if not present:
            raise SummaryError(f"no rows for route(s) {', '.join(named)}; the rows have {sorted(by_route)}")
        return _main_first(present), [name for name in named if name not in by_route]
    preferred = [name for name in PREFERRED_ORDER if name in by_route]
    return preferred + sorted(set(by_route) - set(preferred)), []


def _main_first(names: list[str]) -> list[str]:
    """KG and FT first when both ran (the main comparison, in the order the caller named them); the
    others after, in the order named."""
    if all(name in names for name in MAIN_PAIR):
        pair = [name for name in names if name in MAIN_PAIR]
        return [*pair, *(name for name in names if name not in MAIN_PAIR)]
    return names


def _outcomes(rows: Sequence[ResultRow]) -> dict[str, dict[str, bool | None]]:
    """route → item → verdict. An errored or abstained row is wrong on a scored item, not silently left
    out (rows judged before abstentions were graded have no verdict of their own)."""
    scored_items = {row.item_id for row in rows if row.correct is not None}
    outcomes: dict[str, dict[str, bool | None]] = defaultdict(dict)
    for row in rows:
        verdict = row.correct
        if verdict is None and (row.error is not None or row.abstained) and row.item_id in scored_items:
            verdict = False
        outcomes[row.route][row.item_id] = verdict
    return outcomes


def _route_costs(
    route: str, rows: list[ResultRow], entries: list[LedgerEntry], fixed: dict[str, Decimal]
) -> RouteCosts:
    build_usd = sum((entry.cost_usd for entry in entries if entry.priced), Decimal(0))
    unpriced = sum(not entry.priced for entry in entries)
    runtime = sum((row.runtime_cost_usd for row in rows), Decimal(0)) / len(rows)
    return RouteCosts(route, build_usd, runtime, unpriced, sum(fixed.values(), Decimal(0)))


def _most_common(rows: list[ResultRow], key: str) -> str | None:
    """What answered most of the route's rows: a route serves one model, but old rows may lack it."""
    found = Counter(row.meta[key] for row in rows if isinstance(row.meta.get(key), str))
    return found.most_common(1)[0][0] if found else None


def _route_summary(
    rows: list[ResultRow],
    outcomes: dict[str, bool | None],
    costs: RouteCosts,
    entries: list[LedgerEntry],
    builds: list[dict[str, str]],
    fixed: dict[str, Decimal],
    monthly_queries: int,
    months: int,
    seed: int,
) -> dict[str, Any]:
    verdicts = [float(v) for v in outcomes.values() if v is not None]
    accuracy = fmean(verdicts) if verdicts else None
    abstained = {row.item_id for row in rows if row.abstained}
    answered = [float(v) for item, v in outcomes.items() if v is not None and item not in abstained]
    interval = mean_interval(verdicts, seed=seed) if verdicts else None
    all_in = all_in_per_query(costs, monthly_queries, months)
    # Errored rows carry no timing (0 ms), which would flatter the percentiles.
    timed = [row.latency_ms for row in rows if row.error is None]
    latency = percentiles(timed) if timed else {"p50": None, "p95": None, "p99": None}
    unpriced_queries = sum(not row.priced for row in rows)
    missing = missing_builds(entries, frozenset(build["config"] for build in builds))
    return {
        # eval.route_config keys on the rows: more than one means the rows came from different setups.
        "configs": sorted({row.meta["config"] for row in rows if isinstance(row.meta.get("config"), str)}),
        "model": _most_common(rows, "model"),
        "reader": _most_common(rows, "reader"),
        "backend": _most_common(rows, "backend"),
        "n": len(rows),
        "n_scored": len(verdicts),
        "n_correct": int(sum(verdicts)),
        "accuracy": _round(accuracy),
        "accuracy_ci95": _pair(interval),
        # The same verdicts with the route's abstentions left out: how right it is when it answers.
        "n_answered_scored": len(answered),
        "accuracy_without_abstentions": _round(fmean(answered) if answered else None),
        "errors": sum(row.error is not None for row in rows),
        "abstention_rate": _round(abstention_rate([row.abstained for row in rows])),
        "fallbacks": sum(row.fallback_from is not None for row in rows),
        "latency_ms_p50": _round(latency["p50"], 1),
        "latency_ms_p95": _round(latency["p95"], 1),
        "latency_ms_p99": _round(latency["p99"], 1),
        "cost_per_query_usd": _exact(costs.runtime_per_query_usd),
        "all_in_cost_per_query_usd": _exact(all_in),
        "cost_per_correct_usd": _exact(_per_correct(costs.runtime_per_query_usd, accuracy)),
        "all_in_cost_per_correct_usd": _exact(_per_correct(all_in, accuracy)),
        "build_cost_usd": _exact(costs.build_usd),
        "unpriced_build_entries": costs.unpriced_build_entries,
        "unpriced_queries": unpriced_queries,
        "builds": builds,
        "missing_builds": [build for build in builds if build["config"] in missing],
        "fixed_monthly_usd": _exact(costs.fixed_monthly_usd),
        "fixed_monthly_items": {item: _exact(usd) for item, usd in sorted(fixed.items())},
        "costs_complete": unpriced_queries == 0 and costs.unpriced_build_entries == 0 and not missing,
        "build_entries": [_ledger_line(entry) for entry in entries],
        "tokens": _token_means(rows),
        "open_answers": _open_answer_means(rows),
        "categories": _category_accuracy(rows, outcomes),
        "sources": dict(sorted(Counter(row.source for row in rows).items())),
        "judge_cost_usd": _exact(_judge_cost(rows)),
    }


def _judge_cost(rows: list[ResultRow]) -> Decimal:
    """What grading this route's open answers cost: an eval expense, kept out of the route's own cost."""
    return sum((Decimal(row.meta["judge"]["cost_usd"]) for row in rows if "judge" in row.meta), Decimal(0))


def _per_correct(cost_per_query: Decimal, accuracy: float | None) -> Decimal | None:
    return None if accuracy is None else per_correct(cost_per_query, accuracy)


def _ledger_line(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "route": entry.route,
        "config": entry.config,
        "kind": entry.kind,
        "description": entry.description,
        "cost_usd": _exact(entry.cost_usd),
        "priced": entry.priced,
        "basis": entry.basis,
    }


def _token_means(rows: list[ResultRow]) -> dict[str, float | None]:
    return {
        "prompt_mean": _round(fmean(row.prompt_tokens for row in rows), 1),
        "completion_mean": _round(fmean(row.completion_tokens for row in rows), 1),
        "reasoning_mean": _round(fmean(row.reasoning_tokens for row in rows), 1),
    }


def _open_answer_means(rows: list[ResultRow]) -> dict[str, Any] | None:
    """Overlap scores exist only for open (non-MCQ) items; None when the run had none."""
    f1 = [row.char_f1 for row in rows if row.char_f1 is not None]
    rouge = [row.rouge_l for row in rows if row.rouge_l is not None]
    if not f1 and not rouge:
        return None
    return {
        "n": max(len(f1), len(rouge)),
        "char_f1_mean": _round(fmean(f1)) if f1 else None,
        "rouge_l_mean": _round(fmean(rouge)) if rouge else None,
    }


def _category_accuracy(rows: list[ResultRow], outcomes: dict[str, bool | None]) -> dict[str, Any]:
    """Per category, with abstentions (wrong) and without, as the route's own accuracy."""
    tallies: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for row in rows:
        verdict = outcomes.get(row.item_id)
        if verdict is not None:
            tally = tallies[row.category]
            tally[0] += int(verdict)
            tally[1] += 1
            if not row.abstained:
                tally[2] += int(verdict)
                tally[3] += 1
    return {
        category: {
            "n_scored": scored,
            "accuracy": _round(correct / scored),
            "n_answered_scored": answered,
            "accuracy_without_abstentions": _round(right / answered) if answered else None,
        }
        for category, (correct, scored, right, answered) in sorted(
            tallies.items(), key=lambda kv: (-kv[1][1], kv[0])
        )
    }


def _comparison(
    a: str,
    b: str,
    by_route: dict[str, list[ResultRow]],
    outcomes: dict[str, dict[str, bool | None]],
    costs: dict[str, RouteCosts],
    months: int,
    seed: int,
) -> dict[str, Any]:
    paired = sorted(
        item
        for item, verdict in outcomes[a].items()
        if verdict is not None and outcomes[b].get(item) is not None
    )
    wins_a = [bool(outcomes[a][item]) for item in paired]
    wins_b = [bool(outcomes[b][item]) for item in paired]
    cost_a = {row.item_id: row.runtime_cost_usd for row in by_route[a]}
    cost_b = {row.item_id: row.runtime_cost_usd for row in by_route[b]}
    both_costed = sorted(cost_a.keys() & cost_b.keys())
    diffs = [cost_a[item] - cost_b[item] for item in both_costed]
    discordant = sum(x != y for x, y in zip(wins_a, wins_b, strict=True))
    accuracy = paired_bootstrap_diff(wins_a, wins_b, seed=seed) if paired else None
    # Live A/B arms answer different items: compare the two groups as independent samples instead.
    scored_a = [bool(v) for v in outcomes[a].values() if v is not None]
    scored_b = [bool(v) for v in outcomes[b].values() if v is not None]
    unpaired = not paired and bool(scored_a) and bool(scored_b)
    if unpaired:
        accuracy = unpaired_bootstrap_diff(scored_a, scored_b, seed=seed)
    cost_ci = (
        paired_mean_diff(
            [float(cost_a[i]) for i in both_costed], [float(cost_b[i]) for i in both_costed], seed=seed
        )
        if both_costed
        else None
    )
    break_even = break_even_queries_per_month(costs[a], costs[b], months)
    return {
        "a": a,
        "b": b,
        "direction": f"{a} − {b}",
        "design": "paired" if paired else "unpaired" if unpaired else None,
        "n_paired": len(paired),
        "n_unpaired": [len(scored_a), len(scored_b)] if unpaired else None,
        "both_correct": sum(x and y for x, y in zip(wins_a, wins_b, strict=True)),
        "only_a_correct": sum(x and not y for x, y in zip(wins_a, wins_b, strict=True)),
        "only_b_correct": sum(y and not x for x, y in zip(wins_a, wins_b, strict=True)),
        "accuracy_diff": _round(accuracy.estimate if accuracy else None),
        "ci95": _pair(accuracy),
        "significant": accuracy is not None and (accuracy.low > 0 or accuracy.high < 0),
        "mcnemar_p": mcnemar_exact_p(wins_a, wins_b) if paired else None,
        "fisher_p": fisher_exact_p(scored_a, scored_b) if unpaired else None,
        "n_cost_paired": len(both_costed),
        "cost_diff_per_query_usd": _exact(sum(diffs, Decimal(0)) / len(diffs) if diffs else None),
        "cost_diff_ci95_usd": [_exact(_decimal(cost_ci.low)), _exact(_decimal(cost_ci.high))]
        if cost_ci
        else None,
        "break_even_queries_per_month": _exact(break_even),
        "sample_size": sample_size_line(len(paired), discordant=discordant / len(paired) if paired else None),
    }


def _verdict(
    routes: dict[str, dict[str, Any]], main: dict[str, Any] | None, monthly_queries: int, kg_derived: bool
) -> str:
    """One honest sentence: direction only when the CI excludes zero, and costs flagged when incomplete."""
    if main is None:
        name, stats = next(iter(routes.items()))
        accuracy = "no scored items" if stats["accuracy"] is None else f"{_pts(stats['accuracy'])}% accuracy"
        sentence = (
            f"{_label(name)} only: {accuracy} at {usd(stats['all_in_cost_per_query_usd'])} all-in per query "
            f"at {_volume(monthly_queries)} queries/month; no second route to compare."
        )
    elif main["design"] is None:
        a, b = _label(main["a"]), _label(main["b"])
        sentence = (
            f"The {a} and the {b} share no scored items, so accuracy cannot be compared; "
            f"the {a} runs {_cost_clause(routes, main, monthly_queries)}."
        )
    else:
        sentence = f"{_accuracy_clause(main)} {_cost_clause(routes, main, monthly_queries)}."
    others = [name for name in routes if main is None or name not in (main["a"], main["b"])]
    if main is not None and others:
        sentence += (
            " Also run: " + "; ".join(_figures(name, routes[name], monthly_queries) for name in others) + "."
        )
    sentence += " " + _models(routes)
    unpriced = [_unpriced(name, stats) for name, stats in routes.items() if not stats["costs_complete"]]
    if unpriced:
        sentence += (
            f" Costs are INCOMPLETE ({'; '.join(unpriced)}), so those dollar figures are lower bounds."
        )
    if kg_derived:
        sentence += " This set was derived from the KG, which favours the KG route."
    return sentence


def _figures(name: str, stats: dict[str, Any], monthly_queries: int) -> str:
    accuracy = "no scored items" if stats["accuracy"] is None else f"{_pts(stats['accuracy'])}%"
    return f"the {_label(name)} {accuracy} at {usd(stats['all_in_cost_per_query_usd'])} all-in per query"


def _models(routes: dict[str, dict[str, Any]]) -> str:
    """Which model answered for each route, and who read the facts: a result is about those, not a name."""
    parts = []
    for name, stats in routes.items():
        model = stats["model"] or "model not recorded"
        reader = f", {stats['reader']} reader" if stats["reader"] else ""
        parts.append(f"{_label(name)}: {model}{reader}")
    return "Models: " + "; ".join(parts) + "."


def _unpriced(name: str, stats: dict[str, Any]) -> str:
    counts = [
        _plural(stats["unpriced_queries"], "unpriced query", "unpriced queries"),
        _plural(stats["unpriced_build_entries"], "unpriced build entry", "unpriced build entries"),
    ]
    missing = [f"no build entry for {build['what']}" for build in stats["missing_builds"]]
    return f"the {_label(name)} has " + " and ".join([count for count in counts if count] + missing)


def _plural(count: int, one: str, many: str) -> str:
    return "" if count == 0 else f"{count} {one if count == 1 else many}"


def _accuracy_clause(main: dict[str, Any]) -> str:
    low, high = main["ci95"]
    test = (
        f"McNemar {_p(main['mcnemar_p'])}"
        if main["design"] == "paired"
        else (f"unpaired arms, Fisher {_p(main['fisher_p'])}")
    )
    stats = f"95% CI {_pts(low, signed=True)} to {_pts(high, signed=True)} pts, {test}"
    a, b = _label(main["a"]), _label(main["b"])
    if main["significant"]:
        return f"{a} {_pts(main['accuracy_diff'], signed=True)} pts accuracy vs the {b} ({stats})"
    return (
        f"No significant accuracy difference between the {a} and the {b} "
        f"({a} − {b} {_pts(main['accuracy_diff'], signed=True)} pts, {stats})"
    )


def _percent(ratio: Decimal) -> str:
    """Two significant digits, so a route at 1/7000 of the other's cost doesn't read as "0%"."""
    percent = float(ratio * 100)
    if percent < 0.01:
        return "<0.01%"
    return f"{percent:.0f}%" if percent >= 10 else f"{percent:.2g}%"


def _cost_clause(routes: dict[str, dict[str, Any]], main: dict[str, Any], monthly_queries: int) -> str:
    a_cost = Decimal(routes[main["a"]]["all_in_cost_per_query_usd"])
    b_cost = Decimal(routes[main["b"]]["all_in_cost_per_query_usd"])
    volume = f"at {_volume(monthly_queries)} queries/month"
    if b_cost == 0:
        return f"at {usd(a_cost)} vs {usd(b_cost)} all-in per query {volume}"
    ratio = a_cost / b_cost
    share = f"{_percent(ratio)} of" if ratio < 1 else f"{ratio:.1f}×"
    clause = f"at {share} the {_label(main['b'])}'s all-in $/query {volume}"
    if main["break_even_queries_per_month"] is not None:
        even = int(Decimal(main["break_even_queries_per_month"]).to_integral_value())
        a_runs_cheaper = Decimal(routes[main["a"]]["cost_per_query_usd"]) < Decimal(
            routes[main["b"]]["cost_per_query_usd"]
        )
        cheaper = _label(main["a"] if a_runs_cheaper else main["b"])
        clause += f"; the {cheaper} is cheaper above {_volume(even)} queries/month"
    return clause


def _label(route: str) -> str:
    return f"{route.upper()} route" if route in PREFERRED_ORDER else f"'{route}' route"


def _pts(fraction: float, *, signed: bool = False) -> str:
    return f"{fraction * 100:+.1f}" if signed else f"{fraction * 100:.1f}"


def _p(p: float) -> str:
    return "p<0.001" if p < 0.001 else f"p={p:.3f}"


def _volume(queries: int) -> str:
    """10000 → 10k, 2500000 → 2.5M: how people say volumes."""
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if queries >= size and queries % (size // 10) == 0:
            return f"{queries / size:g}{suffix}"
    return f"{queries:,}"


def _exact(value: Decimal | None) -> str | None:
    """Decimal text to a tenth of a micro-unit: JSON has no decimal type and floats would drift."""
    return None if value is None else format(value.quantize(USD_PLACES).normalize(), "f")


def _decimal(value: float) -> Decimal:
    return Decimal(repr(value))


def _round(value: float | None, places: int = 4) -> float | None:
    return None if value is None else round(float(value), places)


def _pair(interval: Interval | None) -> list[float] | None:
    return None if interval is None else [round(interval.low, 4), round(interval.high, 4)]
