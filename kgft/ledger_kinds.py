"""The kinds of build cost the ledger takes, and the checks that keep each kind's arithmetic honest.

The list names what headline figures leave out (base model, data, selection, ablations, people,
hardware) next to what the tools book themselves, so an omitted category is a visible gap, not a typo.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from kgft.errors import KgftError

if TYPE_CHECKING:
    from kgft.ledger import LedgerEntry

# kind -> what it counts. Booked by tools: kg_ingest, kg_update, dataset_curation, distillation, training_run.
KINDS: dict[str, str] = {
    "kg_ingest": "graph ingestion compute (kgft ingest)",
    "kg_update": "applying new versions of the data to the graph (kgft ingest legal --update)",
    "embedding_index": "embedding an index of the graph's names",
    "model_conversion": "converting or quantizing a model (e.g. to GGUF)",
    "dataset_curation": "filtering and scoring a training set (kgft ft data)",
    "distillation": "teacher tokens or compute for distilled traces",
    "selection": "choosing the training examples (e.g. 59k → 1k), model calls included",
    "data_collection": "collecting raw data",
    "licence": "licensing data, a graph or a model",
    "annotation": "people labelling or checking data",
    "training_run": "a fine-tuning run that produced the served model",
    "ablation": "trial and ablation runs that shaped the recipe",
    "failed_run": "runs that failed or were aborted",
    "base_model_share": "a stated fraction of the base model's published pre-training cost, or zero with why",
    "engineer_hours": "engineering time",
    "expert_hours": "domain experts' time (lawyers, physicians)",
    "hardware_depreciation": "owned hardware written off over its life",
    "infra": "other one-off infrastructure",
}
HOURS_KINDS = ("engineer_hours", "expert_hours", "annotation")


class LedgerError(KgftError, ValueError):
    """An entry the ledger refuses: unknown kind, or figures that do not add up."""


def check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise LedgerError(f"unknown ledger kind '{kind}'; use one of: {', '.join(sorted(KINDS))}")


def check_entry(entry: LedgerEntry) -> None:
    """Raises LedgerError unless the entry's kind is known and its stated parts give its amount."""
    check_kind(entry.kind)
    if not entry.cost_usd.is_finite() or entry.cost_usd < 0:
        raise LedgerError(f"{entry.kind}: amount must be a non-negative number, got {entry.cost_usd}")
    if entry.kind == "base_model_share":
        _check_share(entry)
    if entry.kind == "hardware_depreciation" and "purchase_usd" in entry.meta:
        _check_depreciation(entry)
    if entry.kind in HOURS_KINDS and "hours" in entry.meta:
        expected = _number(entry.meta, "hours") * _number(entry.meta, "rate_usd")
        _same(entry, expected, "hours × rate_usd")


def _check_share(entry: LedgerEntry) -> None:
    """A share of a published cost, or a zero that says why: an unexplained $0 would flatter the route."""
    fraction = _number(entry.meta, "fraction")
    if not 0 <= fraction <= 1:
        raise LedgerError(f"base_model_share: fraction must lie in [0, 1], got {fraction}")
    if fraction == 0:
        if entry.cost_usd != 0 or not str(entry.meta.get("reason", "")).strip():
            raise LedgerError("base_model_share: a zero share needs meta.reason and a $0 amount")
        return
    if not str(entry.meta.get("source", "")).strip():
        raise LedgerError("base_model_share: name the source of the published pre-training cost")
    _same(entry, fraction * _number(entry.meta, "published_cost_usd"), "fraction × published_cost_usd")


def _check_depreciation(entry: LedgerEntry) -> None:
    """purchase × months used ÷ months of life (straight line)."""
    life = _number(entry.meta, "life_months")
    if life <= 0:
        raise LedgerError("hardware_depreciation: life_months must be positive")
    months = _number(entry.meta, "months")
    _same(entry, _number(entry.meta, "purchase_usd") * months / life, "purchase_usd × months ÷ life_months")


def _number(meta: dict[str, Any], key: str) -> Decimal:
    try:
        value = Decimal(str(meta[key]))
    except (KeyError, InvalidOperation):
        raise LedgerError(f"ledger entry needs a numeric meta.{key}") from None
    if not value.is_finite() or value < 0:
        raise LedgerError(f"meta.{key} must be a non-negative number, got {meta[key]}")
    return value


def _same(entry: LedgerEntry, expected: Decimal, what: str) -> None:
    # A cent of slack: stated parts are often rounded where they were copied from.
    if abs(entry.cost_usd - expected) > Decimal("0.01"):
        raise LedgerError(f"{entry.kind}: ${entry.cost_usd} is not {what} (${expected.normalize():f})")
