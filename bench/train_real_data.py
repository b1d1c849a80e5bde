"""What kgft's training step gains on real SFT data, lever by lever: the same model and the same examples,
timed as the plain HF + PEFT step takes them (padded rows, the model's stock loss), with kgft's fused
answer loss, with that loss over packed rows, and so again with the decoder layers compiled (an identical
twin of the model); rounds alternate so drift on a shared machine hits every variant.

The stock loss builds fp32 logits for every position, prompt and padding included; the fused one sends
only answer positions through the output layer, a chunk at a time. Packing lays examples end to end in
rows of max_seq_len, so little of a micro-batch is padding. Writes tokens/s per variant as JSON; tokens
are the examples' own, padding never counts.

Usage: python bench/train_real_data.py --data DIR [--base smollm2] [--examples N] [--rounds N]
       [--batch-size B] [--max-seq-len T] [--threads N] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from ft_route.train import resolve
from ft_route.train.batches import load_dataset
from ft_route.train.loss import answer_loss
from ft_route.train.setup import build_optimizer, load_model, resolve_base
from ft_route.train.sft_data import IGNORE_INDEX, TokenRow, collate, epoch_batches, tokenize_examples
from kgft.settings import Settings

LossFn = Callable[[Any, dict[str, torch.Tensor], int], torch.Tensor]


@dataclass(frozen=True)
class Variant:
    loss: LossFn
    packing: bool
    compiled: bool = False


def stock_loss(model: Any, batch: dict[str, torch.Tensor], count: int) -> torch.Tensor:
    return model(**batch, use_cache=False, num_items_in_batch=count).loss


VARIANTS = {
    "plain": Variant(stock_loss, packing=False),
    "fused": Variant(answer_loss, packing=False),
    "fused_packed": Variant(answer_loss, packing=True),
    "fused_packed_compiled": Variant(answer_loss, packing=True, compiled=True),
}


def micro_batches(
    rows: list[TokenRow], variant: Variant, batch_size: int, max_seq_len: int, pad_id: int
) -> list[dict[str, torch.Tensor]]:
    """The trainer's micro-batches of these rows: `batch_size` padded rows, or packed to its token budget."""
    plan = epoch_batches(
        [len(row.input_ids) for row in rows],
        batch_size=batch_size,
        max_seq_len=max_seq_len,
        packing=variant.packing,
        seed=0,
        epoch=0,
    )
    return [
        collate([rows[i] for i in indices], packing=variant.packing, max_seq_len=max_seq_len, pad_id=pad_id)
        for indices in plan
    ]


def timed_round(model: Any, optimizer: Any, batches: list[dict[str, torch.Tensor]], loss_fn: LossFn) -> float:
    """Seconds for forward and backward on every micro-batch and one optimizer step, as one accumulated
    step: every variant does the same optimizer work, whatever its number of micro-batches.
    """
    started = time.perf_counter()
    answer_tokens = sum(int((batch["labels"][:, 1:] != IGNORE_INDEX).sum()) for batch in batches)
    for batch in batches:
        loss_fn(model, batch, answer_tokens).backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="a `kgft ft data` folder")
    parser.add_argument("--base", default="smollm2")
    parser.add_argument("--examples", type=int, default=32, help="training examples per timed round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per variant")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--max-seq-len", type=int, default=256)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("bench/results/train_real_data.json"))
    args = parser.parse_args()
    settings = Settings(**({"threads": args.threads} if args.threads else {}))
    torch.set_num_threads(settings.threads)
    torch.manual_seed(0)

    # The LoRA preset (r=16, every linear layer); dropout off so the variants train the same model (eager) or
    # its identical twin (compiled).
    config = resolve(
        "lora", base=args.base, batch_size=args.batch_size, max_seq_len=args.max_seq_len, lora_dropout=0.0
    )
    base = resolve_base(args.base, settings)
    tokenizer, eager = load_model(base.path, config, torch.device("cpu"))
    torch.manual_seed(0)  # the same LoRA initialisation for the compiled twin
    _, compiled = load_model(base.path, replace(config, compile=True), torch.device("cpu"))
    models = {name: compiled if variant.compiled else eager for name, variant in VARIANTS.items()}
    optimizers = {id(model): build_optimizer(model, config) for model in (eager, compiled)}
    examples = load_dataset(args.data).train[: args.examples]
    rows = tokenize_examples(tokenizer, examples, max_seq_len=args.max_seq_len).rows
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    batches = {
        name: micro_batches(rows, variant, args.batch_size, args.max_seq_len, pad_id)
        for name, variant in VARIANTS.items()
    }
    tokens = sum(len(row.input_ids) for row in rows)

    # Warm-up: the allocator and thread pool, and for the compiled twin every shape it will see.
    warmup_seconds = {
        name: round(timed_round(models[name], optimizers[id(models[name])], batches[name], variant.loss), 3)
        for name, variant in VARIANTS.items()
    }
    seconds: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for _ in range(args.rounds):
        for name, variant in VARIANTS.items():
            model = models[name]
            seconds[name].append(timed_round(model, optimizers[id(model)], batches[name], variant.loss))
    tokens_per_s = {name: tokens / statistics.median(times) for name, times in seconds.items()}
    report = {
        "device": platform.processor() or "cpu",
        "threads": settings.threads,
        "torch": torch.__version__,
        "base": base.name,
        "lora": {"r": config.lora_r, "targets": config.lora_targets},
        "data": str(args.data),
        "examples": len(rows),
        "batch_size": args.batch_size,
        "max_seq_len": args.max_seq_len,
        "tokens_per_round": tokens,
        "answer_token_share": round(sum(row.answer_tokens for row in rows) / tokens, 3),
        "padding_share": {
            name: round(1 - tokens / sum(batch["input_ids"].numel() for batch in found), 3)
            for name, found in batches.items()
        },
        "micro_batches": {name: len(found) for name, found in batches.items()},
        "warmup_seconds": warmup_seconds,
        "seconds_per_round": {name: [round(s, 3) for s in times] for name, times in seconds.items()},
        "tokens_per_s": {name: round(rate, 1) for name, rate in tokens_per_s.items()},
        "speedup_vs_plain": {
            name: round(rate / tokens_per_s["plain"], 3) for name, rate in tokens_per_s.items()
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report["tokens_per_s"]), json.dumps(report["speedup_vs_plain"]), "→", args.out)


if __name__ == "__main__":
    main()
