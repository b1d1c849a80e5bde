"""MCQ readers: pick the option the retrieved facts support.

`lexical` is deterministic and free (no model call); `llm` asks the backend to score each option's text
as the start of its reply, conditioned on the facts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from kg_route.facts import Fact
from kg_route.prompt import build_messages
from kgft.backends.base import LLMBackend, Scoring
from kgft.option_scoring import pick_option


@dataclass(frozen=True)
class Reading:
    choice: str | None
    scores: dict[str, float]
    scoring: Scoring | None = None  # what the model read, for pricing; None for free readers
    abstain_reason: str | None = None


class Reader(Protocol):
    name: str

    def read(self, question: str, options: Mapping[str, str], facts: Sequence[Fact]) -> Reading: ...


def char_ngrams(text: str, n: int) -> set[str]:
    compact = "".join(text.split())
    return {compact[i : i + n] for i in range(len(compact) - n + 1)}


class LexicalReader:
    """Fraction of an option's character n-grams found in the facts; ties go to the earlier letter."""

    name = "lexical"

    def __init__(self, n: int = 3):
        self.n = n

    def read(self, question: str, options: Mapping[str, str], facts: Sequence[Fact]) -> Reading:
        fact_grams: set[str] = set()
        for fact in facts:
            fact_grams |= char_ngrams(fact.text, self.n)
        scores = {}
        for letter, option in options.items():
            grams = char_ngrams(option, self.n) or {option}
            scores[letter] = len(grams & fact_grams) / len(grams)
        return Reading(choice=max(scores, key=lambda letter: scores[letter]), scores=scores)


class LLMReader:
    """The backend scores each option's text as its reply after the facts (see kgft.option_scoring)."""

    name = "llm"

    def __init__(self, backend: LLMBackend):
        self.backend = backend

    def read(self, question: str, options: Mapping[str, str], facts: Sequence[Fact]) -> Reading:
        # No option list in the prompt: each option's text is scored as the reply itself.
        pick = pick_option(self.backend, build_messages(question, facts), options)
        return Reading(choice=pick.choice, scores=pick.scores, scoring=pick.scoring)
