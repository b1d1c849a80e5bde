"""The one interface every LLM backend offers: chat generation, and scoring where it can."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TypedDict, Unpack, runtime_checkable

from kgft.contract import Cost, GenerationParams, OnText, Turn
from kgft.pricing import PriceBook


@dataclass(frozen=True)
class ChatMessage:
    role: str
    content: str


@dataclass(frozen=True)
class Generation:
    """What a backend measured: token counts come from its tokenizer or the API's usage field.

    `completion_tokens` includes `reasoning_tokens`, as in the OpenAI usage object.
    """

    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    generation_ms: float
    first_token_ms: float | None = None
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    finish_reason: str = "stop"
    prompt_cut_chars: int = 0  # taken from the prompt's middle to fit the context (context_fit)


@dataclass(frozen=True)
class Scoring:
    """Log-likelihoods of continuations, with what reading them took, so scoring is priced too."""

    logprobs: list[float]
    tokens_read: int  # the prompt once plus every continuation token
    scoring_ms: float
    prompt_cut_chars: int = 0

    def as_generation(self, model: str) -> Generation:
        """Scoring reads tokens and writes none: price it like a generation with no output."""
        return Generation(
            text="",
            model=model,
            prompt_tokens=self.tokens_read,
            completion_tokens=0,
            generation_ms=self.scoring_ms,
            prompt_cut_chars=self.prompt_cut_chars,
        )


@runtime_checkable
class LLMBackend(Protocol):
    spec: str
    model: str
    # Whether `score` works, known from the class without a call: MCQ mode `auto` asks for the letter if not.
    can_score: bool

    def generate(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        stop: Sequence[str] = (),
        top_p: float | None = None,
        seed: int | None = None,
        on_text: OnText | None = None,
    ) -> Generation:
        """Answer a chat; `on_text` receives text pieces as they are produced (streaming).

        `top_p` and `seed` left None mean the engine's own default (no nucleus cut, no fixed seed).
        """
        ...

    def score(self, messages: Sequence[ChatMessage], continuations: Sequence[str]) -> Scoring:
        """Natural-log likelihood of each continuation as the start of the assistant's reply.

        Raises UnsupportedError where the backend cannot score (chat-only APIs).
        """
        ...

    def cost(self, generation: Generation, prices: PriceBook) -> Cost:
        """Price a generation: by tokens for APIs, by measured seconds for local compute."""
        ...

    def close(self) -> None: ...


class GenerateArgs(TypedDict):
    """The sampling keywords of `LLMBackend.generate`, as a route passes them on."""

    max_tokens: int
    temperature: float
    stop: Sequence[str]
    top_p: float | None
    seed: int | None


@runtime_checkable
class AsyncGenerating(Protocol):
    """A backend that can also generate on the caller's event loop: a gateway forwarding chat to an
    HTTP endpoint then holds no thread per call, and a timed-out call can be given up for real."""

    async def generate_async(
        self, messages: Sequence[ChatMessage], **args: Unpack[GenerateArgs]
    ) -> Generation:
        """The same Generation as `generate` without `on_text`; every keyword is given (`generate_args`)."""
        ...


@runtime_checkable
class AsyncLLMBackend(LLMBackend, AsyncGenerating, Protocol):
    """Both ways of generating: what a route needs to answer on the event loop."""


def generate_args(params: GenerationParams | None, default_max_tokens: int) -> GenerateArgs:
    """The asker's parameters where given, else the route's token budget and greedy decoding."""
    if params is None:
        params = GenerationParams()
    return GenerateArgs(
        max_tokens=params.max_tokens or default_max_tokens,
        temperature=0.0 if params.temperature is None else params.temperature,
        stop=tuple(params.stop),
        top_p=params.top_p,
        seed=params.seed,
    )


def conversation(system_parts: Sequence[str], history: Sequence[Turn], question: str) -> list[ChatMessage]:
    """What a route sends: one system message (the route's own parts first, then the asker's system
    turns, since chat templates take a single system turn), the earlier turns, then the question."""
    asker = [turn.content for turn in history if turn.role == "system" and turn.content.strip()]
    system = "\n\n".join(part for part in [*system_parts, *asker] if part)
    turns = [ChatMessage(turn.role, turn.content) for turn in history if turn.role != "system"]
    return [*([ChatMessage("system", system)] if system else []), *turns, ChatMessage("user", question)]
