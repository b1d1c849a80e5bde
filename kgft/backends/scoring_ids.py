"""Token ids for continuation scoring, shared by every backend that holds an HF tokenizer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kgft.backends.base import ChatMessage


def render_chat(tokenizer: Any, messages: Sequence[ChatMessage]) -> str:
    """The chat template's prompt text; tokenizers without one get plain `role: content` lines."""
    if tokenizer.chat_template is None:
        lines = [f"{m.role}: {m.content}" for m in messages]
        return (tokenizer.bos_token or "") + "\n".join([*lines, "assistant: "])
    chat = [{"role": m.role, "content": m.content} for m in messages]
    return tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)


def scoring_ids(
    tokenizer: Any, messages: Sequence[ChatMessage], continuations: Sequence[str]
) -> tuple[list[int], list[list[int]]]:
    """(prompt ids, each continuation's ids) as the model would see prompt + continuation."""
    prompt_text = render_chat(tokenizer, messages)
    prompt_ids: list[int] = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    targets = []
    for continuation in continuations:
        full_ids = tokenizer(prompt_text + continuation, add_special_tokens=False)["input_ids"]
        if full_ids[: len(prompt_ids)] == prompt_ids:
            targets.append(full_ids[len(prompt_ids) :])
        else:  # the join merged tokens across the boundary: tokenise the continuation on its own
            targets.append(tokenizer(continuation, add_special_tokens=False)["input_ids"])
    return prompt_ids, targets
