"""The training card: what a trained adapter or model learned from, how, and what it cost."""

from __future__ import annotations

from collections.abc import Sequence
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


LINEAGE_KINDS = ("training_run", "ablation", "failed_run")


class LineageRun(BaseModel):
    """One ledgered run behind the model, as the ledger holds it (id included, so it books once)."""

    id: str
    kind: str
    description: str
    cost_usd: str  # Decimal as text
    basis: str
    priced: bool
    seconds: float
    tokens: int
    at: str
    config: str | None = None
    meta: dict[str, Any] = {}

    @classmethod
    def of(cls, entry: LedgerEntry) -> LineageRun:
        return cls(
            id=entry.id,
            kind=entry.kind,
            description=entry.description,
            cost_usd=str(entry.cost_usd),
            basis=entry.basis,
            priced=entry.priced,
            seconds=entry.seconds,
            tokens=entry.tokens,
            at=entry.at,
            config=entry.config,
            meta=entry.meta,
        )


class TrainingCard(BaseModel):
    status: str  # "completed"; failed and aborted runs leave a ledger entry, listed in `lineage`
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
    # Every ledgered run that led to this model (failed, aborted, trial runs and resumed shares).
    lineage: list[LineageRun] = []

    def write(self, out_dir: Path) -> Path:
        path = out_dir / TRAINING_CARD
        path.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def read(cls, out_dir: Path) -> TrainingCard:
        return cls.model_validate_json((out_dir / TRAINING_CARD).read_text("utf-8"))


def with_lineage(card: TrainingCard, out_dir: Path, ledger: Ledger) -> TrainingCard:
    """The card with every ledgered run that led to it, rewritten in `out_dir`.

    Lineage: each share of this output's runs (resumed, failed, aborted) and the trial or failed runs
    on the same data elsewhere. Serving the model books these once (kgft.card_costs), by entry id.
    """
    lineage = [
        LineageRun.of(entry)
        for entry in ledger.entries()
        if entry.route == "ft" and entry.kind in LINEAGE_KINDS and _led_to(entry, card, out_dir)
    ]
    updated = card.model_copy(update={"lineage": lineage})
    updated.write(out_dir)
    return updated


def _led_to(entry: LedgerEntry, card: TrainingCard, out_dir: Path) -> bool:
    if entry.meta.get("out") == str(out_dir):
        return True
    same_data = entry.meta.get("data_hash") == card.data_hash
    return same_data and (entry.kind != "training_run" or bool(entry.meta.get("trial")))


def summarize_losses(losses: Sequence[float], points: int = 50) -> LossSummary:
    """First, last and min step loss, and the curve averaged into at most `points` windows."""
    size = max(1, -(-len(losses) // points))
    curve = [
        (min(start + size, len(losses)), round(sum(window) / len(window), 5))
        for start in range(0, len(losses), size)
        if (window := losses[start : start + size])
    ]
    return LossSummary(first=losses[0], last=losses[-1], min=min(losses), curve=curve)
