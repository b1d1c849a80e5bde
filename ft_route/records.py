"""The FT route's on-disk formats, shared by dataset building, training and serving.

A dataset folder holds `train.jsonl` (one SFTExample a line), `eval.jsonl` (held out, same shape) and
`dataset_card.json` (sources, selection counts, contamination check, `data_hash`). A training output
folder holds `adapter/` (PEFT) or `model/` (full fine-tune), `training_card.json` and `checkpoints/`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from kgft.errors import KgftError
from kgft.trained_model import ADAPTER_DIR, MODEL_DIR, TRAINING_CARD  # noqa: F401  (the output folder's layout)

TRAIN_FILE = "train.jsonl"
EVAL_FILE = "eval.jsonl"
DATASET_CARD = "dataset_card.json"


class DatasetError(KgftError):
    """A dataset file is missing, empty or not in the SFTExample shape."""


@dataclass(frozen=True)
class SFTExample:
    id: str
    prompt: str  # the user's question
    response: str  # the answer the model should learn
    domain: str  # "legal" or "medical"
    category: str  # what diversity is balanced over: a law, a CMeKG relation, a source category
    source: str  # where it came from, e.g. "lawyer-llama/zixun_gpt4.json:12" or "kg:article:…:232"
    reasoning: str = ""  # an s1-style thinking trace distilled from a teacher, when there is one


def write_examples(path: Path, examples: Iterable[SFTExample]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for example in examples:
            handle.write(json.dumps(asdict(example), ensure_ascii=False) + "\n")
            count += 1
    return count


def read_examples(path: Path) -> Iterator[SFTExample]:
    """Every line must be an SFTExample; a bad line stops with its line number."""
    if not path.is_file():
        raise DatasetError(f"dataset file not found: {path}")
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                yield SFTExample(**json.loads(line))
            except (json.JSONDecodeError, TypeError) as exc:
                raise DatasetError(f"{path}:{number}: not an SFT example ({exc})") from exc


def data_hash(path: Path) -> str:
    """sha256 of the training file's bytes: the training card says exactly what was learned."""
    return hashlib.sha256(path.read_bytes()).hexdigest()
