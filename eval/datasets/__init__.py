"""Eval datasets by name or path: `load_dataset("lexeval-1_2", data_dir)` -> Dataset.

Names: the published benchmarks (lexeval-1_1, lexeval-1_2, lexeval-3_1, pubmedqa, biomixqa-mcq,
biomixqa-tf; files under `data_dir`, the shared data root) and the KG-generated sets kg-legal and
kg-medical (Dataset.kg_derived, reported apart), read from the graph that `graph` opens (and closed
before this returns). A generated set takes its size as a suffix, `kg-legal:500` (default 200), and its
content depends on `seed`. Anything else is a path to a JSONL, JSON or CSV file: LexEval or LawBench
rows, or the generic schema (see eval/datasets/generic.py).

Items come sorted by a hash of their id, not in file order: `--limit N` then takes a spread sample
that is the same on every run (LexEval 1_2 lists 500 civil-code items before 500 criminal-law ones).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path

from eval.datasets.base import DatasetError, DatasetLoader, GraphOpener
from eval.datasets.biomixqa import BiomixMCQ, BiomixTrueFalse
from eval.datasets.files import FileDataset
from eval.datasets.kg_derived import KG_LEGAL, KG_MEDICAL, GraphQuestions
from eval.datasets.lexeval import SUBSETS
from eval.datasets.pubmedqa import PubMedQA
from eval.items import Dataset, EvalItem

__all__ = ["DEFAULT_GENERATED_SIZE", "DatasetError", "GraphOpener", "dataset_names", "load_dataset"]

DEFAULT_GENERATED_SIZE = 200

BENCHMARKS: dict[str, DatasetLoader] = {
    **{subset.name: subset for subset in SUBSETS},
    "pubmedqa": PubMedQA(),
    "biomixqa-mcq": BiomixMCQ(),
    "biomixqa-tf": BiomixTrueFalse(),
}
GENERATED: dict[str, Callable[[int, GraphOpener | None], DatasetLoader]] = {
    kind.name: partial(GraphQuestions, kind) for kind in (KG_LEGAL, KG_MEDICAL)
}
_SIZED = re.compile(r"^(?P<name>[\w-]+):(?P<size>\d+)$")


def dataset_names() -> list[str]:
    return sorted([*BENCHMARKS, *GENERATED])


def load_dataset(
    name_or_path: str, data_dir: Path | None, *, seed: int = 0, graph: GraphOpener | None = None
) -> Dataset:
    dataset = _loader(name_or_path, graph).load(data_dir, seed=seed)
    return replace(dataset, items=sorted(dataset.items, key=_spread))


def _loader(name_or_path: str, graph: GraphOpener | None) -> DatasetLoader:
    sized = _SIZED.match(name_or_path)
    name, size = (sized["name"], int(sized["size"])) if sized else (name_or_path, None)
    if name in GENERATED:
        if size == 0:
            raise DatasetError(f"'{name_or_path}': the size after ':' must be at least 1")
        return GENERATED[name](size or DEFAULT_GENERATED_SIZE, graph)
    if name in BENCHMARKS and size is None:
        return BENCHMARKS[name]
    if name in BENCHMARKS:
        raise DatasetError(f"'{name}' is a fixed benchmark and takes no size; use --limit {size} instead")
    path = Path(name_or_path).expanduser()
    if path.exists():
        return FileDataset(path)
    raise DatasetError(
        f"unknown dataset '{name_or_path}': not a file, nor one of {', '.join(dataset_names())} "
        f"(generated sets take a size, e.g. kg-legal:500)"
    )


def _spread(item: EvalItem) -> str:
    return hashlib.sha256(item.id.encode("utf-8")).hexdigest()
