"""What a training run cost, and the training_run ledger entry that records this process's share of it,
however the run ended."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from ft_route.train.batches import Dataset
from ft_route.train.presets import TrainConfig
from ft_route.train.run_state import RunState
from ft_route.train.setup import Base, pick_device
from kgft.contract import Cost
from kgft.ledger import Ledger, LedgerEntry
from kgft.pricing import PriceBook
from kgft.settings import Settings


def run_cost(settings: Settings, prices: PriceBook, device: torch.device, seconds: float) -> Cost:
    """`seconds` at the priced device's rate; on CPU, a per-core rate bills the run's threads."""
    cores = settings.threads if device.type == "cpu" else 1
    return prices.compute_cost(settings.device, seconds, cores=cores)


def record_run(
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
    cost = run_cost(settings, prices, pick_device(config), seconds)
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
