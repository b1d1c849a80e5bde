"""Training recipes as named data, each with the source it comes from, and the config they resolve to."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

from kgft.errors import KgftError

Method = Literal["lora", "full"]


class ConfigError(KgftError):
    """A preset or an override that does not exist or makes no sense."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything one training run needs besides its data, model files and settings.

    `steps` (optimizer steps) wins over `epochs` when given. A micro-batch is `batch_size` examples,
    right-padded; with `packing` it is up to `batch_size × max_seq_len` tokens of examples laid end to end
    in rows of `max_seq_len`, attention kept inside each example through restarting position ids.
    """

    base: str = "smollm2"  # a transformers folder, or "smollm2"
    preset: str = "custom"
    method: Method = "lora"
    # Optimisation
    learning_rate: float = 2e-4
    epochs: float = 3.0
    steps: int | None = None
    batch_size: int = 4
    grad_accum: int = 1
    max_seq_len: int = 2048
    schedule: Literal["cosine", "constant"] = "cosine"
    warmup_ratio: float = 0.03
    weight_decay: float = 0.0
    adam_betas: tuple[float, float] = (0.9, 0.999)
    max_grad_norm: float = 1.0
    # LoRA (ignored by full fine-tuning)
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_targets: str = "all-linear"
    merge: bool = False  # also write the LoRA merged into the base as model/
    # A refresh run: train on from an earlier run's adapter (same base) instead of a new LoRA, so an
    # update after the law changes costs one short run on the changed material.
    init_adapter: str | None = None
    # Data
    packing: bool = False
    think_open: str = "<think>\n"
    think_close: str = "\n</think>\n"
    system_prompt: str | None = None  # None: whatever the chat template does without one
    # Run
    seed: int = 0
    save_every: int = 100  # optimizer steps between checkpoints
    keep_checkpoints: int = 2
    resume: bool = False
    trial: bool = False  # a hyperparameter trial: the ledger counts it apart from the shipped run
    gradient_checkpointing: bool | None = None  # None: on for GPU, off for CPU
    compile: bool = False  # torch.compile each decoder layer (one compiled graph serves them all)
    device: str | None = None  # torch device; None: cuda when there is one

    def __post_init__(self) -> None:
        checks = {
            "learning_rate must be > 0": self.learning_rate > 0,
            "epochs must be > 0": self.epochs > 0,
            "steps must be >= 1": self.steps is None or self.steps >= 1,
            "batch_size must be >= 1": self.batch_size >= 1,
            "grad_accum must be >= 1": self.grad_accum >= 1,
            "max_seq_len must be >= 2": self.max_seq_len >= 2,
            "warmup_ratio must be in [0, 1)": 0 <= self.warmup_ratio < 1,
            "save_every must be >= 1": self.save_every >= 1,
            "keep_checkpoints must be >= 1": self.keep_checkpoints >= 1,
            "method must be lora or full": self.method in ("lora", "full"),
            "lora_r must be >= 1": self.lora_r >= 1,
            "init_adapter needs method lora": self.init_adapter is None or self.method == "lora",
        }
        failed = [message for message, ok in checks.items() if not ok]
        if failed:
            raise ConfigError("bad training config: " + "; ".join(failed))

    def hyperparameters(self) -> dict[str, Any]:
        """The resolved config as the training card records it (LoRA fields only for LoRA runs)."""
        values = asdict(self)
        if self.method == "full":
            for name in ("lora_r", "lora_alpha", "lora_dropout", "lora_targets", "merge", "init_adapter"):
                values.pop(name)
        values["adam_betas"] = list(self.adam_betas)
        return values


# s1: simple test-time scaling, Muennighoff et al. 2025, arXiv:2501.19393, and its train/sft.sh
# (github.com/simplescaling/s1): full fine-tune, lr 1e-5 cosine to 0 with 5% warmup, 5 epochs,
# weight decay 1e-4, AdamW betas 0.9/0.95, block 32768, bf16, gradient checkpointing, and a global
# batch of 16 (16 GPUs × micro-batch 1), here 1 × 16 gradient accumulation on one device.
S1 = TrainConfig(
    preset="s1",
    method="full",
    learning_rate=1e-5,
    epochs=5,
    batch_size=1,
    grad_accum=16,
    max_seq_len=32768,
    schedule="cosine",
    warmup_ratio=0.05,
    weight_decay=1e-4,
    adam_betas=(0.9, 0.95),
)

# LoRA on every linear layer at lr 2e-4 with dropout 0.05: QLoRA, Dettmers et al. 2023,
# arXiv:2305.14314 (§4: LoRA on all linear transformer block layers is needed to match full
# fine-tuning; App. B: lr 2e-4 for 7B/13B, dropout 0.05 for 33B/65B and 0.1 up to 13B).
# r=16 with alpha=2r: the rank/scale pairing in S. Raschka's
# "Practical Tips for Finetuning LLMs Using LoRA" (2023). Cosine with 3% warmup: Stanford Alpaca's
# train recipe (warmup_ratio 0.03, cosine).
LORA = TrainConfig(
    preset="lora",
    method="lora",
    learning_rate=2e-4,
    epochs=3,
    batch_size=4,
    grad_accum=4,
    max_seq_len=2048,
    schedule="cosine",
    warmup_ratio=0.03,
    weight_decay=0.0,
    lora_r=16,
    lora_alpha=32,
    lora_dropout=0.05,
    lora_targets="all-linear",
)

# Full fine-tuning with s1's optimiser and schedule, at a block that fits the small bases (SmolLM2's
# context is 8192) and micro-batches of 4: s1's recipe without its 32k-token sequences.
FULL = replace(S1, preset="full", batch_size=4, grad_accum=4, max_seq_len=2048)

PRESETS: dict[str, TrainConfig] = {"lora": LORA, "s1": S1, "full": FULL}


def resolve(preset: str = "lora", **overrides: Any) -> TrainConfig:
    """A preset with CLI-style overrides applied; None values mean 'not given' and are skipped."""
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset '{preset}'; choose one of: {', '.join(PRESETS)}")
    known = {field.name for field in fields(TrainConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConfigError(f"unknown training option(s): {', '.join(unknown)}")
    given = {name: value for name, value in overrides.items() if value is not None}
    return replace(PRESETS[preset], **given)
