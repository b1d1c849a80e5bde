"""LawBench (open-compass/LawBench) rows {instruction, question, answer}: MCQ when the answer is letters."""

from __future__ import annotations

import re

from eval.datasets.choices import answer_letters, split_options
from eval.items import EvalItem
from kgft.sources.rows import Row

KEYS = frozenset({"instruction", "question", "answer"})

_ANSWER_LABEL = re.compile(r"^\s*(?:\[?(?:正确答案|答案)\]?\s*[:：]?)|<eoa>\s*$")


class LawBenchRows:
    def accepts(self, keys: set[str]) -> bool:
        return keys >= KEYS

    def item(self, row: Row, category: str) -> EvalItem:
        fields, item_id = row.fields, str(row.number)
        if not all(isinstance(fields.get(key), str) for key in KEYS):
            raise row.error("LawBench rows need string 'instruction', 'question' and 'answer'")
        question, answer = fields["question"].strip(), fields["answer"].strip()
        if not question:
            raise row.error("'question' is blank")
        letters = answer_letters(answer)
        if letters is None:
            # An open task (article recitation, consultation): the instruction says what is asked.
            reference = _ANSWER_LABEL.sub("", answer).strip()
            if not reference:
                raise row.error("'answer' is blank")
            text = f"{fields['instruction'].strip()}\n{question}".strip()
            return EvalItem(item_id, text, reference, "legal", category=category)
        split = split_options(question)
        if split is None or not set(letters) <= set(split[1]):
            found = "no options" if split is None else f"options {''.join(split[1])}"
            raise row.error(f"answer {answer!r} names option letters but the question has {found}")
        stem, options = split
        return EvalItem(item_id, stem, letters, "legal", options, category)
