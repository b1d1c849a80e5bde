"""`kg-legal` and `kg-medical`: MCQs generated from the graph (kgft.graph_questions), reported apart.

kg-legal: "《X》第N条规定的是下列哪一项？" with the article's text against three other articles of the same
law, worded unlike LexEval 1_2's "X第N条的内容是:" so the set tests the facts, not a memorised template.
kg-medical: "X的常见症状是下列哪一项？": the gold is an object the KG links to X; distractors are objects
the KG links to other diseases by the same relation and never to X.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from eval.datasets.base import DatasetError, GraphOpener, from_graph
from eval.items import Dataset, EvalItem
from kgft.contract import Domain
from kgft.graph_facts import disease_facts, statute_articles
from kgft.graph_questions import DISEASE_MCQS, ChoiceQuestion, disease_mcqs, statute_mcqs
from kgft.graph_store import GraphStore


@dataclass(frozen=True)
class GraphSet:
    """What one generated set reads from the graph and how it turns that into questions."""

    name: str
    domain: Domain
    what: str  # what the graph must hold, for the error when it does not
    ingest: str  # the `kgft ingest` arguments that build it
    read: Callable[[GraphStore], list[Any]]
    questions: Callable[[Sequence[Any], int, int], list[ChoiceQuestion]]


KG_LEGAL = GraphSet("kg-legal", "legal", "statute articles", "legal", statute_articles, statute_mcqs)
KG_MEDICAL = GraphSet(
    "kg-medical",
    "medical",
    f"disease facts ({', '.join(DISEASE_MCQS)})",
    "medical --source DIR",
    partial(disease_facts, relations=DISEASE_MCQS),
    disease_mcqs,
)


@dataclass(frozen=True)
class GraphQuestions:
    """A loader of `n` questions of one generated set, from the graph `graph` opens."""

    kind: GraphSet
    n: int
    graph: GraphOpener | None

    def load(self, data_dir: Path | None, *, seed: int) -> Dataset:
        kind = self.kind
        facts = from_graph(self.graph, kind.read, dataset=kind.name, what=kind.what, ingest=kind.ingest)
        questions = kind.questions(facts, self.n, seed)
        if len(questions) < self.n:
            raise DatasetError(
                f"{kind.name} can generate at most {len(questions)} questions, asked for {self.n}"
            )
        items = [
            EvalItem(f"{kind.name}/{q.key}", q.question, q.gold, kind.domain, q.options, q.category, q.meta)
            for q in questions
        ]
        return Dataset(f"{kind.name}:{self.n}:seed{seed}", items, kg_derived=True)
