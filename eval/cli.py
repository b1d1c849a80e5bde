"""`kgft eval run|report` and `kgft ledger add|list`: A/B runs, reports, and the build costs they amortize."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from kgft.cli_context import Context, err
from kgft.errors import KgftError
from kgft.ledger import Ledger

eval_app = typer.Typer(help="Run routes on a benchmark and report accuracy, full cost and statistics.")
ledger_app = typer.Typer(help="The build-cost ledger: what it cost to build each route.")
cost_app = typer.Typer(help="Worked cost scenarios: a headline figure rebuilt, then the whole bill.")


@eval_app.command("run")
def run_command(
    ctx: typer.Context,
    dataset: Annotated[
        str,
        typer.Option(help="lexeval-1_2, pubmedqa, kg-legal[:N] (from the graph), ... or a JSONL/CSV path"),
    ],
    out: Annotated[Path, typer.Option(help="the run's folder; running again resumes it")],
    routes: Annotated[str, typer.Option(help="comma-separated routes, e.g. kg,ft")] = "kg,ft",
    limit: Annotated[int | None, typer.Option(min=1, help="first N items only")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="the shared data root, e.g. ../shared/data")] = None,
    concurrency: Annotated[int, typer.Option(min=1, help="routes answering at once")] = 2,
    batch_size: Annotated[int, typer.Option(min=1, help="items per answer_batch call")] = 8,
    judge: Annotated[str | None, typer.Option(help="backend spec of an LLM judge for open answers")] = None,
    seed: Annotated[int, typer.Option(help="seed of generated (KG-derived) sets")] = 0,
) -> None:
    """Answer every item with every route; one row per (item, route) in the results store."""
    from eval.workflow import EvalRequest, run_eval

    context: Context = ctx.obj
    request = EvalRequest(
        dataset, out, _route_names(routes), limit, data_dir, concurrency, batch_size, judge, seed
    )
    run_id, outcome = run_eval(request, context.settings, context.prices)
    err.print(
        f"{run_id}: {outcome.written} new rows, {outcome.already_done} already done, "
        f"{outcome.errors} route errors; report with `kgft eval report {out}`",
        markup=False,
        highlight=False,
    )


@eval_app.command("report")
def report_command(
    ctx: typer.Context,
    out: Annotated[Path, typer.Argument(help="a run folder from `kgft eval run` (the report goes there)")],
    run: Annotated[
        str | None, typer.Option(help="report another run id, e.g. 'live' for gateway traffic")
    ] = None,
    monthly_queries: Annotated[int | None, typer.Option(min=1, help="volume to amortize build costs")] = None,
    months: Annotated[int | None, typer.Option(min=1, help="months a build is written off over")] = None,
    scenario: Annotated[
        Path | None, typer.Option(help="a cost plan TOML (`kgft cost scenario`) shown beside the routes")
    ] = None,
) -> None:
    """Write report.html, report.md and summary.json, and print the verdict."""
    from eval.workflow import report_run

    context: Context = ctx.obj
    summary, written = report_run(
        out,
        context.settings,
        run_id=run,
        monthly_queries=monthly_queries,
        months=months,
        scenario=scenario,
        prices=context.prices,
    )
    print(summary["verdict"])
    err.print(f"report: {written['html']}", markup=False, highlight=False)


@ledger_app.command("add")
def ledger_add(
    ctx: typer.Context,
    route: Annotated[str, typer.Option(help="the route the cost belongs to: kg, ft, ...")],
    kind: Annotated[str, typer.Option(help="engineer_hours, annotation, base_model_share, ... (see --help)")],
    hours: Annotated[float | None, typer.Option(help="hours spent (with --rate)")] = None,
    rate: Annotated[str | None, typer.Option(help="USD per hour")] = None,
    usd: Annotated[str | None, typer.Option(help="a flat amount in USD instead of hours × rate")] = None,
    description: Annotated[str, typer.Option(help="what it was")] = "",
    domain: Annotated[
        str | None, typer.Option(help="the project's domain (legal, medical); default: any")
    ] = None,
    config: Annotated[
        str | None, typer.Option(help="the build it is for, e.g. 'ft-data ad90e61c3efa'; default: any")
    ] = None,
    fraction: Annotated[str | None, typer.Option(help="base_model_share: the share (0 to 1)")] = None,
    published_usd: Annotated[
        str | None, typer.Option(help="base_model_share: published pre-training cost")
    ] = None,
    source: Annotated[str, typer.Option(help="base_model_share: where the published cost is from")] = "",
    reason: Annotated[str, typer.Option(help="base_model_share: why the share is zero")] = "",
) -> None:
    """Add a build cost no tool measured (experts, annotation, the base model's share, failed attempts)."""
    from eval.costs import BaseModelShare, manual_entry
    from kgft.routes import route_names

    context: Context = ctx.obj
    share = None
    if fraction is not None or reason:
        share = BaseModelShare(
            _usd(fraction, "--fraction") or Decimal(0), _usd(published_usd, "--published-usd"), source, reason
        )
    entry = manual_entry(
        route,
        kind,
        hours=hours,
        rate_usd=_usd(rate, "--rate"),
        usd=_usd(usd, "--usd"),
        description=description,
        routes=route_names(),
        domain=domain,
        config=config,
        share=share,
    )
    Ledger(context.settings.ledger_path).append(entry)
    err.print(f"added {route}/{kind}: ${entry.cost_usd} ({entry.basis})", markup=False, highlight=False)


@ledger_app.command("list")
def ledger_list(
    ctx: typer.Context,
    route: Annotated[str | None, typer.Option(help="only this route")] = None,
) -> None:
    """Every build cost, with totals per route."""
    context: Context = ctx.obj
    entries = [e for e in Ledger(context.settings.ledger_path).entries() if route in (None, e.route)]
    table = Table("route", "kind", "project", "description", "USD", "basis")
    totals: dict[str, Decimal] = {}
    for entry in entries:
        project = f"{entry.domain or 'any domain'} / {entry.config or 'any build'}"
        table.add_row(entry.route, entry.kind, project, entry.description, str(entry.cost_usd), entry.basis)
        if entry.priced:
            totals[entry.route] = totals.get(entry.route, Decimal(0)) + entry.cost_usd
    err.print(table)
    for name, total in sorted(totals.items()):
        print(f"{name}\t{total}")


@cost_app.command("scenario")
def cost_scenario(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="s1, deepseek-v3, or a plan TOML of the same shape")],
    monthly_queries: Annotated[int | None, typer.Option(min=1, help="volume for the all-in $/query")] = None,
    months: Annotated[int | None, typer.Option(min=1, help="months the build is written off over")] = None,
) -> None:
    """Print each line with its arithmetic, evidence and source, the total, and the headline's share."""
    from eval.scenario import load_scenario, render_scenario

    context: Context = ctx.obj
    scenario = load_scenario(name, context.prices)
    print(render_scenario(scenario, monthly_queries=monthly_queries, months=months))


def _route_names(raw: str) -> list[str]:
    from kgft.routes import route_names

    names = [name.strip() for name in raw.split(",") if name.strip()]
    unknown = [name for name in names if name not in route_names()]
    if not names or unknown:
        raise KgftError(f"--routes '{raw}': use a comma list of {', '.join(route_names())}")
    return list(dict.fromkeys(names))


def _usd(raw: str | None, flag: str) -> Decimal | None:
    if raw is None:
        return None
    try:
        return Decimal(raw)
    except InvalidOperation as exc:
        raise KgftError(f"{flag} {raw!r} is not a number") from exc
