"""MCQ by likelihood: which option's text the model finds most likely as its reply.

Shared by both routes (the KG route conditions on facts, the FT route on nothing but the question), so
the two are compared on one scoring rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kgft.backends.base import ChatMessage, LLMBackend, Scoring


@dataclass(frozen=True)
class OptionPick:
    choice: str
    scores: dict[str, float]
    scoring: Scoring  # what the model read, for usage and pricing


def pick_option(
    backend: LLMBackend, messages: Sequence[ChatMessage], options: Mapping[str, str]
) -> OptionPick:
    """Mean per-character log-likelihood of each option's text, so long options are not penalised."""
    letters = list(options)
    scoring = backend.score(messages, [options[letter] for letter in letters])
    scores = {
        letter: logprob / max(1, len(options[letter]))
        for letter, logprob in zip(letters, scoring.logprobs, strict=True)
    }
    return OptionPick(max(scores, key=lambda letter: scores[letter]), scores, scoring)
