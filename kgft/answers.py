"""Turn a backend's Generation into the contract's Answer, so every route times and prices alike."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from kgft.backends.base import (
    AsyncLLMBackend,
    ChatMessage,
    Generation,
    LLMBackend,
    OnText,
    conversation,
    generate_args,
)
from kgft.backends.context_fit import cut_note
from kgft.contract import Answer, Citation, Question, Timings, Usage
from kgft.errors import KgftError
from kgft.option_scoring import McqMode, answer_from_pick, pick_option
from kgft.pricing import PriceBook


def answer_from_generation(
    generation: Generation,
    *,
    route: str,
    backend: LLMBackend,
    prices: PriceBook,
    total_ms: float,
    retrieval_ms: float = 0.0,
    choice: str | None = None,
    citations: Sequence[Citation] = (),
    diagnostics: dict[str, Any] | None = None,
) -> Answer:
    return Answer(
        text=generation.text,
        choice=choice,
        route=route,
        model=generation.model,
        citations=list(citations),
        usage=Usage(
            prompt_tokens=generation.prompt_tokens,
            completion_tokens=generation.completion_tokens,
            reasoning_tokens=generation.reasoning_tokens,
        ),
        timings=Timings(retrieval_ms=retrieval_ms, generation_ms=generation.generation_ms, total_ms=total_ms),
        cost=backend.cost(generation, prices),
        diagnostics={
            "backend": backend.spec,
            "finish_reason": generation.finish_reason,
            **cut_note(generation),
            **(diagnostics or {}),
        },
    )


def answer_alone(
    backend: LLMBackend,
    question: Question,
    prices: PriceBook,
    *,
    route: str,
    max_tokens: int,
    mcq_mode: McqMode,
    on_text: OnText | None = None,
) -> Answer:
    """The model on the conversation alone, no knowledge added: the `llm` route, and the KG route where
    the graph holds nothing on the question. Options are picked by the rule every route uses."""
    started = time.perf_counter()
    messages = conversation((), question.history, question.text)
    if question.options:
        pick = pick_option(backend, messages, question.options, mcq_mode)
        answer = answer_from_pick(
            pick, question.options, route=route, backend=backend, prices=prices, started=started
        )
        return stream_whole(answer, on_text)
    generation = backend.generate(messages, **generate_args(question.params, max_tokens), on_text=on_text)
    return answer_from_generation(
        generation,
        route=route,
        backend=backend,
        prices=prices,
        total_ms=(time.perf_counter() - started) * 1000,
    )


async def answer_alone_async(
    backend: AsyncLLMBackend, question: Question, prices: PriceBook, *, route: str, max_tokens: int
) -> Answer:
    """`answer_alone` for an open question, on the event loop (options need scoring, which is sync)."""
    started = time.perf_counter()
    messages = conversation((), question.history, question.text)
    generation = await backend.generate_async(messages, **generate_args(question.params, max_tokens))
    return answer_from_generation(
        generation,
        route=route,
        backend=backend,
        prices=prices,
        total_ms=(time.perf_counter() - started) * 1000,
    )


def stream_whole(answer: Answer, on_text: OnText | None) -> Answer:
    """Text that is not generated token by token (an option pick) reaches a stream as one piece."""
    if on_text is not None and answer.text:
        on_text(answer.text)
    return answer


def ask(
    backend: LLMBackend,
    prompt: str,
    prices: PriceBook,
    *,
    max_tokens: int,
    system: str | None = None,
    on_text: OnText | None = None,
) -> Answer:
    """One plain prompt, no knowledge added: the baseline `kgft llm` runs."""
    if not prompt.strip():
        raise KgftError("prompt is empty; pass the question to ask as an argument")
    messages = [ChatMessage("system", system)] if system else []
    messages.append(ChatMessage("user", prompt))
    generation = backend.generate(messages, max_tokens=max_tokens, on_text=on_text)
    extra = (
        {} if generation.first_token_ms is None else {"first_token_ms": round(generation.first_token_ms, 1)}
    )
    return answer_from_generation(
        generation,
        route="llm",
        backend=backend,
        prices=prices,
        total_ms=generation.generation_ms,
        diagnostics=extra,
    )
