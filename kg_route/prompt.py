"""A compact, numbered-facts prompt; Chinese questions get a Chinese template."""

from __future__ import annotations

from collections.abc import Sequence

from kg_route.facts import Fact
from kgft.backends.base import ChatMessage, conversation
from kgft.contract import Turn

_SYSTEM_ZH = (
    "你是严谨的法律与医学助理。只依据给出的事实回答，并用方括号编号引用事实，例如[1]。事实不足时直说。"
)
_SYSTEM_EN = (
    "You are a careful legal and medical assistant. Answer only from the numbered facts and cite them "
    "like [1]. Say so when the facts are not enough."
)


def is_chinese(text: str) -> bool:
    return any("\u4e00" <= char <= "\u9fff" for char in text)


def numbered_facts(facts: Sequence[Fact]) -> str:
    return "\n".join(f"[{number}] {fact.source}：{fact.text}" for number, fact in enumerate(facts, 1))


def build_messages(question: str, facts: Sequence[Fact], history: Sequence[Turn] = ()) -> list[ChatMessage]:
    """One system part (the route's rules, the asker's own system prompt, the numbered facts), then the
    earlier turns, then the question exactly as the user wrote it, in the question's language."""
    chinese = is_chinese(question)
    rules = _SYSTEM_ZH if chinese else _SYSTEM_EN
    facts_part = f"事实：\n{numbered_facts(facts)}" if chinese else f"Facts:\n{numbered_facts(facts)}"
    messages = conversation([rules], history, question)
    system = messages[0]  # the rules are never empty, so the first message is the system part
    return [ChatMessage("system", f"{system.content}\n\n{facts_part}"), *messages[1:]]
