"""report.md: the same tables as the HTML for pull requests and chat; the figures stay in report.html."""

from __future__ import annotations

import re
from typing import Any

from eval.report.formatting import ci, ms, p_value, pct, pts, usd, usd_ci, volume

_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")


def render_markdown(summary: dict[str, Any]) -> str:
    lines = [
        f"# kgft report: {_cell(summary['dataset'])}",
        "",
        f"> {_cell(summary['verdict'])}",
        "",
        *_incomplete(summary),
        f"Generated {summary['generated_at']}; build costs amortized over "
        f"{volume(summary['monthly_queries'])} queries/month × {summary['amortization_months']} months. "
        "Figures: see report.html.",
        "",
        "## Routes",
        "",
        *_routes_table(summary),
        "",
        "## Paired comparison",
        "",
        *_comparison_table(summary),
        "",
        "## Build-cost ledger",
        "",
        *_ledger_tables(summary),
        *_scenario_tables(summary),
        "## Notes",
        "",
        *[f"- {_cell(note)}" for note in summary["notes"]],
        "",
    ]
    return "\n".join(lines)


def _routes_table(summary: dict[str, Any]) -> list[str]:
    lines = [
        "| route | model | reader | items | scored | accuracy (95% CI) | when answering | abstained "
        "| errors | runtime $/query | build $ | fixed $/month | all-in $/query | all-in $/correct "
        "| latency p50 / p95 |",
        "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for name in summary["route_order"]:
        r = summary["routes"][name]
        unpriced = f" (+{r['unpriced_build_entries']} unpriced)" if r["unpriced_build_entries"] else ""
        unpriced_rows = f" ({r['unpriced_queries']} unpriced)" if r["unpriced_queries"] else ""
        lines.append(
            f"| {_cell(name)} | {_cell(r['model'] or '—')} | {_cell(r['reader'] or '—')} "
            f"| {r['n']} | {r['n_scored']} | {pct(r['accuracy'])}{_ci_suffix(r)} "
            f"| {pct(r['accuracy_without_abstentions'])} | {pct(r['abstention_rate'])} "
            f"| {r['errors']} | {usd(r['cost_per_query_usd'])}{unpriced_rows} "
            f"| {usd(r['build_cost_usd'])}{unpriced} "
            f"| {usd(r['fixed_monthly_usd'])} "
            f"| {usd(r['all_in_cost_per_query_usd'])} | {usd(r['all_in_cost_per_correct_usd'])} "
            f"| {ms(r['latency_ms_p50'])} / {ms(r['latency_ms_p95'])} |"
        )
    return lines


def _ci_suffix(route: dict[str, Any]) -> str:
    return f" ({ci(route['accuracy_ci95'])})" if route["accuracy_ci95"] else ""


def _comparison_table(summary: dict[str, Any]) -> list[str]:
    if not summary["comparisons"]:
        return ["Only one route in this run: nothing to compare."]
    lines = [
        "| a − b | models | paired | accuracy diff | 95% CI | McNemar p (Fisher p if unpaired) "
        "| runtime $/query diff (95% CI) | break-even /month |",
        "|---|---|--:|--:|--:|--:|--:|--:|",
    ]
    routes = summary["routes"]
    for c in summary["comparisons"].values():
        models = f"{routes[c['a']]['model'] or '—'} vs {routes[c['b']]['model'] or '—'}"
        lines.append(
            f"| {_cell(c['a'])} − {_cell(c['b'])} | {_cell(models)} | {c['n_paired']} "
            f"| {pts(c['accuracy_diff'])} "
            f"| {ci(c['ci95'], points=True)} | {_test_p(c)} "
            f"| {usd(c['cost_diff_per_query_usd'])} ({usd_ci(c['cost_diff_ci95_usd'])}) "
            f"| {volume(c['break_even_queries_per_month'])} |"
        )
    return [*lines, "", summary["comparison"]["sample_size"]]


def _test_p(comparison: dict[str, Any]) -> str:
    if comparison.get("design") == "unpaired":
        return f"Fisher {p_value(comparison['fisher_p'])}"
    return p_value(comparison["mcnemar_p"])


def _ledger_tables(summary: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for name in summary["route_order"]:
        r = summary["routes"][name]
        reader = f", {r['reader']} reader" if r["reader"] else ""
        lines += [
            f"### {_cell(name)} ({_cell(r['model'] or 'model not recorded')}{reader}): "
            f"{usd(r['build_cost_usd'])}",
            "",
        ]
        if r["builds"]:
            built = "; ".join(
                b["what"] + (" (no ledger entry)" if b in r["missing_builds"] else "") for b in r["builds"]
            )
            lines += [f"Built from: {_cell(built)}", ""]
        if r["fixed_monthly_items"]:
            fixed = "; ".join(f"{item} {usd(amount)}" for item, amount in r["fixed_monthly_items"].items())
            lines += [f"Fixed a month: {_cell(fixed)}", ""]
        if not r["build_entries"]:
            lines += ["No build costs recorded for this route.", ""]
            continue
        lines += ["| kind | description | basis | $ |", "|---|---|---|--:|"]
        for e in r["build_entries"]:
            amount = usd(e["cost_usd"]) if e["priced"] else "unpriced"
            lines.append(
                f"| {_cell(e['kind'])} | {_cell(e['description'])} | {_cell(e['basis'])} | {amount} |"
            )
        lines.append("")
    return lines


def _incomplete(summary: dict[str, Any]) -> list[str]:
    """A warning line per route whose costs are lower bounds: it must not hide in the notes."""
    lines = []
    for name in summary["route_order"]:
        r = summary["routes"][name]
        if not r["costs_complete"]:
            parts = [f"{r['unpriced_queries']} of {r['n']} rows unpriced"] if r["unpriced_queries"] else []
            parts += (
                [f"{r['unpriced_build_entries']} unpriced build entries"]
                if r["unpriced_build_entries"]
                else []
            )
            parts += [f"no ledger entry for {b['what']}" for b in r["missing_builds"]]
            lines.append(f"**Costs incomplete for {_cell(name)}:** {_cell('; '.join(parts))}.")
    return [*lines, ""] if lines else []


def _scenario_tables(summary: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for sc in summary.get("scenarios", []):
        lines += [
            f"## Scenario: {_cell(sc['title'])}",
            "",
            f"Build {usd(sc['build_usd'])}; headline {_cell(sc['headline'])} rebuilt as "
            f"{usd(sc['headline_usd'])}, {sc['headline_share_text']} of the build; fixed "
            f"{usd(sc['fixed_monthly_usd'])}/month; all-in {usd(sc['all_in_cost_per_query_usd'])}/query at "
            f"{volume(summary['monthly_queries'])} queries/month.",
            "",
            "| kind | what | basis | evidence | source (date) | $ |",
            "|---|---|---|---|---|--:|",
        ]
        for line in sc["lines"]:
            kind = line["kind"] + (" (headline)" if line["in_headline"] else "")
            lines.append(
                f"| {_cell(kind)} | {_cell(line['what'])} | {_cell(line['basis'])} | {line['evidence']} "
                f"| {_cell(line['source'])} ({line['as_of']}) | {usd(line['usd'])} |"
            )
        lines.append("")
    return lines


def _cell(text: str) -> str:
    """User text in Markdown: a pipe or newline would break a table row, a tag would render as HTML."""
    text = str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").strip()
    return _TAG_START.sub("&lt;", text)  # "p<0.001" stays readable; "<script" does not render
