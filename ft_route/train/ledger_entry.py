"""What a training run cost, and the ledger entry that records this process's share of it, however the
run ended: a completed run is a training_run, a trial an ablation, a failed or aborted one a failed_run."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch

from ft_route.train.batches import Dataset
from ft_route.train.presets import TrainConfig
from ft_route.train.run_state import RunState
from ft_route.train.setup import Base, pick_device
from kgft import hardware
from kgft.backends.gguf_convert import CONVERSION_FILE
from kgft.contract import Cost
from kgft.hardware import Hardware
from kgft.ledger import Ledger, LedgerEntry
from kgft.pricing import AUTO, PriceBook, unpriced
from kgft.projects import model_config
from kgft.settings import Settings


def run_hardware(settings: Settings, device: torch.device) -> Hardware:
    """The GPU by the name torch reports, or this machine's CPU with the threads the run used."""
    if device.type == "cuda":
        return Hardware("cuda", torch.cuda.get_device_name(device), 1)
    return hardware.cpu(settings.threads)


def run_cost(settings: Settings, prices: PriceBook, device: torch.device, seconds: float) -> Cost:
    """`seconds` at the rate of the hardware that ran. KGFT_DEVICE may name the rate, but a CPU rate
    never prices a GPU run (nor the reverse): that run is unpriced and says why."""
    ran = run_hardware(settings, device)
    if settings.device == AUTO:
        return prices.hardware_cost(ran, seconds)
    rate = prices.devices.get(settings.device)
    if rate is not None and rate.kind != ran.kind:
        return unpriced(
            f"the run used {ran.label()} but KGFT_DEVICE={settings.device} is a {rate.kind} rate; "
            f"set KGFT_DEVICE=auto or name a {ran.kind} rate"
        )
    return prices.compute_cost(settings.device, seconds, cores=ran.units if ran.kind == "cpu" else 1)


def record_conversion(settings: Settings, prices: PriceBook, base: Base) -> LedgerEntry | None:
    """Books converting the base (GGUF → safetensors) once, on the FT route: every model trained from
    that folder shares it. A folder converted before conversions were timed has nothing to book."""
    record_path = base.path / CONVERSION_FILE
    if not record_path.is_file():
        return None
    record = json.loads(record_path.read_text("utf-8"))
    seconds = float(record["seconds"])
    entry = LedgerEntry.from_cost(
        "ft",
        "model_conversion",
        f"convert {Path(record['source']).name} to a transformers folder for training",
        prices.compute_cost(settings.device, seconds, cores=settings.threads),
        seconds=seconds,
        meta={"source": record["source"], "folder": str(base.path)},
        id=f"conversion-{base.path.parent.name}-{record['kind']}",
    )
    booked = Ledger(settings.ledger_path).book([entry])
    return booked[0] if booked else None


def run_kind(status: str, trial: bool) -> str:
    if status != "completed":
        return "failed_run"
    return "ablation" if trial else "training_run"


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
) -> LedgerEntry:
    """One entry for this process's share: earlier runs were ledgered when they stopped."""
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
    if config.init_adapter is not None:
        meta["refresh_of"] = config.init_adapter  # an update run: what keeping the model current costs
    if run.resumed_from is not None:
        meta["resumed_from_step"] = run.resumed_from
    if error is not None:
        meta["error"] = error
    description = f"{config.method} fine-tune of {base.name} on {data.folder.name} ({status})"
    entry = LedgerEntry.from_cost(
        "ft",
        run_kind(status, config.trial),
        description,
        cost,
        seconds=round(seconds, 3),
        tokens=run.tokens - run.resumed_tokens,
        meta=meta,
        config=model_config(data.data_hash),
    )
    Ledger(settings.ledger_path).append(entry)
    return entry
