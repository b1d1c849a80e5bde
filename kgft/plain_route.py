"""The `llm` route: the base model alone, no graph and no tuning — the floor both routes must beat.

It also lets the gateway front any OpenAI-compatible endpoint (KGFT_LLM_BACKEND=openai:MODEL).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from kgft.answers import answer_from_generation, stream_whole
from kgft.backends import create_backend
from kgft.backends.base import LLMBackend, conversation, generate_args
from kgft.contract import Answer, OnText, Question
from kgft.option_scoring import McqMode, answer_from_pick, pick_option
from kgft.pricing import PriceBook
from kgft.settings import Settings


class PlainRoute:
    """Open questions are generated after the conversation so far, with the asker's sampling parameters;
    MCQ options are picked by the same rule as the other routes."""

    name = "llm"

    def __init__(
        self, backend: LLMBackend, prices: PriceBook, *, max_tokens: int, mcq_mode: McqMode = "auto"
    ):
        self.backend = backend
        self.prices = prices
        self.max_tokens = max_tokens
        self.mcq_mode: McqMode = mcq_mode

    def answer(self, question: Question) -> Answer:
        return self._answer(question, None)

    def answer_streaming(self, question: Question, on_text: OnText) -> Answer:
        return self._answer(question, on_text)

    def _answer(self, question: Question, on_text: OnText | None) -> Answer:
        started = time.perf_counter()
        messages = conversation((), question.history, question.text)
        if question.options:
            pick = pick_option(self.backend, messages, question.options, self.mcq_mode)
            answer = answer_from_pick(
                pick,
                question.options,
                route=self.name,
                backend=self.backend,
                prices=self.prices,
                started=started,
            )
            return stream_whole(answer, on_text)
        generation = self.backend.generate(
            messages, **generate_args(question.params, self.max_tokens), on_text=on_text
        )
        return answer_from_generation(
            generation,
            route=self.name,
            backend=self.backend,
            prices=self.prices,
            total_ms=(time.perf_counter() - started) * 1000,
        )

    def answer_batch(self, questions: Sequence[Question]) -> list[Answer]:
        return [self.answer(question) for question in questions]

    def close(self) -> None:
        self.backend.close()


def build_route(settings: Settings, prices: PriceBook) -> PlainRoute:
    return PlainRoute(
        create_backend(settings.llm_backend, settings),
        prices,
        max_tokens=settings.max_tokens,
        mcq_mode=settings.mcq_mode,
    )
