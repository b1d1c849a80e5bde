"""OpenAI's chat-completions wire format: the request a client sends and the bodies it expects back.

Unknown fields are tolerated as OpenAI tolerates them (tools, ...). The last user message is the
question; the system messages and the turns before it are its history, and `max_tokens` (or
`max_completion_tokens`), `temperature`, `top_p`, `stop` and `seed` are its generation parameters.
`domain` and MCQ `options` ride as extra fields (`extra_body` in the openai client), and
`metadata.domain` works too.
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
from kgft.contract import Domain, GenerationParams, Question, Turn
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
    top_p: float | None = Field(default=None, ge=0, le=1)
    stop: str | list[str] | None = None
    seed: int | None = Field(default=None, ge=-(2**63), le=2**63 - 1)
    metadata: dict[str, Any] | None = None
    domain: Domain | None = None
    options: dict[str, str] | None = None


def to_question(
    request: ChatRequest, question_id: str, default_domain: Domain, *, max_tokens_cap: int
) -> Question:
    """The last user message as the question, with the conversation before it and the asked parameters;
    `max_tokens_cap` is the largest `max_tokens` a request may ask for."""
    last = _last_user_index(request.messages)
    text = _message_text(request.messages, last)
    history = _history(request.messages, last)
    params = _params(request, max_tokens_cap)
    domain = request.domain or (request.metadata or {}).get("domain") or default_domain
    parsed = find_options(text) if request.options is None else None
    # The day whose law is asked about travels on; other client metadata stays the client's.
    dated = {"as_of": request.metadata["as_of"]} if request.metadata and "as_of" in request.metadata else {}
    try:
        if parsed is None:
            return Question(
                id=question_id,
                text=text,
                domain=domain,
                options=request.options,
                metadata=dated,
                history=history,
                params=params,
            )
        template = answer_template(text)
        question = Question(
            id=question_id,
            text=parsed.stem,
            domain=domain,
            options=parsed.options,
            metadata=dated
            | {
                "options_from": OPTIONS_FROM_TEXT,
                "answer_template": None if template is None else asdict(template),
            },
            history=history,
            params=params,
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


def _last_user_index(messages: list[Message]) -> int:
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].role == "user":
            if not _message_text(messages, index).strip():
                raise invalid("the last user message is blank", param=f"messages.{index}.content")
            return index
    raise invalid("messages has no user message to answer", param="messages")


def _message_text(messages: list[Message], index: int) -> str:
    message = messages[index]
    if isinstance(message.content, list):
        if any(part.type != "text" for part in message.content):
            raise invalid("only text content parts are supported", param=f"messages.{index}.content")
        return "".join(part.text or "" for part in message.content)
    return message.content or ""


def _history(messages: list[Message], last_user: int) -> list[Turn]:
    """System messages first (wherever they stand), then the user and assistant turns before the question.

    `developer` is OpenAI's newer name for a system message. Turns with no text (an assistant's tool call)
    carry nothing a route can read and are left out; tool results are refused rather than dropped.
    """
    system: list[Turn] = []
    turns: list[Turn] = []
    for index, message in enumerate(messages):
        if index == last_user or (index > last_user and message.role not in _SYSTEM_ROLES):
            continue
        if message.role not in (*_SYSTEM_ROLES, "user", "assistant"):
            raise invalid(
                f"message role '{message.role}' is not supported; use system, developer, user or assistant",
                param=f"messages.{index}.role",
            )
        text = _message_text(messages, index)
        if not text.strip():
            continue
        if message.role in _SYSTEM_ROLES:
            system.append(Turn(role="system", content=text))
        else:
            turns.append(Turn(role="user" if message.role == "user" else "assistant", content=text))
    return system + turns


_SYSTEM_ROLES = ("system", "developer")


def _params(request: ChatRequest, max_tokens_cap: int) -> GenerationParams | None:
    """None when the request asks for nothing, so each route keeps its own defaults."""
    field, max_tokens = (
        ("max_completion_tokens", request.max_completion_tokens)
        if request.max_completion_tokens is not None
        else ("max_tokens", request.max_tokens)
    )
    if max_tokens is not None and max_tokens > max_tokens_cap:
        raise invalid(
            f"{field} is {max_tokens}, above this gateway's limit of {max_tokens_cap} tokens "
            "(KGFT_MAX_REQUEST_TOKENS)",
            param=field,
        )
    stop = [request.stop] if isinstance(request.stop, str) else list(request.stop or [])
    asked = (max_tokens, request.temperature, request.top_p, request.seed)
    if all(value is None for value in asked) and not stop:
        return None
    try:
        return GenerationParams(
            max_tokens=max_tokens,
            temperature=request.temperature,
            top_p=request.top_p,
            stop=stop,
            seed=request.seed,
        )
    except ValidationError as exc:
        raise validation_error(exc) from exc


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
