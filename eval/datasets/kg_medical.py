"""`kg-medical`: MCQs generated from the graph's CMeKG disease facts (kgft.graph_questions), reported apart.

"X的常见症状是下列哪一项？": the gold is an object the KG links to X; distractors are objects the KG links
to other diseases by the same relation and never to X.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from eval.datasets.base import DatasetError, GraphOpener, from_graph
from eval.items import Dataset, EvalItem
from kgft.graph_facts import DiseaseFact, disease_facts
from kgft.graph_questions import DISEASE_MCQS, disease_mcqs
from kgft.graph_store import GraphStore


@dataclass(frozen=True)
class KgMedicalQuestions:
    n: int
    graph: GraphOpener | None

    def load(self, data_dir: Path | None, *, seed: int) -> Dataset:
        facts = from_graph(
            self.graph,
            _facts,
            dataset="kg-medical",
            what=f"disease facts ({', '.join(DISEASE_MCQS)})",
            ingest="medical --source DIR",
        )
        questions = disease_mcqs(facts, self.n, seed)
        if len(questions) < self.n:
            raise DatasetError(
                f"kg-medical can generate at most {len(questions)} questions, asked for {self.n}"
            )
        items = [
            EvalItem(f"kg-medical/{q.key}", q.question, q.gold, "medical", q.options, q.category, q.meta)
            for q in questions
        ]
        return Dataset(f"kg-medical:{self.n}:seed{seed}", items, kg_derived=True)


def _facts(store: GraphStore) -> list[DiseaseFact]:
    return disease_facts(store, DISEASE_MCQS)
