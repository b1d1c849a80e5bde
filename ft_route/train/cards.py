"""The training card: what a trained adapter or model learned from, how, and what it cost."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ft_route.records import TRAINING_CARD
from kgft.ledger import Ledger, LedgerEntry


class LossSummary(BaseModel):
    first: float
    last: float
    min: float
    # (step, mean loss over the steps since the previous point): at most `points` points, any run length.
    curve: list[tuple[int, float]]


class TrainingCard(BaseModel):
    status: str  # "completed"; failed and aborted runs leave only a ledger entry
    method: str  # "lora" or "full"
    preset: str
    base_model: str  # the model's name
    base_path: str  # the transformers folder it was loaded from
    output: str  # "adapter" or "model": the folder under the run folder to serve
    data_hash: str  # ft_route.records.data_hash of train.jsonl
    train_examples: int
    eval_examples: int
    examples_truncated: int
    examples_dropped: int
    hyperparameters: dict[str, Any]
    steps: int
    epochs: float
    trainable_params: int
    total_params: int
    loss: LossSummary
    eval_loss: float | None
    device: str  # the torch device it ran on
    priced_as: str  # the PriceBook device its seconds were priced at
    threads: int | None  # CPU threads, when it ran on CPU
    device_seconds: float  # wall time from model load to saved output, summed over resumed runs
    train_seconds: float  # the optimisation loop only; tokens_per_s is measured over this
    tokens: int  # tokens fed forward and backward (prompts included, padding not)
    answer_tokens: int  # tokens that carried a loss
    tokens_per_s: float
    cost_usd: str  # Decimal as text
    cost_basis: str
    priced: bool
    resumed_from_step: int | None
    started_at: str
    finished_at: str

    def write(self, out_dir: Path) -> Path:
        path = out_dir / TRAINING_CARD
        path.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def read(cls, out_dir: Path) -> TrainingCard:
        return cls.model_validate_json((out_dir / TRAINING_CARD).read_text("utf-8"))


def ledger_card_cost(card: TrainingCard, folder: Path, ledger: Ledger) -> bool:
    """Books a trained model's recorded cost once on a machine that did not train it (the shipped adapter).

    The training run was ledgered where it ran; a fresh machine has only the card, and an all-in
    comparison that left the FT route's training out would flatter it. False when already booked.
    """
    booked = (entry.meta.get("data_hash") for entry in ledger.entries() if entry.route == "ft")
    if card.data_hash in booked:
        return False
    ledger.append(
        LedgerEntry(
            route="ft",
            kind="training_run",
            description=f"{card.method} fine-tune of {card.base_model} (from {folder.name}'s training card)",
            cost_usd=Decimal(card.cost_usd),
            basis=card.cost_basis,
            priced=card.priced,
            seconds=card.device_seconds,
            tokens=card.tokens,
            meta={"status": card.status, "data_hash": card.data_hash, "out": str(folder), "from_card": True},
        )
    )
    return True


def summarize_losses(losses: Sequence[float], points: int = 50) -> LossSummary:
    """First, last and min step loss, and the curve averaged into at most `points` windows."""
    size = max(1, -(-len(losses) // points))
    curve = [
        (min(start + size, len(losses)), round(sum(window) / len(window), 5))
        for start in range(0, len(losses), size)
        if (window := losses[start : start + size])
    ]
    return LossSummary(first=losses[0], last=losses[-1], min=min(losses), curve=curve)
