"""The two eval steps as functions: run a dataset through routes, then report a run.

`kgft eval run|report` and `kgft demo` both call these, so the demo takes exactly the user's path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from eval.datasets import load_dataset
from eval.metrics import LLMJudge
from eval.route_config import configuration_key, route_configuration
from eval.run_dir import open_run, read_run
from eval.runner import JUDGE_FAILED, RunOutcome, judge_again, run_routes
from kgft.backends import create_backend
from kgft.builds import book_builds, build_labels
from kgft.cli_context import err
from kgft.contract import Route
from kgft.errors import KgftError
from kgft.graph_store import open_graph
from kgft.ledger import Ledger
from kgft.pricing import PriceBook
from kgft.results_store import ResultStore
from kgft.routes import build_route
from kgft.settings import Settings


@dataclass(frozen=True)
class EvalRequest:
    dataset: str
    out: Path
    routes: Sequence[str]
    limit: int | None = None
    data_dir: Path | None = None
    concurrency: int = 2
    batch_size: int = 8
    judge: str | None = None
    seed: int = 0


def run_eval(request: EvalRequest, settings: Settings, prices: PriceBook) -> tuple[str, RunOutcome]:
    """Answers what the run folder's run lacks; returns its run id and what this call did."""
    # A KG-derived set reads the graph and closes it before the routes are built: the KG route opens it next.
    graph = partial(open_graph, settings)
    loaded = load_dataset(request.dataset, request.data_dir, seed=request.seed, graph=graph)
    items = loaded.items[: request.limit] if request.limit else loaded.items
    if not items:
        raise KgftError(f"dataset '{request.dataset}' has no items")
    names = list(request.routes)
    built = {name: build_route(name, settings, prices) for name in names}
    configs = {name: route_configuration(route, settings) for name, route in built.items()}
    info = open_run(request.out, loaded.name, configs, loaded.kg_derived, request.limit)
    store = ResultStore(settings.store_url)
    try:
        store.create_run(
            info.run_id, loaded.name, info.routes, {"limit": request.limit, "configs": info.configs}
        )
        route_meta = {
            name: meta | {"config": configuration_key(configs[name])}
            for name, meta in _book_builds(built, Ledger(settings.ledger_path)).items()
        }
        judge = LLMJudge(create_backend(request.judge, settings), prices) if request.judge else None
        judge_failed = [row for row in store.rows(info.run_id) if row.meta.get(JUDGE_FAILED)]
        taken = store.take_errors(info.run_id)  # answered again, one at a time
        graded = judge_again(judge_failed, items, judge, store)  # paid answers: judged, not re-asked
        earlier_errors = {key: error for key, error in taken.items() if key not in graded}
        done = store.done_keys(info.run_id)
        with _progress() as progress:
            tasks = {
                name: progress.add_task(
                    name, total=len(items), completed=sum((item.id, name) in done for item in items)
                )
                for name in names
            }
            outcome = run_routes(
                items,
                built,
                store,
                info.run_id,
                concurrency=request.concurrency,
                batch_size=request.batch_size,
                judge=judge,
                on_answered=lambda name, count: progress.advance(tasks[name], count),
                route_meta=route_meta,
                earlier_errors=earlier_errors,
            )
    finally:
        store.close()
    return info.run_id, outcome


def report_run(
    out: Path,
    settings: Settings,
    *,
    run_id: str | None = None,
    monthly_queries: int | None = None,
    months: int | None = None,
    scenario: Path | None = None,
    prices: PriceBook | None = None,
) -> tuple[dict[str, Any], dict[str, Path]]:
    """Writes report.html, report.md and summary.json into `out`; `run_id` picks a run other than out's;
    `scenario` (a plan TOML, eval.scenario) is costed at the report's volume and shown beside the routes."""
    from eval.report import write_report
    from eval.scenario import load_scenario, scenario_summary
    from eval.summary import build_summary

    if run_id is None:
        info = read_run(out)
        run_id, dataset, kg_derived, order = info.run_id, info.dataset, info.kg_derived, info.routes
    else:
        dataset, kg_derived, order = f"run {run_id}", False, None
    store = ResultStore(settings.store_url)
    try:
        rows = store.rows(run_id)
    finally:
        store.close()
    if not rows:
        raise KgftError(f"run '{run_id}' has no rows in the results store")
    volume = monthly_queries or settings.monthly_queries
    months = months or settings.amortization_months
    scenarios = []
    if scenario is not None:
        plan = load_scenario(str(scenario), prices or PriceBook.load(settings.prices))
        scenarios.append(scenario_summary(plan, monthly_queries=volume, months=months))
    summary = build_summary(
        rows,
        Ledger(settings.ledger_path).entries(),
        dataset=dataset,
        monthly_queries=volume,
        months=months,
        kg_derived=kg_derived,
        routes=order,
        fixed_monthly=settings.fixed_monthly_usd,
        scenarios=scenarios,
        updates_per_month=settings.updates_per_month,
    )
    return summary, write_report(summary, rows, out)


def _book_builds(routes: dict[str, Route], ledger: Ledger) -> dict[str, dict[str, Any]]:
    """Books each route's build where it is evaluated (once, by entry id); returns the rows' meta
    naming those builds, so the report can tell a booked build from a missing one."""
    meta = {}
    for name, route in routes.items():
        booking = book_builds(name, route, ledger)
        err.print(booking.line(), markup=False, highlight=False)
        meta[name] = {"builds": build_labels(booking.builds)}
    return meta


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
    )
