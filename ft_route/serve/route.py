"""The FT route: a fine-tuned model answers from what it learned, with no retrieval and so no citations."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from ft_route.serve.budget_forcing import BudgetForcer
from kgft.answers import answer_from_generation, stream_whole
from kgft.backends.base import ChatMessage, Generation, LLMBackend, OnText, conversation, generate_args
from kgft.builds import Build
from kgft.card_costs import trained_model_build
from kgft.contract import Answer, GenerationParams, Question
from kgft.option_scoring import McqMode, answer_from_pick, pick_option
from kgft.pricing import PriceBook
from kgft.trained_model import TrainedModel


class FTRoute:
    """Open questions are generated (budget-forced when a thinking budget is set); MCQ options are picked
    by the rule every route uses (kgft.option_scoring)."""

    name = "ft"

    def __init__(
        self,
        backend: LLMBackend,
        trained: TrainedModel,
        prices: PriceBook,
        *,
        max_tokens: int,
        forcer: BudgetForcer | None = None,
        mcq_mode: McqMode = "auto",
    ):
        self.backend = backend
        self.trained = trained
        self.prices = prices
        self.max_tokens = max_tokens
        self.forcer = forcer
        self.mcq_mode: McqMode = mcq_mode

    def answer(self, question: Question) -> Answer:
        return self._answer(question, None)

    def answer_streaming(self, question: Question, on_text: OnText) -> Answer:
        """Only the answer streams, never the thinking: it stays in diagnostics, as OpenAI keeps reasoning
        out of `content`."""
        return self._answer(question, on_text)

    def _answer(self, question: Question, on_text: OnText | None) -> Answer:
        started = time.perf_counter()
        messages = self._messages(question)
        if question.options:
            return stream_whole(self._read_choice(messages, question.options, started), on_text)
        generation, thinking = self._generate(messages, question.params, on_text)
        answer = answer_from_generation(
            generation,
            route=self.name,
            backend=self.backend,
            prices=self.prices,
            total_ms=(time.perf_counter() - started) * 1000,
            diagnostics=self._provenance() | thinking,
        )
        if not answer.text.strip():
            return answer.model_copy(update={"abstained": True, "abstain_reason": "the model gave no answer"})
        return answer

    def answer_batch(self, questions: Sequence[Question]) -> list[Answer]:
        # HFBackend has no batch API across prompts; each MCQ's options are scored in one forward pass.
        return [self.answer(question) for question in questions]

    def builds(self) -> list[Build]:
        """The trained model, with its card's runs for eval and serve to book once (kgft.builds)."""
        return [trained_model_build(self.trained.folder)]

    def _messages(self, question: Question) -> list[ChatMessage]:
        """The question as training posed it (no facts, no option list, so the model's learning decides),
        after the conversation so far. The trained system prompt and the asker's join in one system
        message, trained first, since chat templates take a single system turn."""
        trained = [self.trained.system_prompt] if self.trained.system_prompt else []
        return conversation(trained, question.history, question.text)

    def _generate(
        self, messages: list[ChatMessage], params: GenerationParams | None, on_text: OnText | None
    ) -> tuple[Generation, dict[str, Any]]:
        args = generate_args(params, self.max_tokens)
        if self.forcer is None:
            return self.backend.generate(messages, **args, on_text=on_text), {}
        # Budget forcing decodes greedily on its own path: only the answer's token budget carries over.
        thought = self.forcer.generate(messages, max_answer_tokens=args["max_tokens"], on_text=on_text)
        return thought.generation, {
            "thinking": thought.thinking,
            "waits": thought.waits,
            "thinking_stopped_by_budget": thought.stopped_by_budget,
        }

    def _read_choice(self, messages: list[ChatMessage], options: dict[str, str], started: float) -> Answer:
        """The same rule as the KG route's LLM reader, with no facts in the prompt."""
        pick = pick_option(self.backend, messages, options, self.mcq_mode)
        return answer_from_pick(
            pick,
            options,
            route=self.name,
            backend=self.backend,
            prices=self.prices,
            started=started,
            diagnostics=self._provenance(),
        )

    def _provenance(self) -> dict[str, str]:
        """What was learned from what: the training card's base model and data hash."""
        return {
            "training_folder": str(self.trained.folder),
            "base_model": self.trained.base_model,
            "data_hash": self.trained.data_hash,
        }
