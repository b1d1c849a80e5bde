"""In-process GGUF inference through llama.cpp (`xllamacpp`), with no server port opened."""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import cached_property
from typing import Any

import xllamacpp

from kgft.backends.base import ChatMessage, Generation, OnText, Scoring
from kgft.backends.gguf_files import SMOLLM2_ALIAS, locate_gguf
from kgft.backends.scoring_ids import scoring_ids
from kgft.backends.spec import BackendSpec
from kgft.contract import Cost
from kgft.errors import BackendUnavailableError, KgftError, ModelNotFoundError
from kgft.pricing import PriceBook
from kgft.settings import Settings

_GGUF_MAGIC = b"GGUF"
_DEFAULT_CTX = 4096
# A bias this large makes the forced token win greedy sampling; llama.cpp still reports its raw log-prob.
_FORCE_BIAS = 100.0
# Sizes of the raw top-N list read for a token whose own log-prob llama.cpp withholds; the last resort is
# the whole vocabulary. 256 costs nothing measurable over 1 and held every CJK token tried (rank <= 126).
_TOP_N_TIERS = (256, 4096)


class GGUFBackend:
    can_score = True  # teacher-forced token log-probs

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
        params.n_ctx = int(spec.option("ctx") or _DEFAULT_CTX)
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
        # Tokens whose log-prob llama.cpp has withheld: scoring reads them off the top-N list straight away.
        self._split_char_ids: set[int] = set()

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
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stop": list(stop),
        }
        if top_p is not None:
            body["top_p"] = top_p
        if seed is not None:
            body["seed"] = seed
        started = time.perf_counter()
        if on_text is None:
            response = self._server.handle_chat_completions(body)
            _raise_on_error(response)
            choice = response["choices"][0]
            text, finish, usage, first_ms = (
                choice["message"]["content"] or "",
                choice["finish_reason"],
                response["usage"],
                None,
            )
        else:
            text, finish, usage, first_ms = self._stream(body, on_text, started)
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
            return False

        self._server.handle_chat_completions(
            {**body, "stream": True, "stream_options": {"include_usage": True}}, on_chunk
        )
        if state["error"] is not None:
            _raise_on_error(state["error"])
        if state["usage"] is None:
            raise BackendUnavailableError("llama.cpp streamed no token usage")
        return "".join(pieces), state["finish"], state["usage"], state["first_ms"]

    @cached_property
    def _tokenizer(self) -> Any:
        """HF tokenizer rebuilt from the GGUF: scoring needs exact token ids and the chat template."""
        from transformers import AutoTokenizer

        from kgft.backends.gguf_convert import tokenizer_dir

        return AutoTokenizer.from_pretrained(tokenizer_dir(self.path, self._settings))

    def score(self, messages: Sequence[ChatMessage], continuations: Sequence[str]) -> Scoring:
        """Teacher-forced log-likelihood: force each continuation token in turn, read its raw log-prob."""
        started = time.perf_counter()
        prompt_ids, targets = scoring_ids(self._tokenizer, messages, continuations)
        # With the whole prompt cached, llama.cpp re-reads its last token alone, and that differs slightly
        # from reading it in the prompt's batch. Caching the prompt first gives every option (and every
        # repeat of this call) the same prompt state, so option order cannot sway the scores.
        _raise_on_error(
            self._server.handle_completions({"prompt": prompt_ids, "max_tokens": 1, "cache_prompt": True})
        )
        logprobs = [self._forced_logprob(prompt_ids, target) for target in targets]
        return Scoring(
            logprobs=logprobs,
            tokens_read=len(prompt_ids) + sum(len(target) for target in targets),
            scoring_ms=(time.perf_counter() - started) * 1000,
        )

    def _forced_logprob(self, prompt_ids: list[int], target_ids: list[int]) -> float:
        total = 0.0
        for position, token in enumerate(target_ids):
            prefix = prompt_ids + target_ids[:position]
            logprob = None if token in self._split_char_ids else self._sampled_logprob(prefix, token)
            if logprob is None:
                self._split_char_ids.add(token)
                logprob = self._listed_logprob(prefix, token)
            total += logprob
        return total

    def _sampled_logprob(self, prefix: list[int], token: int) -> float | None:
        """The forced token's own raw log-prob, or None where llama.cpp withholds it.

        llama.cpp sends no token (and so no probabilities) while the generated text ends mid-UTF-8
        character, which byte-level BPE tokens often do for CJK. Whether it does depends only on the
        token's bytes, since each request generates just this one token.
        """
        scored = self._next_token(prefix, token, n_probs=1)
        if scored is not None and scored["id"] != token:
            raise KgftError(f"llama.cpp did not take forced token {token} (got {scored['id']})")
        return None if scored is None else float(scored["logprob"])

    def _listed_logprob(self, prefix: list[int], token: int) -> float:
        """A withheld token's raw log-prob, read off the raw top-N list at its position.

        An ASCII token is forced in its place so that llama.cpp sends the list; the list holds the
        unbiased distribution, the same numbers a forced token's own log-prob comes from.
        """
        for n_probs in (*_TOP_N_TIERS, len(self._tokenizer)):
            scored = self._next_token(prefix, self._ascii_token, n_probs)
            if scored is None:
                raise KgftError(f"llama.cpp withheld the probabilities of token {self._ascii_token}")
            for entry in scored["top_logprobs"]:
                if entry["id"] == token:
                    return float(entry["logprob"])
        raise KgftError(f"llama.cpp listed no probability for token {token}")

    def _next_token(self, prefix: list[int], forced: int, n_probs: int) -> dict[str, Any] | None:
        response = self._server.handle_completions(
            {
                "prompt": prefix,
                "max_tokens": 1,
                "n_probs": n_probs,
                "temperature": 0.0,
                "logit_bias": [[forced, _FORCE_BIAS]],
                "cache_prompt": True,
            }
        )
        _raise_on_error(response)
        logprobs = response["choices"][0]["logprobs"]
        return None if logprobs is None else logprobs["content"][0]

    @cached_property
    def _ascii_token(self) -> int:
        """A token whose text is whole characters, so llama.cpp never withholds it."""
        return int(self._tokenizer("a", add_special_tokens=False)["input_ids"][-1])

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
    raise BackendUnavailableError(f"llama.cpp: {message}")
