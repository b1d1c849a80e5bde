"""`kg-legal`: statute MCQs generated from the statutes the legal KG is built from (reported apart).

"《X》第N条规定的是下列哪一项？" with the article's text against three other articles of the same law,
worded unlike LexEval 1_2's "X第N条的内容是:" so the set tests the facts, not a memorised template.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from eval.datasets.base import DatasetError, shuffled_options
from eval.datasets.statutes import Article, articles_in_force
from eval.items import Dataset, EvalItem

# Long articles make four-option prompts huge and short ones are boilerplate ("本法自公布之日起施行。").
MIN_CHARS, MAX_CHARS = 15, 150
DISTRACTORS = 3


@dataclass(frozen=True)
class KgLegalQuestions:
    n: int

    def load(self, data_dir: Path | None, *, seed: int) -> Dataset:
        by_law = _askable_by_law(articles_in_force(data_dir))
        candidates = [article for articles in by_law.values() for article in articles]
        if self.n > len(candidates):
            raise DatasetError(
                f"kg-legal can generate at most {len(candidates)} questions, asked for {self.n}"
            )
        rng = random.Random(seed)
        items = []
        for article in rng.sample(candidates, self.n):
            others = [other for other in by_law[article.law_id] if other.id != article.id]
            distractors = [_text(other) for other in rng.sample(others, DISTRACTORS)]
            options, gold = shuffled_options(_text(article), distractors, rng)
            question = f"《{article.law_name}》{article.article_no}规定的是下列哪一项？"
            meta = {"law": article.law_name, "article": article.article_no, "article_id": str(article.id)}
            items.append(
                EvalItem(f"kg-legal/{article.id}", question, gold, "legal", options, article.law_name, meta)
            )
        return Dataset(f"kg-legal:{self.n}:seed{seed}", items, kg_derived=True)


def _askable_by_law(articles: list[Article]) -> dict[str, list[Article]]:
    """Articles whose text is unique in the corpus (else two options could both be right), per law."""
    counts = Counter(_text(article) for article in articles)
    by_law: dict[str, list[Article]] = defaultdict(list)
    for article in articles:
        text = _text(article)
        if MIN_CHARS <= len(text) <= MAX_CHARS and counts[text] == 1 and "删去" not in text:
            by_law[article.law_id].append(article)
    return {law: found for law, found in by_law.items() if len(found) > DISTRACTORS}


def _text(article: Article) -> str:
    """Paragraphs on one line, so the option list stays one option per line."""
    return " ".join(article.text.split())
