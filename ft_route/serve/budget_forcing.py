"""s1 budget forcing (Muennighoff et al. 2025): the model thinks for a set number of tokens, then answers.

A greedy loop over `model(...)` with a KV cache rather than `generate()`, because forcing means replacing
the token the model chose (the end of its thinking) with text of our own: "Wait" below the minimum, the
end-of-thinking delimiter and an answer cue at the maximum.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformers import DynamicCache

from kgft.backends.base import ChatMessage, Generation, OnText
from kgft.backends.scoring_ids import render_chat


@dataclass(frozen=True)
class ThinkingBudget:
    """Token budgets for the thinking part, and the text that frames it; "Wait" is s1's."""

    max_tokens: int
    min_tokens: int = 0
    # As ft_route.train writes the trace: `{open}{reasoning}{close}{answer}`. The model's attempt to end
    # its thinking is `close` without its surrounding whitespace.
    open: str = "<think>\n"
    close: str = "\n</think>\n"
    wait: str = "Wait"
    # s1 appends "Final Answer:" because its training answers began so; ours start right after `close`.
    answer_cue: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.min_tokens <= self.max_tokens:
            raise ValueError(f"need 0 <= min_tokens <= max_tokens, got {self.min_tokens}, {self.max_tokens}")


@dataclass(frozen=True)
class Thought:
    """A budget-forced reply: `generation.text` is the answer alone, its `reasoning_tokens` the thinking."""

    generation: Generation
    thinking: str
    waits: int  # times "Wait" replaced the model's attempt to stop thinking
    stopped_by_budget: bool  # the maximum, not the model, ended the thinking


class _Decoder:
    """One sequence on a KV cache: each step feeds only the new tokens."""

    def __init__(self, model: Any, prompt_ids: list[int]):
        self._model = model
        self._cache = DynamicCache()
        self.feed(prompt_ids)

    def feed(self, ids: list[int]) -> None:
        output = self._model(input_ids=torch.tensor([ids]), past_key_values=self._cache, use_cache=True)
        self._logits: torch.Tensor = output.logits[0, -1]

    def greedy(self) -> int:
        return int(self._logits.argmax())

    def rewind(self, length: int) -> None:
        """Forget every token past `length`; the next `feed` continues from there."""
        surplus = self._cache.get_seq_length() - length
        if surplus:
            self._cache.crop(-surplus)  # a negative count removes tokens in transformers 4.x and 5.x alike


class _AnswerText:
    """The answer as `generate` returns it (decoded, stripped), passed to `on_text` while it grows; a tail
    that may yet change (whitespace the strip would drop, half a character) waits until it settles."""

    def __init__(self, tokenizer: Any, on_text: OnText | None):
        self._tokenizer = tokenizer
        self._on_text = on_text
        self._sent_chars = 0

    def grew(self, ids: list[int]) -> None:
        if self._on_text is not None:
            self._send(self._on_text, self._decode(ids).rstrip("\ufffd").rstrip())

    def final(self, ids: list[int]) -> str:
        text = self._decode(ids).strip()
        if self._on_text is not None:
            self._send(self._on_text, text)
        return text

    def _decode(self, ids: list[int]) -> str:
        return self._tokenizer.decode(ids, skip_special_tokens=True).lstrip()

    def _send(self, on_text: OnText, text: str) -> None:
        if len(text) > self._sent_chars:
            on_text(text[self._sent_chars :])
            self._sent_chars = len(text)


