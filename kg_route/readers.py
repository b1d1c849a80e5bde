"""MCQ readers: pick the option the retrieved facts support.

`lexical` is deterministic and free (no model call); `llm` has the backend pick after the facts, by
scoring each option's text or by naming the letter (kgft.option_scoring), and may abstain.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from kg_route.facts import Fact
from kg_route.prompt import build_messages
from kgft.backends.base import Generation, LLMBackend, Scoring
from kgft.contract import Turn
from kgft.option_scoring import McqMode, pick_option


@dataclass(frozen=True)
class Reading:
    choice: str | None  # None: the reader abstains (the model's reply named no single option)
    scores: dict[str, float]
    scoring: Scoring | None = None  # score mode: what the model read; None for free readers
    abstain_reason: str | None = None
    # What to price and count in either mode (the reply itself when generated); None for free readers.
    generation: Generation | None = None
    diagnostics: dict[str, Any] = field(default_factory=dict)  # mcq_mode, and the raw reply if generated


class Reader(Protocol):
    name: str

    def read(
        self, question: str, options: Mapping[str, str], facts: Sequence[Fact], history: Sequence[Turn] = ()
    ) -> Reading: ...


def char_ngrams(text: str, n: int) -> set[str]:
    compact = "".join(text.split())
    return {compact[i : i + n] for i in range(len(compact) - n + 1)}


class LexicalReader:
    """Fraction of an option's character n-grams found in the facts; ties go to the earlier letter."""

    name = "lexical"

    def __init__(self, n: int = 3):
        self.n = n

    def read(
        self, question: str, options: Mapping[str, str], facts: Sequence[Fact], history: Sequence[Turn] = ()
    ) -> Reading:
        fact_grams: set[str] = set()
        for fact in facts:
            fact_grams |= char_ngrams(fact.text, self.n)
        scores = {}
        for letter, option in options.items():
            grams = char_ngrams(option, self.n) or {option}
            scores[letter] = len(grams & fact_grams) / len(grams)
        return Reading(choice=max(scores, key=lambda letter: scores[letter]), scores=scores)


class LLMReader:
    """The backend picks after the facts: scores each option's text, or names the letter (mode `generate`,
    or `auto` on a backend that cannot score); see kgft.option_scoring."""

    name = "llm"

    def __init__(self, backend: LLMBackend, mode: McqMode = "auto"):
        self.backend = backend
        self.mode: McqMode = mode

    def read(
        self, question: str, options: Mapping[str, str], facts: Sequence[Fact], history: Sequence[Turn] = ()
    ) -> Reading:
        messages = build_messages(question, facts, history)
        pick = pick_option(self.backend, messages, options, self.mode)  # several letters where asked
        return Reading(
            choice=pick.choice,
            scores=pick.scores,
            scoring=pick.basis if isinstance(pick.basis, Scoring) else None,
            abstain_reason=pick.abstain_reason,
            generation=pick.generation,
            diagnostics=pick.diagnostics,
        )


class ChargeOptionsReader:
    """Options that name retrieved charges ("A: 盗窃罪") take those charges' ranking scores; any other MCQ
    goes to the inner reader. Overlap with the facts cannot tell candidates apart: every candidate's
    fact holds its own name, so the lexical reader would tie them."""

    def __init__(self, inner: Reader):
        self.inner = inner
        self.name = inner.name

    def read(
        self, question: str, options: Mapping[str, str], facts: Sequence[Fact], history: Sequence[Turn] = ()
    ) -> Reading:
        scores_by_name: dict[str, float] = {}
        for fact in facts:
            for name in fact.names:
                key = charge_key(name)
                scores_by_name[key] = max(scores_by_name.get(key, 0.0), fact.score)
        scores = {letter: scores_by_name.get(charge_key(option), 0.0) for letter, option in options.items()}
        if not any(scores.values()):
            return self.inner.read(question, options, facts, history)
        choice = max(scores, key=lambda letter: scores[letter])
        return Reading(choice=choice, scores=scores, diagnostics={"charge_options": True})


def charge_key(name: str) -> str:
    """A charge name as options write it: spaces, a final 罪 and 帐/账 do not count."""
    return "".join(name.split()).removesuffix("罪").replace("帐", "账")
