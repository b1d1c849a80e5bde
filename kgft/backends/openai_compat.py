"""Any OpenAI-compatible chat endpoint (DeepSeek, DashScope, vLLM, Ollama, llama.cpp server) over HTTP."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Unpack
from urllib.parse import urlencode

import httpx
import orjson

from kgft.backends.async_http import AsyncPoster
from kgft.backends.base import ChatMessage, GenerateArgs, Generation, OnText, Scoring
from kgft.backends.spec import BackendSpec
from kgft.backends.transport_errors import broke_off, timed_out, unreachable
from kgft.contract import Cost
from kgft.errors import BackendSpecError, BackendUnavailableError, UnsupportedError
from kgft.pricing import PriceBook
from kgft.settings import Settings

_ERROR_CHARS = 200
_KEY_HINT = "set KGFT_OPENAI_API_KEY or OPENAI_API_KEY"


class OpenAIBackend:
    """Chat over `POST {base_url}/chat/completions`; token counts come only from the API's usage field."""

    can_score = False  # chat APIs return no log-probs for the prompt, so MCQ asks for the letter

    def __init__(self, spec: BackendSpec, settings: Settings):
        spec.check_options({"base_url"})
        self.model = spec.target
        self.spec = f"openai:{spec.target}"
        if spec.options:
            self.spec += "?" + urlencode(spec.options, safe=":/")
        self.base_url = (spec.option("base_url") or settings.openai_base_url).rstrip("/")
        if not self.base_url.startswith(("http://", "https://")):
            raise BackendSpecError(f"base_url '{self.base_url}' is not an http:// or https:// URL")
        self._timeout_s = settings.timeout_s
        key = settings.openai_api_key
        self._has_key = key is not None
        headers = {"Authorization": f"Bearer {key.get_secret_value()}"} if key is not None else {}
        self._client = httpx.Client(headers=headers, timeout=settings.timeout_s)
        self._async_client = AsyncPoster(self.base_url, headers, settings.timeout_s)

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
        args = GenerateArgs(max_tokens=max_tokens, temperature=temperature, stop=stop, top_p=top_p, seed=seed)
        body = self._body(messages, args)
        started = time.perf_counter()
        with _transport_errors(self.base_url, self._timeout_s):
            if on_text is None:
                response = self._client.post(self._url, json=body)
                text, finish, usage = self._completion(response.status_code, response.text)
                first_ms = None
            else:
                text, finish, usage, first_ms = self._stream(body, on_text, started)
        generation_ms = (time.perf_counter() - started) * 1000
        return self._generation(text, finish, usage, first_ms, generation_ms)

    async def generate_async(
        self, messages: Sequence[ChatMessage], **args: Unpack[GenerateArgs]
    ) -> Generation:
        body = self._body(messages, args)
        started = time.perf_counter()
        status, payload = await self._async_client.post(self._url, body)
        text, finish, usage = self._completion(status, payload)
        return self._generation(text, finish, usage, None, (time.perf_counter() - started) * 1000)

    def _body(self, messages: Sequence[ChatMessage], args: GenerateArgs) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": args["max_tokens"],
            "temperature": args["temperature"],
        }
        if args["stop"]:
            body["stop"] = list(args["stop"])
        # Sent only when asked: some servers reject fields they do not know, and `seed` is best effort.
        if args["top_p"] is not None:
            body["top_p"] = args["top_p"]
        if args["seed"] is not None:
            body["seed"] = args["seed"]
        return body

    def _completion(self, status: int, text: str) -> tuple[str, str | None, Any]:
        self._check_status(status, text)
        payload = self._json(text)
        try:
            choice = payload["choices"][0]
            # Reasoning models put their thinking in `reasoning_content`; the answer is `content` only.
            answer = choice["message"].get("content") or ""
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise self._malformed(f"no choices[0].message in {text}") from exc
        return answer, choice.get("finish_reason"), payload.get("usage")

    def _stream(
        self, body: dict[str, Any], on_text: OnText, started: float
    ) -> tuple[str, str | None, Any, float | None]:
        """SSE chunks; usage arrives in a last chunk with empty choices, only if `include_usage` is asked."""
        streamed = {**body, "stream": True, "stream_options": {"include_usage": True}}
        pieces: list[str] = []
        finish: str | None = None
        usage: Any = None
        first_ms: float | None = None
        with self._client.stream("POST", self._url, json=streamed) as response:
            if response.status_code >= 400:
                response.read()
                self._check_status(response.status_code, response.text)
            for chunk in self._events(response.iter_lines()):
                if "error" in chunk:  # servers report failures mid-stream as an error event
                    raise BackendUnavailableError(f"{self.base_url} failed mid-stream: {_error_text(chunk)}")
                usage = chunk.get("usage") or usage
                for choice in chunk.get("choices") or ():
                    piece = (choice.get("delta") or {}).get("content")
                    if piece:
                        if first_ms is None:
                            first_ms = (time.perf_counter() - started) * 1000
                        pieces.append(piece)
                        on_text(piece)
                    finish = choice.get("finish_reason") or finish
        return "".join(pieces), finish, usage, first_ms

    def _events(self, lines: Iterator[str]) -> Iterator[dict[str, Any]]:
        for line in lines:
            if not line.startswith("data:"):
                continue  # blank separators, `:` keep-alive comments, `event:` names
            data = line.removeprefix("data:").strip()
            if data == "[DONE]":
                return
            chunk = self._json(data)
            if not isinstance(chunk, dict):
                raise self._malformed(f"stream event is not an object: {data}")
            yield chunk

    def _generation(
        self, text: str, finish: str | None, usage: Any, first_ms: float | None, generation_ms: float
    ) -> Generation:
        """Refuse answers without usage: a character-count estimate would misprice them, and $0 would
        flatter the route; both are worse than a clear error naming the server."""
        if not isinstance(usage, dict) or "prompt_tokens" not in usage or "completion_tokens" not in usage:
            raise BackendUnavailableError(
                f"{self.base_url} returned no token usage for model '{self.model}'; "
                "kgft needs the usage field to price answers"
            )
        # DeepSeek reports cache hits as a top-level `prompt_cache_hit_tokens` instead of in details.
        cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or usage.get(
            "prompt_cache_hit_tokens"
        )
        reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens")
        return Generation(
            text=text,
            model=self.model,
            prompt_tokens=int(usage["prompt_tokens"]),
            completion_tokens=int(usage["completion_tokens"]),
            generation_ms=generation_ms,
            first_token_ms=first_ms,
            cached_tokens=int(cached or 0),
            reasoning_tokens=int(reasoning or 0),
            finish_reason=finish or "stop",
        )

    @property
    def _url(self) -> str:
        return f"{self.base_url}/chat/completions"

    def _check_status(self, status: int, text: str) -> None:
        if status < 400:
            return
        detail = _error_text(_maybe_json(text))
        if status in (401, 403):
            sent = "rejected the API key" if self._has_key else "needs an API key and none was sent"
            raise BackendUnavailableError(f"{self.base_url} {sent} (HTTP {status}: {detail}); {_KEY_HINT}")
        if status == 404:
            raise BackendUnavailableError(
                f"{self._url} has no model '{self.model}' or no such path (HTTP 404: {detail})"
            )
        raise BackendUnavailableError(f"{self._url} answered HTTP {status}: {detail}")

    def _json(self, text: str) -> Any:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise self._malformed(f"invalid JSON: {text}") from exc

    def _malformed(self, what: str) -> BackendUnavailableError:
        return BackendUnavailableError(f"{self.base_url} sent a malformed response, {_one_line(what)}")

    def score(self, messages: Sequence[ChatMessage], continuations: Sequence[str]) -> Scoring:
        raise UnsupportedError(
            "openai: backends cannot score continuations (chat APIs return no prompt log-probs); "
            "use KGFT_MCQ_MODE=generate (or auto), a gguf: or hf: backend, or reader=lexical"
        )

    def cost(self, generation: Generation, prices: PriceBook) -> Cost:
        return prices.token_cost(
            self.model, generation.prompt_tokens, generation.completion_tokens, generation.cached_tokens
        )

    def close(self) -> None:
        self._client.close()
        self._async_client.close()


@contextmanager
def _transport_errors(base_url: str, timeout_s: float) -> Iterator[None]:
    """Turns httpx's network failures into one-line errors that name the URL the user configured."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise timed_out(base_url, timeout_s) from exc
    except httpx.ConnectError as exc:
        raise unreachable(base_url, _reason(exc)) from exc
    except httpx.HTTPError as exc:
        raise broke_off(base_url, _reason(exc)) from exc


def _reason(exc: Exception) -> str:
    """`[Errno 111] Connection refused` → `connection refused`."""
    text = re.sub(r"^\[Errno -?\d+\]\s*", "", str(exc)) or type(exc).__name__
    return _one_line(text[:1].lower() + text[1:])


def _maybe_json(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def _error_text(payload: Any) -> str:
    """The server's own message: `{"error": {"message"}}` (OpenAI, llama.cpp), `{"message"}` (vLLM)."""
    if isinstance(payload, dict):
        error = payload.get("error", payload)
        if isinstance(error, dict):
            error = error.get("message") or error.get("detail") or error
        payload = error
    return _one_line(str(payload)) or "no error message"


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _ERROR_CHARS else flat[: _ERROR_CHARS - 1] + "…"
