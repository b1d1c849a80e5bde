"""How a model picks an MCQ option: by likelihood where the backend can score, else by asking for the letter.

Shared by every route (the KG route conditions on facts, the FT and `llm` routes on the question alone),
so the routes are compared on one rule. `score`: the option whose text the model finds most likely as its
reply. `generate`: the options listed, the letter asked for and read out of the reply
(kgft.letter_answers), the way lm-evaluation-harness scores chat APIs. No readable letter is an
abstention, never a guess. A question that says several options may be right gets a set of letters
("ABD"): in score mode every option scoring near the best, in generate mode the letters the reply lists.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from kgft.backends.base import ChatMessage, Generation, LLMBackend, Scoring
from kgft.backends.context_fit import cut_note
from kgft.contract import Answer, Timings, Usage
from kgft.letter_answers import (
    MAX_REPLY_TOKENS,
    STOP,
    allows_several,
    asked,
    letter_messages,
    letter_prompt,
    read_letter,
    read_letters,
)
from kgft.pricing import PriceBook

McqMode = Literal["auto", "score", "generate"]
ResolvedMode = Literal["score", "generate"]


def _version(*parts: object) -> str:
    """A hash of what the rule puts before a model, so an edited prompt is a new version by itself."""
    return hashlib.sha256(repr(parts).encode("utf-8")).hexdigest()[:8]


# On a "one or more" question, score mode also picks every option within this many nats per character
# of the best one (a margin relative to the best, so it does not depend on how long the prompt is).
SEVERAL_MARGIN = 0.25

# What every route's option reading depends on besides the model: part of an eval run's configuration.
OPTION_PROMPT_VERSION = _version(
    letter_prompt("问题", {"A": "甲", "B": "乙"}),
    letter_prompt("问题", {"A": "甲", "B": "乙"}, several=True),
    MAX_REPLY_TOKENS,
    STOP,
    SEVERAL_MARGIN,
)


@dataclass(frozen=True)
class OptionPick:
    choice: str | None  # the letter, or sorted letters ("ABD") on a "one or more" question; None: no pick
    mode: ResolvedMode
    basis: Scoring | Generation  # what the model read (score) or wrote (generate), for usage and pricing
    model: str
    scores: dict[str, float] = field(default_factory=dict)  # score mode only
    abstain_reason: str | None = None

    @property
    def generation(self) -> Generation:
        """What to price: the reply itself, or scoring as a generation that read and wrote no tokens."""
        basis = self.basis
        return basis.as_generation(self.model) if isinstance(basis, Scoring) else basis

    @property
    def usage(self) -> Usage:
        generation = self.generation
        return Usage(
            prompt_tokens=generation.prompt_tokens,
            completion_tokens=generation.completion_tokens,
            reasoning_tokens=generation.reasoning_tokens,
        )

    @property
    def diagnostics(self) -> dict[str, Any]:
        if isinstance(self.basis, Scoring):
            return {"mcq_mode": self.mode, "option_scores": self.scores}
        return {"mcq_mode": self.mode, "reply": self.basis.text, "finish_reason": self.basis.finish_reason}


def resolve_mode(backend: LLMBackend, mode: McqMode) -> ResolvedMode:
    """`auto` scores where the backend can (a capability of its class; no network call) and asks otherwise."""
    if mode == "auto":
        return "score" if backend.can_score else "generate"
    return mode


def pick_option(
    backend: LLMBackend,
    messages: Sequence[ChatMessage],
    options: Mapping[str, str],
    mode: McqMode = "auto",
    *,
    several: bool | None = None,
) -> OptionPick:
    """`several`: whether more than one option may be picked; by default, whether the question (the
    last user turn) says so (kgft.letter_answers.allows_several)."""
    several = allows_several(asked(messages)) if several is None else several
    if resolve_mode(backend, mode) == "score":
        return _score(backend, messages, options, several)
    return _ask(backend, messages, options, several)


def _score(
    backend: LLMBackend, messages: Sequence[ChatMessage], options: Mapping[str, str], several: bool
) -> OptionPick:
    """Mean per-character log-likelihood of each option's text, so long options are not penalised.

    No option list in the prompt: each option's text is scored as the reply itself."""
    letters = list(options)
    scoring = backend.score(messages, [options[letter] for letter in letters])
    scores = {
        letter: logprob / max(1, len(options[letter]))
        for letter, logprob in zip(letters, scoring.logprobs, strict=True)
    }
    best = max(scores.values())
    if several:
        choice = "".join(sorted(letter for letter in letters if scores[letter] >= best - SEVERAL_MARGIN))
    else:
        choice = max(scores, key=lambda letter: scores[letter])
    return OptionPick(choice, "score", scoring, backend.model, scores)


def _ask(
    backend: LLMBackend, messages: Sequence[ChatMessage], options: Mapping[str, str], several: bool
) -> OptionPick:
    generation = backend.generate(
        letter_messages(messages, options, several=several),
        max_tokens=MAX_REPLY_TOKENS,
        temperature=0.0,
        stop=STOP,
    )
    reading = read_letters(generation.text, options) if several else read_letter(generation.text, options)
    return OptionPick(reading.letter, "generate", generation, backend.model, abstain_reason=reading.reason)


def choice_text(choice: str, options: Mapping[str, str]) -> str:
    """A pick as an answer's text: "B. text", or "A. text；D. text" for several letters."""
    return "；".join(f"{letter}. {options[letter]}" for letter in choice)


def answer_from_pick(
    pick: OptionPick,
    options: Mapping[str, str],
    *,
    route: str,
    backend: LLMBackend,
    prices: PriceBook,
    started: float,
    diagnostics: dict[str, Any] | None = None,
) -> Answer:
    """The pick as the contract's Answer: "B. text", or an abstention with its reason; priced either way."""
    generation = pick.generation
    return Answer(
        text="" if pick.choice is None else choice_text(pick.choice, options),
        choice=pick.choice,
        route=route,
        model=backend.model,
        usage=pick.usage,
        timings=Timings(
            generation_ms=generation.generation_ms, total_ms=(time.perf_counter() - started) * 1000
        ),
        cost=backend.cost(generation, prices),
        abstained=pick.choice is None,
        abstain_reason=pick.abstain_reason,
        diagnostics=(diagnostics or {})
        | {"backend": backend.spec, "reader": "llm"}
        | pick.diagnostics
        | cut_note(generation),
    )
