"""The dataset card: what a dataset folder holds, where it came from and what each filter removed."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceSummary(_Strict):
    path: str
    rows_read: int
    examples: int
    skipped: int
    skipped_where: list[str] = Field(default_factory=list)  # the first few, as file:line: problem


class OverlapSummary(_Strict):
    train_id: str
    eval_id: str
    shared: str


class ContaminationSummary(_Strict):
    eval_sets: list[str]
    checked: int
    contaminated: int
    fraction: float
    max_fraction: float
    ngram_chars: int
    min_shared_fraction: float
    pairs: list[OverlapSummary] = Field(default_factory=list)


class DifficultySummary(_Strict):
    backend: str
    scored_pool: int  # a category-balanced pool: scoring everything would cost a model pass each
    scored_now: int
    cached: int
    keep_fraction: float
    loss_per_char_cutoff: float | None  # the easiest kept example's loss
    seconds: float


class DistillationSummary(_Strict):
    teacher: str
    generated: int
    cached: int
    empty: int
    tokens: int
    cost_usd: str | None
    cost_basis: str | None
    seconds: float


class DatasetCard(_Strict):
    domain: str
    n_requested: int
    seed: int
    sources: list[SourceSummary]
    kg_questions: int | None  # None when the graph was not used
    stages: dict[str, int]  # example counts after each stage, in order
    dropped: dict[str, int]  # why examples left, by reason
    thresholds: dict[str, float]
    contamination: ContaminationSummary
    difficulty: DifficultySummary | None
    distillation: DistillationSummary | None
    categories: dict[str, int]  # of the training examples, largest first
    train_examples: int
    eval_examples: int
    data_hash: str  # sha256 of train.jsonl
    seconds: float
    created_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
