"""The FT route's trainer, read top to bottom: data → model → loop → checkpoint → ledger entry.

A plain torch loop over transformers models, with PEFT for LoRA and transformers' schedules. Every run
lands in the ledger, completed or not: device time spent on a failed run is part of what the route cost.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from transformers import set_seed

from ft_route.train.batches import Dataset, StepPlan, load_dataset, tokenize_for
from ft_route.train.cards import TrainingCard, summarize_losses, with_lineage
from ft_route.train.checkpoint import check_out_dir, latest_checkpoint, load_checkpoint, save_checkpoint
from ft_route.train.errors import TrainingError
from ft_route.train.ledger_entry import record_conversion, record_run, run_cost
from ft_route.train.loss import answer_loss
from ft_route.train.outputs import save_output
from ft_route.train.presets import TrainConfig
from ft_route.train.run_state import RunState
from ft_route.train.setup import (
    Base,
    build_optimizer,
    build_scheduler,
    load_model,
    pick_device,
    resolve_base,
)
from ft_route.train.sft_data import IGNORE_INDEX, TokenRow, collate, padded_batch
from kgft.errors import KgftError, first_line
from kgft.ledger import Ledger
from kgft.pricing import PriceBook
from kgft.settings import Settings


@dataclass(frozen=True)
class StepResult:
    loss: float  # mean cross-entropy over every answer token of the step
    grad_norm: float
    learning_rate: float  # the rate this step used
    answer_tokens: int


def train(
    config: TrainConfig,
    data_dir: Path,
    out_dir: Path,
    settings: Settings,
    prices: PriceBook,
    progress: bool = True,
) -> TrainingCard:
    """Fine-tune `config.base` on `data_dir/train.jsonl`; write the adapter or model, its training card and
    a ledger entry to `out_dir`. Bad input fails at once; a run that fails later is still ledgered.
    """
    base = resolve_base(config.base, settings)
    record_conversion(settings, prices, base)
    data = load_dataset(data_dir)
    check_out_dir(out_dir, config.resume)
    run = RunState(data_hash=data.data_hash, method=config.method)
    started = time.perf_counter()
    try:
        card = _fit(config, base, data, out_dir, settings, prices, run, started, progress)
    except KeyboardInterrupt:
        record_run(settings, prices, config, base, data, out_dir, run, started, "aborted")
        raise
    except Exception as exc:
        reason = first_line(exc)
        record_run(settings, prices, config, base, data, out_dir, run, started, "failed", reason)
        if isinstance(exc, KgftError):
            raise
        raise TrainingError(f"training failed at step {run.step + 1}: {reason}") from exc
    record_run(settings, prices, config, base, data, out_dir, run, started, "completed")
    return with_lineage(card, out_dir, Ledger(settings.ledger_path))


def _fit(
    config: TrainConfig,
    base: Base,
    data: Dataset,
    out_dir: Path,
    settings: Settings,
    prices: PriceBook,
    run: RunState,
    started: float,
    progress: bool,
) -> TrainingCard:
    started_at = _now()
    device = pick_device(config)
    if device.type == "cpu":
        torch.set_num_threads(settings.threads)
    bf16 = device.type == "cuda"
    set_seed(config.seed)

    # Model and data
    tokenizer, model = load_model(base.path, config, device)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    train_set = tokenize_for(tokenizer, data.train, config)
    eval_rows = tokenize_for(tokenizer, data.eval, config).rows if data.eval else []
    plan = StepPlan([len(row.input_ids) for row in train_set.rows], config)
    total_steps = plan.total_steps

    # Optimiser, schedule, and where to start
    optimizer = build_optimizer(model, config)
    scheduler = build_scheduler(optimizer, config, total_steps)
    latest = latest_checkpoint(out_dir) if config.resume else None
    if latest is not None:
        load_checkpoint(latest, model, optimizer, scheduler, run)
    prior_seconds = run.device_seconds

    # The loop
    with _progress_bar(progress) as bar:
        task = bar.add_task("training", total=total_steps, completed=run.step, loss=float("nan"), tok_s=0.0)
        while run.step < total_steps:
            micro_batches = [[train_set.rows[i] for i in rows] for rows in plan.micro_batches(run.step)]
            batches = [
                _to(
                    collate(rows, packing=config.packing, max_seq_len=config.max_seq_len, pad_id=pad_id),
                    device,
                )
                for rows in micro_batches
            ]
            tick = time.perf_counter()
            result = train_step(
                model, optimizer, scheduler, batches, max_grad_norm=config.max_grad_norm, bf16=bf16
            )
            if not math.isfinite(result.loss):
                raise TrainingError(
                    f"the loss became {result.loss} at step {run.step + 1}; "
                    f"lower the learning rate (now {config.learning_rate:g})"
                )
            run.step += 1
            run.examples += sum(len(rows) for rows in micro_batches)
            run.tokens += sum(len(row.input_ids) for rows in micro_batches for row in rows)  # padding aside
            run.answer_tokens += result.answer_tokens
            run.train_seconds += time.perf_counter() - tick
            run.losses.append(result.loss)
            bar.update(task, advance=1, loss=result.loss, tok_s=run.tokens / max(run.train_seconds, 1e-9))
            if run.step % config.save_every == 0 and run.step < total_steps:
                run.device_seconds = prior_seconds + time.perf_counter() - started
                save_checkpoint(out_dir, model, optimizer, scheduler, run, config.keep_checkpoints)

    # Outputs: eval loss, the adapter or model, the card
    eval_loss = evaluate(model, eval_rows, batch_size=config.batch_size, pad_id=pad_id, bf16=bf16)
    output = save_output(model, tokenizer, out_dir, config)
    run.device_seconds = prior_seconds + time.perf_counter() - started
    cost = run_cost(settings, prices, device, run.device_seconds)
    trainable, total = _param_counts(model)
    card = TrainingCard(
        status="completed",
        method=config.method,
        preset=config.preset,
        base_model=base.name,
        base_path=str(base.path),
        output=output,
        data_hash=data.data_hash,
        train_examples=len(data.train),
        eval_examples=len(data.eval),
        examples_truncated=train_set.truncated,
        examples_dropped=train_set.dropped,
        hyperparameters=config.hyperparameters() | {"total_steps": total_steps},
        steps=run.step,
        epochs=round(run.examples / len(train_set.rows), 4),
        trainable_params=trainable,
        total_params=total,
        loss=summarize_losses(run.losses),
        eval_loss=eval_loss,
        device=device.type,
        priced_as=settings.device,
        threads=settings.threads if device.type == "cpu" else None,
        device_seconds=round(run.device_seconds, 3),
        train_seconds=round(run.train_seconds, 3),
        tokens=run.tokens,
        answer_tokens=run.answer_tokens,
        tokens_per_s=round(run.tokens / max(run.train_seconds, 1e-9), 1),
        cost_usd=str(cost.runtime_usd),
        cost_basis=cost.basis,
        priced=cost.priced,
        resumed_from_step=run.resumed_from,
        started_at=started_at,
        finished_at=_now(),
    )
    card.write(out_dir)
    return card


def train_step(
    model: Any,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    micro_batches: Sequence[dict[str, torch.Tensor]],
    *,
    max_grad_norm: float,
    bf16: bool = False,
) -> StepResult:
    """One optimizer step over gradient-accumulated micro-batches (already on the model's device).

    Each micro-batch's summed loss is divided by the answer tokens of the whole step, so the step's loss
    is the mean over every answer token however they fall into micro-batches.
    """
    answer_tokens = sum(_targets(batch) for batch in micro_batches)
    device = micro_batches[0]["input_ids"].device
    loss_total = torch.zeros((), device=device)  # summed on the device: one sync per step, not per batch
    for batch in micro_batches:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = answer_loss(model, batch, answer_tokens)
        loss.backward()
        loss_total += loss.detach().float()
    params = [p for group in optimizer.param_groups for p in group["params"]]
    grad_norm = torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
    learning_rate = scheduler.get_last_lr()[0]
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return StepResult(
        loss=float(loss_total),
        grad_norm=float(grad_norm),
        learning_rate=learning_rate,
        answer_tokens=answer_tokens,
    )


@torch.no_grad()
def evaluate(
    model: Any, rows: Sequence[TokenRow], *, batch_size: int, pad_id: int, bf16: bool
) -> float | None:
    """Mean cross-entropy over every answer token of held-out rows; None without any."""
    if not rows:
        return None
    device = next(model.parameters()).device
    model.eval()
    loss_sum, targets = 0.0, 0
    for start in range(0, len(rows), batch_size):
        batch = _to(padded_batch(rows[start : start + batch_size], pad_id), device)
        count = _targets(batch)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = answer_loss(model, batch, count)
        loss_sum += float(loss) * count
        targets += count
    model.train()
    return round(loss_sum / targets, 5)


def _targets(batch: dict[str, torch.Tensor]) -> int:
    """Labels that carry a loss once shifted: position p predicts token p + 1."""
    return int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())


def _to(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {name: tensor.to(device, non_blocking=True) for name, tensor in batch.items()}


def _progress_bar(enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f}"),
        TextColumn("{task.fields[tok_s]:,.0f} tok/s"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not enabled,
    )


def _param_counts(model: Any) -> tuple[int, int]:
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
