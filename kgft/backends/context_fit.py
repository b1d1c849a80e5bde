"""An over-long prompt loses the middle of its longest message until it fits the model's context.

OpenRouter calls this "middle-out" and applies it by default to models of 8k context or less, as a
local SmolLM2 is: a benchmark's long case fact keeps its instruction at the head and its question and
options at the tail, and the asker gets an answer instead of a 400. KGFT_FIT_CONTEXT=false keeps the 400.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Sequence
from typing import TypeVar

from kgft.backends.base import ChatMessage, Generation, Scoring
from kgft.errors import ContextLengthError

log = logging.getLogger("kgft.backends")
CUT_MARK = "\n……\n"
_MIN_KEPT_CHARS = 200  # a message cut below this has lost what it asked: keep the 400
_SLACK = 0.05  # of the context, cut beyond the estimate (characters per token vary); retries do the rest
_TRIES = 4

Result = TypeVar("Result", Generation, Scoring)


def fit_context(
    attempt: Callable[[Sequence[ChatMessage]], Result],
    messages: Sequence[ChatMessage],
    *,
    enabled: bool,
    reserve: int = 0,
) -> Result:
    """attempt(messages), cutting and retrying while it raises ContextLengthError with token counts;
    `reserve` tokens are kept free beyond the ones the error counted (the reply's, where it did not)."""
    cut_chars = 0
    for _ in range(_TRIES):
        try:
            result = attempt(messages)
        except ContextLengthError as exc:
            if not enabled or exc.tokens is None or exc.limit is None:
                raise
            messages, cut = cut_middle(messages, exc.tokens + reserve - exc.limit, exc)
            cut_chars += cut
            continue
        if cut_chars:
            log.warning("prompt cut by %d characters in its middle to fit the model's context", cut_chars)
        return dataclasses.replace(result, prompt_cut_chars=cut_chars)
    raise ContextLengthError(f"the prompt still does not fit after cutting {cut_chars} characters")


def cut_note(generation: Generation) -> dict[str, int]:
    """What an answer's diagnostics say of a cut prompt (nothing when none was cut)."""
    return {"prompt_cut_chars": generation.prompt_cut_chars} if generation.prompt_cut_chars else {}


def cut_middle(
    messages: Sequence[ChatMessage], excess_tokens: int, error: ContextLengthError
) -> tuple[list[ChatMessage], int]:
    """The messages with about `excess_tokens` tokens taken from the middle of the longest one (tokens
    per character estimated over the whole prompt), and the characters taken; `error` when that would
    leave the message under _MIN_KEPT_CHARS."""
    assert error.tokens is not None
    longest = max(range(len(messages)), key=lambda index: len(messages[index].content))
    text = messages[longest].content
    chars_per_token = sum(len(message.content) for message in messages) / max(error.tokens, 1)
    limit = error.limit or error.tokens
    cut = math.ceil((max(excess_tokens, 1) + _SLACK * limit) * chars_per_token) + len(CUT_MARK)
    kept = len(text) - cut
    if kept < _MIN_KEPT_CHARS:
        raise error
    head = kept // 2
    fitted = list(messages)
    fitted[longest] = dataclasses.replace(
        messages[longest], content=text[:head] + CUT_MARK + text[len(text) - (kept - head) :]
    )
    return fitted, cut
