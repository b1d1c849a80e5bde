"""OpenAI's chat-completions wire format: the request a client sends and the bodies it expects back.

Unknown fields are tolerated as OpenAI tolerates them (tools, seed, ...). The last user message is the
question; `domain` and MCQ `options` ride as extra fields (`extra_body` in the openai client), and
`metadata.domain` works too. `max_tokens` and `temperature` are accepted but each route keeps its own.
Without `options`, options written in the message ("…\nA: 甲\nB: 乙\n答案：") are read out of it, the route
is asked the rest with them, and the reply names its pick in the format the instruction shows.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.errors import ApiError, invalid, validation_error
from gateway.service import Served
from kgft.contract import Domain, Question
from kgft.options_in_text import AnswerTemplate, answer_template, fill, find_options

OPTIONS_FROM_TEXT = "text"


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="allow")


class ContentPart(_Tolerant):
    type: str
    text: str | None = None


class Message(_Tolerant):
    role: str
    content: str | list[ContentPart] | None = None


class StreamOptions(_Tolerant):
    include_usage: bool = False


class ChatRequest(_Tolerant):
    model: str = Field(min_length=1)
    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = None
    n: int = Field(default=1, ge=1, le=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    metadata: dict[str, Any] | None = None
    domain: Domain | None = None
    options: dict[str, str] | None = None


def to_question(request: ChatRequest, question_id: str, default_domain: Domain) -> Question:
    text = _last_user_text(request.messages)
    domain = request.domain or (request.metadata or {}).get("domain") or default_domain
    parsed = find_options(text) if request.options is None else None
    try:
        if parsed is None:
            return Question(id=question_id, text=text, domain=domain, options=request.options)
        template = answer_template(text)
        question = Question(
            id=question_id,
            text=parsed.stem,
            domain=domain,
            options=parsed.options,
            metadata={
                "options_from": OPTIONS_FROM_TEXT,
                "answer_template": None if template is None else asdict(template),
            },
        )
    except ValidationError as exc:
        raise validation_error(exc) from exc
    return question


def options_from_text(question: Question) -> bool:
    return question.metadata.get("options_from") == OPTIONS_FROM_TEXT


def reply_text(question: Question, served: Served) -> str:
    """The route's text, or for options read from the message its pick in the instruction's format; an
    abstention or an answer with no pick keeps the route's text (never a guessed letter)."""
    answer = served.answer
    if not options_from_text(question) or question.options is None or answer.abstained or not answer.choice:
        return answer.text
    if answer.choice not in question.options:
        return answer.text
    shape = question.metadata.get("answer_template")
    template = None if shape is None else AnswerTemplate(**shape)
    return fill(template, answer.choice, question.options[answer.choice])


def _with_source(question: Question, kgft: dict[str, Any]) -> dict[str, Any]:
    return kgft | {"options_from": OPTIONS_FROM_TEXT} if options_from_text(question) else kgft


def _last_user_text(messages: list[Message]) -> str:
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if message.role != "user":
            continue
        param = f"messages.{index}.content"
        if isinstance(message.content, list):
            if any(part.type != "text" for part in message.content):
                raise invalid("only text content parts are supported", param=param)
            text = "".join(part.text or "" for part in message.content)
        else:
            text = message.content or ""
        if not text.strip():
            raise invalid("the last user message is blank", param=param)
        return text
    raise invalid("messages has no user message to answer", param="messages")


def _usage(served: Served) -> dict[str, Any]:
    usage = served.answer.usage
    body: dict[str, Any] = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
    }
    if usage.reasoning_tokens:
        body["completion_tokens_details"] = {"reasoning_tokens": usage.reasoning_tokens}
    return body


def _finish_reason(served: Served) -> str:
    return "length" if served.answer.diagnostics.get("finish_reason") == "length" else "stop"


def completion(question: Question, served: Served, kgft: dict[str, Any]) -> bytes:
    """A `chat.completion` body; `model` is the route that answered, as OpenAI names the exact model."""
    return orjson.dumps(
        {
            "id": served.response_id,
            "object": "chat.completion",
            "created": served.created,
            "model": served.route,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply_text(question, served)},
                    "logprobs": None,
                    "finish_reason": _finish_reason(served),
                }
            ],
            "usage": _usage(served),
            "kgft": _with_source(question, kgft),
        }
    )


class Chunks:
    """SSE `chat.completion.chunk` events of one response; every chunk has the same id, time and model.

    The finishing chunk carries usage and the `kgft` object; a usage-only chunk with no choices follows
    only when asked, as OpenAI does, since clients that read `choices[0]` of every chunk would break on it.
    """

    def __init__(self, response_id: str, created: int, model: str):
        self._head = {
            "id": response_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
        }

    def opening(self, text: str) -> bytes:
        return self._event(self._chunk({"role": "assistant", "content": ""}, None)) + self.text(text)

    def text(self, piece: str) -> bytes:
        return self._event(self._chunk({"content": piece}, None))

    def closing(self, served: Served, kgft: dict[str, Any], include_usage: bool) -> bytes:
        usage = _usage(served)
        events = self._event(self._chunk({}, _finish_reason(served), usage=usage, kgft=kgft))
        if include_usage:
            events += self._event(self._head | {"choices": [], "usage": usage})
        return events + b"data: [DONE]\n\n"

    def error(self, error: ApiError) -> bytes:
        """How OpenAI ends a stream that failed after it began: an error event, and no [DONE]."""
        body = {"message": error.message, "type": error.type, "param": error.param, "code": error.code}
        return self._event({"error": body})

    def _chunk(self, delta: dict[str, Any], finish: str | None, **extra: Any) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return self._head | {"choices": [choice]} | extra

    @staticmethod
    def _event(body: dict[str, Any]) -> bytes:
        return b"data: " + orjson.dumps(body) + b"\n\n"


def event_stream(question: Question, served: Served, kgft: dict[str, Any], include_usage: bool) -> bytes:
    """A whole answer as SSE, sent at once: what a route that does not stream gives a streaming client."""
    chunks = Chunks(served.response_id, served.created, served.route)
    return chunks.opening(reply_text(question, served)) + chunks.closing(
        served, _with_source(question, kgft), include_usage
    )
