"""The answer contract every route speaks, so gateway and eval never depend on a route's internals."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator

Domain = Literal["legal", "medical"]
# Receives text pieces as they are produced.
OnText = Callable[[str], None]
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class _Strict(BaseModel):
    """Unknown fields are an error at the edges: a typo must not silently drop data."""

    model_config = ConfigDict(extra="forbid")


Role = Literal["system", "user", "assistant"]


class Turn(_Strict):
    """One message of the conversation that came before a question."""

    role: Role
    content: str


class GenerationParams(_Strict):
    """What the asker wants of open generation; a route uses its own default for each field left unset."""

    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    stop: list[str] = Field(default_factory=list, max_length=4)  # OpenAI's limit
    seed: int | None = Field(default=None, ge=-(2**63), le=2**63 - 1)  # what the engines take


class Question(_Strict):
    id: str
    text: str = Field(min_length=1)
    domain: Domain
    options: dict[str, str] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    # The turns before the question, system messages first: what a chat client sent along with it.
    history: list[Turn] = Field(default_factory=list)
    params: GenerationParams | None = None

    @field_validator("text")
    @classmethod
    def _not_blank(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("question text is blank")
        return text

    @field_validator("metadata")
    @classmethod
    def _as_of_is_a_date(cls, metadata: dict[str, Any]) -> dict[str, Any]:
        """`as_of`: the day whose law the asker wants (a KG route answers from the versions then in force)."""
        if "as_of" in metadata:
            value = metadata["as_of"]
            if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
                raise ValueError(f"as_of must be an ISO date YYYY-MM-DD, got {value!r}")
            try:
                date.fromisoformat(value)
            except ValueError as exc:
                raise ValueError(f"as_of {value!r} is not a calendar date ({exc})") from exc
        return metadata

    @field_validator("options")
    @classmethod
    def _letter_keys(cls, options: dict[str, str] | None) -> dict[str, str] | None:
        if options is not None:
            bad = [key for key in options if not (len(key) == 1 and "A" <= key <= "Z")]
            if bad:
                raise ValueError(f"option keys must be single capital letters A..Z, got {bad}")
        return options


class Citation(_Strict):
    id: str
    text: str
    source: str
    # For a statute: the version quoted and its status on the day the question is about.
    version_date: str | None = None
    status: str | None = None


class Usage(_Strict):
    prompt_tokens: int = Field(default=0, ge=0)
    completion_tokens: int = Field(default=0, ge=0)
    reasoning_tokens: int = Field(default=0, ge=0)


class Timings(_Strict):
    retrieval_ms: float = Field(default=0.0, ge=0)
    generation_ms: float = Field(default=0.0, ge=0)
    total_ms: float = Field(default=0.0, ge=0)


class Cost(_Strict):
    """Runtime cost of one answer; `basis` shows the arithmetic so a reader can check it."""

    runtime_usd: Decimal
    basis: str
    priced: bool

    @field_serializer("runtime_usd")
    def _as_string(self, value: Decimal) -> str:
        return format(value.normalize(), "f") if value else "0"


class Answer(_Strict):
    text: str
    choice: str | None = None
    route: str
    model: str
    citations: list[Citation] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    timings: Timings = Field(default_factory=Timings)
    cost: Cost
    abstained: bool = False
    abstain_reason: str | None = None
    diagnostics: dict[str, Any] = Field(default_factory=dict)


@runtime_checkable
class Route(Protocol):
    """A way of answering domain questions: the KG route, the FT route, or anything else."""

    name: str

    def answer(self, question: Question) -> Answer: ...

    def answer_batch(self, questions: Sequence[Question]) -> list[Answer]: ...


@runtime_checkable
class AsyncRoute(Route, Protocol):
    """A route that can answer some questions on the caller's event loop (a model behind HTTP), so a
    gateway holds no thread while the model works."""

    def answers_async(self, question: Question) -> bool:
        """Whether `answer_async` can take this question; the others go to `answer` as usual."""
        ...

    async def answer_async(self, question: Question) -> Answer:
        """The same Answer as `answer`."""
        ...


@runtime_checkable
class StreamingRoute(Route, Protocol):
    """A route that can pass its answer's text on as it is written, so a client sees the first words early."""

    def answer_streaming(self, question: Question, on_text: OnText) -> Answer:
        """The same Answer as `answer`; generated text goes to `on_text` piece by piece, and text that is
        not generated token by token (an option pick) goes once. The pieces join to `Answer.text`."""
        ...
