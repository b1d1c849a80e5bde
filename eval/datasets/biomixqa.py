"""BiomixQA (BaranziniLab/KG_RAG): gene/variant MCQs and true/false statements, read from its CSVs."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from eval.datasets.base import DatasetError, require_file, require_folder
from eval.items import Dataset, EvalItem

FOLDER = "medical/eval/biomixqa"
TRUE_FALSE = {"A": "True", "B": "False"}
_ASKED_FOR = re.compile(r"which (\w+) is associated", re.IGNORECASE)
# The statement kinds in true_false_questions.csv; the first pattern that matches names the category.
_STATEMENT_KINDS = (
    ("gene", re.compile(r" (associates|is not associated with) Gene ")),
    ("variant", re.compile(r"^Variant ")),
    ("drug", re.compile(r" treats ")),
    ("ontology-id", re.compile(r"^Disease ontology identifier for ")),
    ("is-a", re.compile(r" is (not )?an? ")),
)


class BiomixMCQ:
    """Which gene/variant links two diseases. 17 rows list one option twice; options are de-duplicated."""

    name = "biomixqa-mcq"

    def load(self, data_dir: Path | None, *, seed: int) -> Dataset:
        path = require_file(require_folder(data_dir, FOLDER, self.name), "mcq_questions.csv")
        items = []
        for number, row in enumerate(_rows(path, {"correct_node", "options_combined", "text"}), start=1):
            choices = list(dict.fromkeys(part.strip() for part in row["options_combined"].split(",")))
            options = {chr(ord("A") + index): text for index, text in enumerate(choices)}
            gold = next(
                (letter for letter, text in options.items() if text == row["correct_node"].strip()), None
            )
            if gold is None:
                raise DatasetError(f"{path}, row {number}: correct_node is not among options_combined")
            stem = row["text"].split(" Given list is:")[0].strip()
            asked = _ASKED_FOR.search(stem)
            category = asked.group(1).lower() if asked else "other"
            items.append(EvalItem(f"{self.name}/{number}", stem, gold, "medical", options, category))
        return Dataset(self.name, items)


class BiomixTrueFalse:
    name = "biomixqa-tf"

    def load(self, data_dir: Path | None, *, seed: int) -> Dataset:
        path = require_file(require_folder(data_dir, FOLDER, self.name), "true_false_questions.csv")
        items = []
        for number, row in enumerate(_rows(path, {"text", "label"}), start=1):
            if row["label"] not in TRUE_FALSE.values():
                raise DatasetError(f"{path}, row {number}: label must be True or False, got {row['label']!r}")
            statement = row["text"].strip()
            gold = "A" if row["label"] == "True" else "B"
            kind = next((name for name, pattern in _STATEMENT_KINDS if pattern.search(statement)), "other")
            question = f"True or false: {statement}"
            items.append(EvalItem(f"{self.name}/{number}", question, gold, "medical", TRUE_FALSE, kind))
        return Dataset(self.name, items)


def _rows(path: Path, needed: set[str]) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = needed - set(reader.fieldnames or [])
        if missing:
            raise DatasetError(f"{path} lacks columns {sorted(missing)}")
        return list(reader)
