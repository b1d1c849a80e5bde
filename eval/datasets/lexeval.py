"""LexEval (CSHaitao/LexEval) MCQ: JSON lines {instruction, input, answer}, options A-D inside `input`."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from eval.datasets.base import DatasetError, require_file, require_folder
from eval.datasets.choices import answer_letters, split_options
from eval.items import Dataset, EvalItem
from kgft.sources import SourceError
from kgft.sources.rows import Row, read_objects

FOLDER = "legal/eval/lexeval"
KEYS = frozenset({"instruction", "input", "answer"})

# (stem, options, gold letters) -> category
Categorize = Callable[[str, dict[str, str], str], str]

_LAW = re.compile(r"^(?:中华人民共和国)?(.+?)第[零〇一二三四五六七八九十百千]+条")


# 1_1 is an indefinite-answer set (不定项: 286 of its 500 items have several right letters, and a stem
# rarely says so), so its stems say it as an exam paper does; readers then pick sets (kgft.letter_answers).
SEVERAL_MARK = "（不定项选择题）"


def lexeval_item(row: Row, item_id: str, categorize: Categorize, *, several: bool = False) -> EvalItem:
    question, answer = row.fields.get("input"), row.fields.get("answer")
    if not isinstance(question, str) or not isinstance(answer, str):
        raise row.error("LexEval rows need string 'input' and 'answer'")
    split = split_options(question)
    if split is None:
        raise row.error("no options A: ... B: ... found in 'input'")
    stem, options = split
    gold = answer_letters(answer)
    if not gold or not set(gold) <= set(options):
        raise row.error(f"answer {answer!r} is not among the options {''.join(options)}")
    asked = f"{SEVERAL_MARK}{stem}" if several else stem
    return EvalItem(item_id, asked, gold, "legal", options, categorize(stem, options, gold))


def answer_count(stem: str, options: dict[str, str], gold: str) -> str:
    """1_1 has no topic field; how many options are right is what changes how it is scored."""
    return "multi-answer" if len(gold) > 1 else "single-answer"


def law_named(stem: str, options: dict[str, str], gold: str) -> str:
    """1_2 stems name the law ("中华人民共和国民法第...条的内容是"): 民法 or 刑法."""
    match = _LAW.match(stem)
    return match.group(1) if match else "unknown law"


def case_kind(stem: str, options: dict[str, str], gold: str) -> str:
    """3_1 mixes criminal charges (…罪) with civil causes of action (…纠纷); they differ in difficulty."""
    return "criminal" if any(options[letter].endswith("罪") for letter in gold) else "civil"


class LexEvalRows:
    """A LexEval-format file given by path; its file name is the category."""

    def accepts(self, keys: set[str]) -> bool:
        return keys >= KEYS

    def item(self, row: Row, category: str) -> EvalItem:
        return lexeval_item(row, str(row.number), lambda *_: category)


@dataclass(frozen=True)
class LexEvalSubset:
    name: str
    file: str
    categorize: Categorize
    several: bool = False  # some items have more than one right option

    def load(self, data_dir: Path | None, *, seed: int) -> Dataset:
        path = require_file(require_folder(data_dir, FOLDER, self.name), self.file)
        try:
            rows = read_objects(path)
            items = [
                lexeval_item(row, f"{self.name}/{row.number}", self.categorize, several=self.several)
                for row in rows
            ]
        except SourceError as exc:
            raise DatasetError(str(exc)) from exc
        return Dataset(self.name, items)


SUBSETS = (
    LexEvalSubset("lexeval-1_1", "1_1.json", answer_count, several=True),
    LexEvalSubset("lexeval-1_2", "1_2.json", law_named),
    LexEvalSubset("lexeval-3_1", "3_1.json", case_kind),
)
