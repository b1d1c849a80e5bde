"""One evaluation item, whatever benchmark it came from: the seam between loaders and the runner."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from kgft.contract import Domain, Question


@dataclass(frozen=True)
class EvalItem:
    """`gold` is the set of correct letters for MCQ ("A", "ABD"), or the reference text for open answers."""

    id: str
    question: str
    gold: str
    domain: Domain
    options: dict[str, str] | None = None
    category: str = "all"
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def kind(self) -> Literal["mcq", "open"]:
        return "mcq" if self.options else "open"

    @property
    def multi_answer(self) -> bool:
        return self.kind == "mcq" and len(self.gold) > 1

    def as_question(self) -> Question:
        return Question(id=self.id, text=self.question, domain=self.domain, options=self.options)


@dataclass(frozen=True)
class Dataset:
    """Items plus where they came from; KG-derived sets are reported apart from independent benchmarks."""

    name: str
    items: list[EvalItem]
    kg_derived: bool = False
