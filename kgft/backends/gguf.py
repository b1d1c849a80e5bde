"""In-process GGUF inference through llama.cpp (`xllamacpp`), with no server port opened."""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import cached_property
from typing import Any

import xllamacpp

from kgft.backends.base import ChatMessage, Generation, LLMBackend, OnText, Scoring
from kgft.backends.context_fit import fit_context
from kgft.backends.gguf_files import LOCAL_CONTEXT, SMOLLM2_ALIAS, locate_gguf
from kgft.backends.repetition import is_looping
from kgft.backends.spec import BackendSpec
from kgft.contract import Cost
from kgft.errors import BackendUnavailableError, ContextLengthError, ModelNotFoundError
from kgft.pricing import PriceBook
from kgft.settings import Settings

_GGUF_MAGIC = b"GGUF"


class GGUFBackend:
    can_score = True  # teacher-forced log-probs, by the same weights in transformers

    def __init__(self, spec: BackendSpec, settings: Settings):
        spec.check_options({"ctx"})
        self._settings = settings
        self.path = locate_gguf(spec.target)
        with self.path.open("rb") as handle:
            if handle.read(4) != _GGUF_MAGIC:
                raise ModelNotFoundError(f"{self.path} is not a GGUF file")
        self.spec = f"gguf:{spec.target}"
        self.model = "SmolLM2-135M-Instruct" if spec.target == SMOLLM2_ALIAS else self.path.stem
        params = xllamacpp.CommonParams()
        params.model.path = str(self.path)
        self.context = spec.tokens("ctx") or LOCAL_CONTEXT
        params.n_ctx = self.context
        params.cpuparams.n_threads = settings.threads
        params.cpuparams_batch.n_threads = settings.threads
        params.warmup = False
        params.verbosity = -1
        try:
            self._server: Any = xllamacpp.Server(params)
        except Exception as exc:  # llama.cpp reports load failures as bare runtime errors
            raise ModelNotFoundError(f"llama.cpp could not load {self.path}: {exc}") from exc
        # xllamacpp hangs when a Server is destroyed before its loop has run; one token settles it.
        _raise_on_error(self._server.handle_completions({"prompt": "Hi", "max_tokens": 1}))

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
        """llama.cpp's own sampler takes every parameter: temperature 0 is greedy, `seed` fixes sampling."""
        body: dict[str, Any] = {
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stop": list(stop),
        }
        if top_p is not None:
            body["top_p"] = top_p
        if seed is not None:
            body["seed"] = seed
        return fit_context(
            lambda fitted: self._generate({**body, "messages": _wire(fitted)}, on_text),
            messages,
            enabled=self._settings.fit_context,
            reserve=max_tokens,  # llama.cpp counts the prompt only
        )

    def _generate(self, body: dict[str, Any], on_text: OnText | None) -> Generation:
        started = time.perf_counter()
        # Always streamed, even when nobody listens, so a reply that loops can be stopped mid-way.
        text, finish, usage, first_ms = self._stream(body, on_text or (lambda piece: None), started)
        return Generation(
            text=text,
            model=self.model,
            prompt_tokens=usage["prompt_tokens"],
            completion_tokens=usage["completion_tokens"],
            cached_tokens=usage.get("prompt_tokens_details", {}).get("cached_tokens", 0),
            generation_ms=(time.perf_counter() - started) * 1000,
            first_token_ms=first_ms,
            finish_reason=finish or "stop",
        )

    def _stream(
        self, body: dict[str, Any], on_text: OnText, started: float
    ) -> tuple[str, str | None, dict[str, Any], float | None]:
        pieces: list[str] = []
        state: dict[str, Any] = {"finish": None, "usage": None, "first_ms": None, "error": None}

        def on_chunk(chunk: dict[str, Any]) -> bool:
            if "choices" not in chunk:
                state["error"] = chunk
                return True
            for choice in chunk["choices"]:
                piece = choice.get("delta", {}).get("content")
                if piece:
                    if state["first_ms"] is None:
                        state["first_ms"] = (time.perf_counter() - started) * 1000
                    pieces.append(piece)
                    on_text(piece)
                state["finish"] = choice.get("finish_reason") or state["finish"]
            state["usage"] = chunk.get("usage") or state["usage"]
            if is_looping("".join(pieces)):
                state["looped"] = True
                return True  # llama.cpp stops generating; it sends no usage after a stop
            return False

        self._server.handle_chat_completions(
            {**body, "stream": True, "stream_options": {"include_usage": True}}, on_chunk
        )
        if state["error"] is not None:
            _raise_on_error(state["error"])
        if state.get("looped"):
            return "".join(pieces), "stop", self._usage_after_stop(body, len(pieces)), state["first_ms"]
        if state["usage"] is None:
            raise BackendUnavailableError("llama.cpp streamed no token usage")
        return "".join(pieces), state["finish"], state["usage"], state["first_ms"]

    def _usage_after_stop(self, body: dict[str, Any], completion_tokens: int) -> dict[str, Any]:
        """The prompt's token count, from a one-token request on the prompt just cached (~10 ms); each
        streamed piece was one token."""
        response = self._server.handle_chat_completions({**body, "max_tokens": 1, "stream": False})
        _raise_on_error(response)
        prompt = response["usage"]
        return {
            "prompt_tokens": prompt["prompt_tokens"],
            "completion_tokens": completion_tokens,
            "prompt_tokens_details": prompt.get("prompt_tokens_details", {}),
        }

    @cached_property
    def _scorer(self) -> LLMBackend:
        """The same weights de-quantised into transformers (converted once, cached): llama.cpp's API gives
        no log-probs for prompt tokens, so it could score only one forced token per request (5 s for a
        Chinese four-option question against 2 s in one batched forward pass)."""
        from kgft.backends.registry import MODEL_LOADING

        with MODEL_LOADING:
            from kgft.backends.gguf_convert import safetensors_dir
            from kgft.backends.hf import HFBackend  # torch loads only once something is scored

            # It reads the context llama.cpp holds: a longer prompt is cut for both alike (context_fit).
            folder = safetensors_dir(self.path, self._settings)
            scorer = HFBackend(BackendSpec("hf", str(folder), {"ctx": str(self.context)}), self._settings)
        scorer.model = self.model  # the folder is named after its format; errors should name the model
        return scorer

    def score(self, messages: Sequence[ChatMessage], continuations: Sequence[str]) -> Scoring:
        """Teacher-forced log-likelihood of each continuation, read by the de-quantised twin."""
        return self._scorer.score(messages, continuations)

    def cost(self, generation: Generation, prices: PriceBook) -> Cost:
        return prices.compute_cost(
            self._settings.device, generation.generation_ms / 1000, cores=self._settings.threads
        )

    def close(self) -> None:
        self._server = None


def _raise_on_error(response: dict[str, Any]) -> None:
    if "choices" in response:
        return
    error = response.get("error", response)
    message = error.get("message", str(error)) if isinstance(error, dict) else str(error)
    if isinstance(error, dict) and error.get("type") == "exceed_context_size_error":
        raise ContextLengthError(
            f"llama.cpp: {message}", tokens=error.get("n_prompt_tokens"), limit=error.get("n_ctx")
        )
    raise BackendUnavailableError(f"llama.cpp: {message}")


def _wire(messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
    return [{"role": message.role, "content": message.content} for message in messages]
