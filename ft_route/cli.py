"""`kgft ft data|train`: the FT route's build steps on the command line.

Heavy imports (torch, transformers) happen inside the commands, so `kgft --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kgft.backends import create_backend
from kgft.cli_context import Context, err

ft_app = typer.Typer(help="The FT route: build an s1-style dataset, then fine-tune on it.")


@ft_app.command("data")
def ft_data(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="folder for train.jsonl, eval.jsonl and dataset_card.json")],
    domain: Annotated[str, typer.Option(help="legal or medical")] = "legal",
    n: Annotated[int, typer.Option(min=1, help="examples to select (s1 used 1,000)")] = 1000,
    source: Annotated[
        list[Path] | None,
        typer.Option(help="training JSON/JSONL, or `cases` (CAIL2018 fact → charge pairs); repeat"),
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
        from kgft.graph_store import open_graph

        store = open_graph(settings)
    try:
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
    finally:
        if store is not None:
            store.close()
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
    batch_size: Annotated[int | None, typer.Option(min=1, help="examples per micro-batch")] = None,
    grad_accum: Annotated[int | None, typer.Option(min=1, help="micro-batches per optimizer step")] = None,
    packing: Annotated[
        bool | None, typer.Option("--packing/--no-packing", help="lay examples end to end in full rows")
    ] = None,
    compile_layers: Annotated[
        bool | None, typer.Option("--compile/--no-compile", help="torch.compile the decoder layers")
    ] = None,
    resume: Annotated[bool, typer.Option("--resume", help="continue from the latest checkpoint")] = False,
    trial: Annotated[bool, typer.Option("--trial", help="a hyperparameter trial (ledgered as such)")] = False,
    init_adapter: Annotated[
        Path | None, typer.Option(help="train on from an earlier run's adapter (a refresh after an update)")
    ] = None,
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
        batch_size=batch_size,
        grad_accum=grad_accum,
        packing=packing,
        compile=compile_layers,
        resume=resume,
        trial=trial,
        init_adapter=str(init_adapter) if init_adapter else None,
    )
    card = train(config, data, out, context.settings, context.prices)
    err.print(
        f"{out}: {card.steps} steps, loss {card.loss.first:.3f} → {card.loss.last:.3f}, "
        f"{card.tokens_per_s:.0f} tokens/s on {card.device}, ${card.cost_usd} ({card.cost_basis})",
        markup=False,
        highlight=False,
    )
