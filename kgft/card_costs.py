"""A trained model's build cost read from its training card, as ledger entries to book where it is served.

The card keeps a lineage: the ledger entries of every run that led to the model (failed, aborted and
trial runs, and each resumed share of the final one), with their ids, so booking them on another
machine never double-counts on the machine that trained it. A card from before lineage books its one
recorded cost. The format is `kgft ft train`'s; it is read here because two routes serve such models.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from kgft.builds import Build
from kgft.errors import KgftError
from kgft.ledger import LedgerEntry
from kgft.projects import model_config
from kgft.trained_model import TRAINING_CARD

FT_ROUTE = "ft"  # a card's costs are the fine-tuning route's, whichever route serves the model


def trained_model_build(folder: Path) -> Build:
    """The model in `folder` as a Build whose entries are its card's lineage."""
    card = _card(folder)
    config = model_config(card["data_hash"])
    lineage = card.get("lineage") or []
    entries = [_lineage_entry(run, config) for run in lineage] if lineage else [_card_entry(card, folder)]
    what = f"{card.get('base_model', 'model')} + {card.get('method', 'fine-tune')} ({folder.name})"
    return Build(what=what, config=config, entries=tuple(entries))


def _card(folder: Path) -> dict[str, Any]:
    path = folder / TRAINING_CARD
    try:
        card = json.loads(path.read_text("utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise KgftError(f"cannot read the training card {path}: {exc}") from exc
    if not isinstance(card.get("data_hash"), str):
        raise KgftError(f"{path} names no data_hash")
    return card


def _card_entry(card: dict[str, Any], folder: Path) -> LedgerEntry:
    data_hash = card["data_hash"]
    return LedgerEntry(
        route=FT_ROUTE,
        kind="training_run",
        description=f"{card.get('method')} fine-tune of {card.get('base_model')} (from {folder.name}'s card)",
        cost_usd=Decimal(str(card["cost_usd"])),
        basis=str(card.get("cost_basis", "")),
        priced=bool(card.get("priced", False)),
        seconds=float(card.get("device_seconds", 0.0)),
        tokens=int(card.get("tokens", 0)),
        meta={"status": card.get("status"), "data_hash": data_hash, "from_card": True},
        id=f"card-{data_hash[:16]}-{card.get('started_at', '')}",
        config=model_config(data_hash),
    )


def _lineage_entry(run: dict[str, Any], config: str) -> LedgerEntry:
    return LedgerEntry(
        route=FT_ROUTE,
        kind=str(run["kind"]),
        description=str(run.get("description", "")),
        cost_usd=Decimal(str(run["cost_usd"])),
        basis=str(run.get("basis", "")),
        priced=bool(run.get("priced", False)),
        seconds=float(run.get("seconds", 0.0)),
        tokens=int(run.get("tokens", 0)),
        meta=dict(run.get("meta", {})) | {"from_card": True},
        at=str(run.get("at", "")),
        id=str(run["id"]),
        config=run.get("config") or config,
    )
