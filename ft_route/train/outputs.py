"""What a finished run ships: the LoRA adapter (halved to fp16) or the model, with a tokenizer only where the
folder serves on its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from ft_route.records import ADAPTER_DIR, MODEL_DIR
from ft_route.train.presets import TrainConfig


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


def halve_adapter(adapter_dir: Path) -> None:
    """Store the served LoRA in fp16: its small deltas lose nothing that matters, and a shipped adapter
    halves. Checkpoints keep fp32, so resuming stays exact; loading casts back to the model's dtype."""
    weights = adapter_dir / "adapter_model.safetensors"
    tensors = load_file(weights)
    halved = {name: t.half() if t.dtype == torch.float32 else t for name, t in tensors.items()}
    save_file(halved, weights, metadata={"format": "pt"})
