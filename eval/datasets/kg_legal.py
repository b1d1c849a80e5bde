"""`kg-legal`: statute MCQs generated from the legal graph (kgft.graph_questions), reported apart.

"《X》第N条规定的是下列哪一项？" with the article's text against three other articles of the same law,
worded unlike LexEval 1_2's "X第N条的内容是:" so the set tests the facts, not a memorised template.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from eval.datasets.base import DatasetError, GraphOpener, from_graph
from eval.items import Dataset, EvalItem
from kgft.graph_facts import statute_articles
from kgft.graph_questions import statute_mcqs


@dataclass(frozen=True)
class KgLegalQuestions:
    n: int
    graph: GraphOpener | None

    def load(self, data_dir: Path | None, *, seed: int) -> Dataset:
        articles = from_graph(
            self.graph, statute_articles, dataset="kg-legal", what="statute articles", ingest="legal"
        )
        questions = statute_mcqs(articles, self.n, seed)
        if len(questions) < self.n:
            raise DatasetError(
                f"kg-legal can generate at most {len(questions)} questions, asked for {self.n}"
            )
        items = [
            EvalItem(f"kg-legal/{q.key}", q.question, q.gold, "legal", q.options, q.category, q.meta)
            for q in questions
        ]
        return Dataset(f"kg-legal:{self.n}:seed{seed}", items, kg_derived=True)
