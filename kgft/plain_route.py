"""The `llm` route: the base model alone, no graph and no tuning — the floor both routes must beat.

It also lets the gateway front any OpenAI-compatible endpoint (KGFT_LLM_BACKEND=openai:MODEL).
"""

from __future__ import annotations

from collections.abc import Sequence

from kgft.answers import answer_alone, answer_alone_async
from kgft.backends import create_backend
from kgft.backends.base import AsyncLLMBackend, LLMBackend
from kgft.contract import Answer, OnText, Question
from kgft.errors import UnsupportedError
from kgft.option_scoring import McqMode
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
        # Checked once: a runtime protocol check per request costs more than the rest of the routing.
        self._loop_backend = backend if isinstance(backend, AsyncLLMBackend) else None
        self.prices = prices
        self.max_tokens = max_tokens
        self.mcq_mode: McqMode = mcq_mode

    def answer(self, question: Question) -> Answer:
        return self._answer(question, None)

    def answers_async(self, question: Question) -> bool:
        return self._loop_backend is not None and not question.options

    async def answer_async(self, question: Question) -> Answer:
        if self._loop_backend is None:
            raise UnsupportedError(f"backend {self.backend.spec} cannot generate on an event loop")
        return await answer_alone_async(
            self._loop_backend, question, self.prices, route=self.name, max_tokens=self.max_tokens
        )

    def answer_streaming(self, question: Question, on_text: OnText) -> Answer:
        return self._answer(question, on_text)

    def _answer(self, question: Question, on_text: OnText | None) -> Answer:
        return answer_alone(
            self.backend,
            question,
            self.prices,
            route=self.name,
            max_tokens=self.max_tokens,
            mcq_mode=self.mcq_mode,
            on_text=on_text,
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
