"""PubMedQA PQA-L (1,000 expert-labelled items): a question answered yes/no/maybe from its abstract."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eval.datasets.base import DatasetError, require_file, require_folder
from eval.items import Dataset, EvalItem

FOLDER = "medical/eval/pubmedqa"
OPTIONS = {"A": "yes", "B": "no", "C": "maybe"}
_LETTER = {label: letter for letter, label in OPTIONS.items()}


class PubMedQA:
    """Posed as in the paper's reasoning-required setting: the abstract (without its conclusion) + question.

    Category: the official 500-item test split ("test") or the rest ("train").
    """

    name = "pubmedqa"

    def load(self, data_dir: Path | None, *, seed: int) -> Dataset:
        folder = require_folder(data_dir, FOLDER, self.name)
        records = _json(require_file(folder, "ori_pqal.json"))
        test_ids = set(_json(require_file(folder, "test_ground_truth.json")))
        return Dataset(self.name, [_item(pmid, record, pmid in test_ids) for pmid, record in records.items()])


def _item(pmid: str, record: dict[str, Any], in_test: bool) -> EvalItem:
    try:
        context = " ".join(part.strip() for part in record["CONTEXTS"])
        gold = _LETTER[record["final_decision"]]
        question = f"Context: {context}\n\nQuestion: {record['QUESTION'].strip()}"
    except (KeyError, TypeError, AttributeError) as exc:
        raise DatasetError(f"PubMedQA record {pmid} is malformed ({exc!r})") from exc
    category = "test" if in_test else "train"
    return EvalItem(f"pubmedqa/{pmid}", question, gold, "medical", OPTIONS, category, {"pmid": pmid})


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise DatasetError(f"{path}: expected a JSON object keyed by PMID")
    return data
