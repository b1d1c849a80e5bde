"""The report's four figures as inline SVG, drawn from the summary so they agree with its tables.

Text stays text in the SVG (svg.fonttype "none"), so the reader's browser draws Chinese route and
category names with its own CJK fonts even where matplotlib here has none.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from eval.costs import RouteCosts, cost_curve
from kgft.results_store import ResultRow

ROUTE_COLOURS = {"kg": "#1f6fb4", "ft": "#e8710a", "llm": "#7f7f7f"}
OTHER_COLOURS = ("#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")
TOP_CATEGORIES = 15
LABEL_CHARS = 28  # longer category names are cut so the bars keep their width
NO_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}  # no RDF block, no timestamp
VOLUME_RANGE = (10, 10_000_000)  # queries/month drawn on the break-even plot, widened to fit its marks


@dataclass(frozen=True)
class Plot:
    id: str
    title: str
    caption: str
    svg: str


def draw_plots(summary: dict[str, Any], rows: Sequence[ResultRow]) -> list[Plot]:
    """The four figures in report order; a figure with nothing to show says so instead of vanishing."""
    colours = _colours(summary["route_order"])
    specs: list[tuple[str, str, str, Callable[[Figure], bool]]] = [
        (
            "plot-accuracy-cost",
            "Accuracy vs all-in cost per query",
            "Each point is a route: accuracy with its 95% bootstrap CI against all-in $/query (runtime plus "
            f"build cost amortized over {summary['monthly_queries']:,} queries/month × "
            f"{summary['amortization_months']} months). Up and left is better.",
            lambda fig: _accuracy_cost(fig, summary, colours),
        ),
        (
            "plot-break-even",
            "All-in cost per query vs monthly volume",
            "Build cost and fixed monthly costs spread over more queries as volume grows. The diamond "
            "marks where two routes cost the same; the dashed line is the volume this report assumes; a "
            "dotted line is a worked scenario (--scenario).",
            lambda fig: _break_even(fig, summary, colours),
        ),
        (
            "plot-latency",
            "Latency per query",
            "Box: middle half of queries, line: median, whiskers: 1.5 IQR, dots: outliers. Errored rows "
            "have no timing and are left out.",
            lambda fig: _latency(fig, summary, rows, colours),
        ),
        (
            "plot-categories",
            "Accuracy by category",
            f"The {TOP_CATEGORIES} categories with the most scored items; small categories swing widely.",
            lambda fig: _categories(fig, summary, colours),
        ),
    ]
    return [Plot(plot_id, title, caption, _svg(plot_id, draw)) for plot_id, title, caption, draw in specs]


def _colours(routes: Sequence[str]) -> dict[str, str]:
    others = iter(OTHER_COLOURS * (1 + len(routes) // len(OTHER_COLOURS)))
    return {name: ROUTE_COLOURS.get(name) or next(others) for name in routes}


def _svg(plot_id: str, draw: Callable[[Figure], bool]) -> str:
    figure = Figure(figsize=(7.2, 4.2), layout="constrained")
    # A per-plot salt keeps the SVG ids of several inline figures from colliding in one page.
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": plot_id}), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from")  # CJK: the browser draws it
        if not draw(figure):
            figure.clear()
            figure.set_figheight(1.0)
            figure.text(0.5, 0.5, "no data for this figure", ha="center", va="center", color="#666")
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata=NO_METADATA)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _accuracy_cost(figure: Figure, summary: dict[str, Any], colours: dict[str, str]) -> bool:
    axes = figure.add_subplot()
    right = 0.0
    for name in summary["route_order"]:
        stats = summary["routes"][name]
        if stats["accuracy"] is None:
            continue
        x = float(stats["all_in_cost_per_query_usd"])
        y = stats["accuracy"] * 100
        low, high = (bound * 100 for bound in stats["accuracy_ci95"])
        axes.errorbar(
            [x], [y], yerr=[[y - low], [high - y]], fmt="o", capsize=5, color=colours[name], label=name
        )
        axes.annotate(name, (x, y), textcoords="offset points", xytext=(8, 6))
        right = max(right, x)
    axes.set_xlabel("all-in cost per query (USD)")
    axes.set_ylabel("accuracy (%)")
    axes.set_xlim(0, right * 1.25 or 1e-6)  # from $0, so distances compare as ratios
    axes.margins(y=0.15)
    axes.grid(alpha=0.3)
    return bool(axes.lines)


def _break_even(figure: Figure, summary: dict[str, Any], colours: dict[str, str]) -> bool:
    axes = figure.add_subplot()
    months = summary["amortization_months"]
    costs = {name: _route_costs(name, summary["routes"][name]) for name in summary["route_order"]}
    marks = [
        (Decimal(c["break_even_queries_per_month"]), c["a"])
        for c in summary["comparisons"].values()
        if c["break_even_queries_per_month"] is not None
    ]
    low = min([VOLUME_RANGE[0], summary["monthly_queries"] / 10] + [float(v) / 10 for v, _ in marks])
    high = max([VOLUME_RANGE[1], summary["monthly_queries"] * 10] + [float(v) * 10 for v, _ in marks])
    volumes = sorted({max(1, int(v)) for v in np.geomspace(max(1, low), high, 120)})
    curves = {name: [float(c) for c in cost_curve(costs[name], volumes, months)] for name in costs}
    for name, curve in curves.items():
        axes.plot(volumes, curve, color=colours[name], label=_legend(name, summary), linewidth=2)
    for scenario in summary.get("scenarios", []):
        plan = _scenario_costs(scenario)
        curve = [float(c) for c in cost_curve(plan, volumes, months)]
        axes.plot(volumes, curve, color="#444", linestyle=":", linewidth=2, label=plan.route)
        curves[plan.route] = curve
    for volume, route in marks:
        at = max(1, int(volume.to_integral_value()))
        cost = float(cost_curve(costs[route], [at], months)[0])
        axes.plot([at], [cost], "D", color="black", zorder=3)
        axes.annotate(f"{at:,}/month", (at, cost), textcoords="offset points", xytext=(6, 8))
    axes.axvline(summary["monthly_queries"], color="#444", linestyle="--", linewidth=1)
    axes.set_xscale("log")
    if all(value > 0 for curve in curves.values() for value in curve):
        axes.set_yscale("log")
    axes.set_xlabel("queries per month (log scale)")
    axes.set_ylabel("all-in cost per query (USD)")
    axes.legend()
    axes.grid(alpha=0.3, which="both")
    return bool(curves)


def _legend(name: str, summary: dict[str, Any]) -> str:
    model = summary["routes"][name].get("model")
    return f"{name} ({model})" if model else name


def _route_costs(name: str, stats: dict[str, Any]) -> RouteCosts:
    return RouteCosts(
        name,
        Decimal(stats["build_cost_usd"]),
        Decimal(stats["cost_per_query_usd"]),
        stats["unpriced_build_entries"],
        Decimal(stats.get("fixed_monthly_usd") or 0),
    )


def _scenario_costs(scenario: dict[str, Any]) -> RouteCosts:
    """A worked plan drawn like a route: its build, runtime and fixed costs (eval.scenario)."""
    return RouteCosts(
        f"scenario {scenario['name']}",
        Decimal(scenario["build_usd"]),
        Decimal(scenario["runtime_per_query_usd"]),
        0,
        Decimal(scenario["fixed_monthly_usd"]),
    )


def _latency(
    figure: Figure, summary: dict[str, Any], rows: Sequence[ResultRow], colours: dict[str, str]
) -> bool:
    timed = {
        name: [row.latency_ms for row in rows if row.route == name and row.error is None]
        for name in summary["route_order"]
    }
    timed = {name: values for name, values in timed.items() if values}
    if not timed:
        return False
    axes = figure.add_subplot()
    boxes = axes.boxplot(
        list(timed.values()),
        tick_labels=list(timed),
        patch_artist=True,
        widths=0.5,
        medianprops={"color": "black"},
    )
    for patch, name in zip(boxes["boxes"], timed, strict=True):
        patch.set_facecolor(colours[name])
        patch.set_alpha(0.6)
    everything = [value for values in timed.values() for value in values]
    if min(everything) > 0 and max(everything) / min(everything) > 50:
        axes.set_yscale("log")
    axes.set_ylabel("latency (ms)")
    axes.grid(alpha=0.3, axis="y")
    return True


def _categories(figure: Figure, summary: dict[str, Any], colours: dict[str, str]) -> bool:
    names = summary["route_order"]
    totals: dict[str, int] = {}
    for name in names:
        for category, cell in summary["routes"][name]["categories"].items():
            totals[category] = totals.get(category, 0) + cell["n_scored"]
    top = sorted(totals, key=lambda category: (-totals[category], category))[:TOP_CATEGORIES]
    if not top:
        return False
    figure.set_figheight(max(3.0, 0.32 * len(top) * max(1, len(names)) ** 0.5 + 1.2))
    axes = figure.add_subplot()
    positions = np.arange(len(top))[::-1]
    height = 0.8 / len(names)
    for index, name in enumerate(names):
        cells = summary["routes"][name]["categories"]
        values = [cells[c]["accuracy"] * 100 if c in cells else 0.0 for c in top]
        axes.barh(
            positions + (len(names) / 2 - index - 0.5) * height,
            values,
            height,
            color=colours[name],
            label=name,
        )
    axes.set_yticks(positions, [_short(category) for category in top])
    axes.set_xlim(0, 100)
    axes.set_xlabel("accuracy (%)")
    figure.legend(loc="outside upper center", ncols=len(names))
    axes.grid(alpha=0.3, axis="x")
    return True


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"