class BudgetForcer:
    """Thinks between the budget's delimiters, then answers after the close delimiter and a cue."""

    def __init__(self, model: Any, tokenizer: Any, budget: ThinkingBudget, model_name: str):
        self._model = model
        self._tokenizer = tokenizer
        self.budget = budget
        self.model_name = model_name
        eos = model.generation_config.eos_token_id
        self._eos = ({*eos} if isinstance(eos, list) else {eos}) | {tokenizer.eos_token_id}
        self._eos.discard(None)
        self._end_mark = budget.close.strip()
        # The end mark spans at most one token per UTF-8 byte, so this many tail tokens can spell it.
        self._end_window = len(self._end_mark.encode("utf-8")) + 1

    def generate(
        self, messages: Sequence[ChatMessage], *, max_answer_tokens: int, on_text: OnText | None = None
    ) -> Thought:
        """`on_text` receives the answer as it is written; the thinking is not streamed."""
        started = time.perf_counter()
        # Base models like SmolLM2 never open a thinking block themselves, so the prompt opens it.
        prompt_ids = self._ids(render_chat(self._tokenizer, messages) + self.budget.open)
        with torch.inference_mode():
            decoder = _Decoder(self._model, prompt_ids)
            first_token_at = time.perf_counter()
            thinking_ids, waits, stopped_by_budget = self._think(decoder, len(prompt_ids))
            thinking = self._tokenizer.decode(thinking_ids)
            bridge_ids = self._ids(self._bridge(thinking))
            decoder.feed(bridge_ids)
            answer_text = _AnswerText(self._tokenizer, on_text)
            answer_ids, ended = self._answer(decoder, max_answer_tokens, answer_text)
        generation = Generation(
            text=answer_text.final(answer_ids),
            model=self.model_name,
            prompt_tokens=len(prompt_ids),
            completion_tokens=len(thinking_ids) + len(bridge_ids) + len(answer_ids),
            generation_ms=(time.perf_counter() - started) * 1000,
            first_token_ms=(first_token_at - started) * 1000,
            reasoning_tokens=len(thinking_ids),
            finish_reason="stop" if ended else "length",
        )
        return Thought(generation, thinking, waits, stopped_by_budget)

    def _think(self, decoder: _Decoder, prompt_len: int) -> tuple[list[int], int, bool]:
        """Thinking ids (generated and injected), the number of waits, and whether the max stopped it."""
        budget = self.budget
        wait_ids = self._ids(budget.wait)
        thinking: list[int] = []
        waits = 0
        while len(thinking) < budget.max_tokens:
            token = decoder.greedy()
            end = len(thinking) if token in self._eos else self._end_start([*thinking, token])
            if end is None:
                decoder.feed([token])
                thinking.append(token)
                continue
            # The model tries to stop thinking: drop the (partial) delimiter it has already written.
            thinking = thinking[:end]
            decoder.rewind(prompt_len + end)
            if len(thinking) >= budget.min_tokens or len(thinking) + len(wait_ids) > budget.max_tokens:
                return thinking, waits, False
            decoder.feed(wait_ids)
            thinking.extend(wait_ids)
            waits += 1
        return thinking, waits, True

    def _answer(self, decoder: _Decoder, max_tokens: int, text: _AnswerText) -> tuple[list[int], bool]:
        """Answer token ids, and whether the model ended them itself (rather than the length limit)."""
        answer: list[int] = []
        while len(answer) < max_tokens:
            token = decoder.greedy()
            if token in self._eos:
                return answer, True
            answer.append(token)
            text.grew(answer)
            decoder.feed([token])
        return answer, False

    def _end_start(self, ids: list[int]) -> int | None:
        """Index of the token where the end mark starts, if the end of `ids` spells it.

        Text before the mark inside that same token is dropped with it, which keeps budgets exact.
        """
        mark = self._end_mark
        if mark not in self._tokenizer.decode(ids[-self._end_window :]):
            return None
        start = max(0, len(ids) - self._end_window)
        return next(i for i in range(len(ids) - 1, start - 1, -1) if mark in self._tokenizer.decode(ids[i:]))

    def _bridge(self, thinking: str) -> str:
        """`close` and the cue, less the leading whitespace of `close` the thinking already ends with."""
        close = self.budget.close
        lead = close[: len(close) - len(close.lstrip())]
        written = max(k for k in range(len(lead) + 1) if thinking.endswith(lead[:k]))
        return close[written:] + self.budget.answer_cue

    def _ids(self, text: str) -> list[int]:
        return self._tokenizer(text, add_special_tokens=False)["input_ids"]
