"""OpenAI's chat-completions wire format: the request a client sends and the bodies it expects back.

Unknown fields are tolerated as OpenAI tolerates them (tools, seed, ...). The last user message is the
question; `domain` and MCQ `options` ride as extra fields (`extra_body` in the openai client), and
`metadata.domain` works too. `max_tokens` and `temperature` are accepted but each route keeps its own.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.errors import ApiError, invalid, validation_error
from gateway.service import Served
from kgft.contract import Domain, Question


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
    try:
        return Question(id=question_id, text=text, domain=domain, options=request.options)
    except ValidationError as exc:
        raise validation_error(exc) from exc


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


def completion(served: Served, kgft: dict[str, Any]) -> bytes:
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
                    "message": {"role": "assistant", "content": served.answer.text},
                    "logprobs": None,
                    "finish_reason": _finish_reason(served),
                }
            ],
            "usage": _usage(served),
            "kgft": kgft,
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


def event_stream(served: Served, kgft: dict[str, Any], include_usage: bool) -> bytes:
    """A whole answer as SSE, sent at once: what a route that does not stream gives a streaming client."""
    chunks = Chunks(served.response_id, served.created, served.route)
    return chunks.opening(served.answer.text) + chunks.closing(served, kgft, include_usage)
