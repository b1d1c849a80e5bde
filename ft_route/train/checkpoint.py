"""Checkpoints and resuming: everything a stopped run needs to go on exactly where it left off, written so
that a half-written checkpoint is never taken for a complete one."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file

from ft_route.records import ADAPTER_DIR, MODEL_DIR
from ft_route.train.errors import TrainingError
from ft_route.train.run_state import RunState

CHECKPOINTS_DIR = "checkpoints"
_STATE_FILE = "trainer_state.json"  # written last: a checkpoint without it is incomplete


def check_out_dir(out_dir: Path, resume: bool) -> None:
    if not resume and _checkpoints(out_dir):
        raise TrainingError(
            f"{out_dir} already holds checkpoints from an earlier run; "
            "pass --resume to continue it, or choose an empty --out"
        )
    out_dir.mkdir(parents=True, exist_ok=True)


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
