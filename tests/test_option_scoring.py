"""One MCQ rule for every route: score where the backend can, else ask for the letter; no letter, no pick."""

from __future__ import annotations

import time
from collections.abc import Sequence
from decimal import Decimal

import pytest

from kg_route.facts import Fact
from kg_route.readers import LLMReader
from kgft.backends.base import ChatMessage, Generation, Scoring
from kgft.contract import Cost, OnText, Question, Turn
from kgft.errors import UnsupportedError
from kgft.letter_answers import INSTRUCTION_EN, INSTRUCTION_ZH, MAX_REPLY_TOKENS, STOP
from kgft.option_scoring import answer_from_pick, pick_option, resolve_mode
from kgft.plain_route import PlainRoute
from kgft.pricing import PriceBook

OPTIONS = {"A": "Rome", "B": "Paris", "C": "Madrid", "D": "Berlin"}
QUESTION = [ChatMessage("user", "What is the capital of France?")]
PRICES = PriceBook.load()
# deepseek-chat's shipped price: $0.28/M in, $0.42/M out
PROMPT_TOKENS, COMPLETION_TOKENS = 60, 4


class ChatOnly:
    """A chat API as kgft sees one: replies with scripted text and the API's usage, cannot score."""

    spec = "fake:deepseek-chat"
    model = "deepseek-chat"
    can_score = False

    def __init__(self, reply: str):
        self.reply = reply
        self.calls: list[dict] = []

    def generate(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        stop: Sequence[str] = (),
        on_text: OnText | None = None,
    ) -> Generation:
        self.calls.append(
            {"messages": list(messages), "max_tokens": max_tokens, "temperature": temperature, "stop": stop}
        )
        return Generation(self.reply, self.model, PROMPT_TOKENS, COMPLETION_TOKENS, generation_ms=120.0)

    def score(self, messages: Sequence[ChatMessage], continuations: Sequence[str]) -> Scoring:
        raise UnsupportedError("fake: chat only")

    def cost(self, generation: Generation, prices: PriceBook) -> Cost:
        return prices.token_cost(self.model, generation.prompt_tokens, generation.completion_tokens)

    def close(self) -> None:
        pass


class Scorer(ChatOnly):
    """A local model that can score: Paris is likeliest."""

    can_score = True

    def score(self, messages: Sequence[ChatMessage], continuations: Sequence[str]) -> Scoring:
        self.scored = list(continuations)
        return Scoring([-1.0 if text == "Paris" else -20.0 for text in continuations], 30, 50.0)


def _api_cost(prompt: int, completion: int) -> Decimal:
    return (prompt * Decimal("0.28") + completion * Decimal("0.42")) / 1_000_000


def test_auto_asks_a_chat_only_backend_for_the_letter_and_prices_its_reply():
    backend = ChatOnly("The answer is B.")
    pick = pick_option(backend, QUESTION, OPTIONS, "auto")
    assert (pick.choice, pick.mode, pick.abstain_reason) == ("B", "generate", None)
    (call,) = backend.calls
    assert call["messages"] == [
        ChatMessage(
            "user",
            "What is the capital of France?\n\nA. Rome\nB. Paris\nC. Madrid\nD. Berlin\n\n" + INSTRUCTION_EN,
        )
    ]
    assert (call["max_tokens"], call["temperature"], tuple(call["stop"])) == (MAX_REPLY_TOKENS, 0.0, STOP)
    assert pick.usage.prompt_tokens == PROMPT_TOKENS and pick.usage.completion_tokens == COMPLETION_TOKENS
    assert backend.cost(pick.generation, PRICES).runtime_usd == _api_cost(PROMPT_TOKENS, COMPLETION_TOKENS)
    assert pick.diagnostics == {"mcq_mode": "generate", "reply": "The answer is B.", "finish_reason": "stop"}


def test_auto_scores_where_the_backend_can_and_never_generates():
    backend = Scorer("unused")
    pick = pick_option(backend, QUESTION, OPTIONS)
    assert (pick.choice, pick.mode) == ("B", "score")
    assert backend.calls == [] and backend.scored == list(OPTIONS.values())
    assert pick.scores["B"] == -1.0 / len("Paris")
    # scoring reads 30 tokens and writes none
    assert (pick.usage.prompt_tokens, pick.usage.completion_tokens) == (30, 0)
    assert pick.diagnostics["mcq_mode"] == "score" and "reply" not in pick.diagnostics


def test_generate_is_used_when_asked_even_where_the_backend_could_score():
    backend = Scorer("答案：C")
    assert resolve_mode(backend, "generate") == "generate"
    assert pick_option(backend, [ChatMessage("user", "西班牙的首都是？")], OPTIONS, "generate").choice == "C"
    assert backend.calls[0]["messages"][-1].content.endswith(INSTRUCTION_ZH)


def test_score_mode_on_a_chat_only_backend_says_it_cannot():
    with pytest.raises(UnsupportedError):
        pick_option(ChatOnly("B"), QUESTION, OPTIONS, "score")


@pytest.mark.parametrize("reply", ["I am not sure.", "A or B", "The answer is E.", ""])
def test_a_reply_without_one_option_letter_is_an_abstention_still_priced(reply):
    backend = ChatOnly(reply)
    pick = pick_option(backend, QUESTION, OPTIONS)
    assert pick.choice is None and pick.abstain_reason
    answer = answer_from_pick(
        pick, OPTIONS, route="llm", backend=backend, prices=PRICES, started=time.perf_counter()
    )
    assert answer.abstained and answer.abstain_reason == pick.abstain_reason
    assert answer.text == "" and answer.choice is None
    assert answer.cost.priced and answer.cost.runtime_usd == _api_cost(PROMPT_TOKENS, COMPLETION_TOKENS)
    assert answer.diagnostics["reply"] == reply and answer.diagnostics["mcq_mode"] == "generate"


def test_the_llm_route_answers_an_mcq_from_a_chat_only_backend():
    route = PlainRoute(ChatOnly("**B**"), PRICES, max_tokens=64)
    answer = route.answer(Question(id="q", text=QUESTION[0].content, domain="legal", options=OPTIONS))
    assert (answer.choice, answer.text, answer.abstained) == ("B", "B. Paris", False)
    assert answer.usage.completion_tokens == COMPLETION_TOKENS
    assert answer.timings.generation_ms == 120.0
    assert answer.cost.runtime_usd == _api_cost(PROMPT_TOKENS, COMPLETION_TOKENS)
    assert answer.diagnostics | {"backend": "", "reader": ""} == {
        "backend": "",
        "reader": "",
        "mcq_mode": "generate",
        "reply": "**B**",
        "finish_reason": "stop",
    }


def test_the_kg_llm_reader_asks_after_the_facts_and_hands_over_what_to_price():
    facts = [Fact(id="f1", text="巴黎是法国的首都。", source="常识")]
    backend = ChatOnly("[正确答案]B<eoa>")
    reading = LLMReader(backend).read("法国的首都是？", OPTIONS, facts)
    assert reading.choice == "B" and reading.scoring is None
    assert reading.generation is not None and reading.generation.completion_tokens == COMPLETION_TOKENS
    assert reading.diagnostics["mcq_mode"] == "generate"
    asked = backend.calls[0]["messages"]
    assert asked[0].role == "system" and "巴黎是法国的首都。" in asked[0].content
    assert asked[-1].content.endswith("A. Rome\nB. Paris\nC. Madrid\nD. Berlin\n\n" + INSTRUCTION_ZH)

    abstained = LLMReader(ChatOnly("不知道"), "generate").read("法国的首都是？", OPTIONS, facts)
    assert abstained.choice is None and abstained.abstain_reason == "no option letter in the reply"

    scored = LLMReader(Scorer("unused")).read("法国的首都是？", OPTIONS, facts)
    assert scored.choice == "B" and scored.scoring is not None
    assert scored.generation is not None and scored.generation.prompt_tokens == 30


def test_the_kg_llm_reader_reads_the_conversation_after_the_facts():
    """An MCQ asked mid-conversation: the asker's system prompt joins the facts' system part, and the
    earlier turns come before the question."""
    facts = [Fact(id="f1", text="巴黎是法国的首都。", source="常识")]
    backend = ChatOnly("B")
    history = [
        Turn(role="system", content="只回答字母。"),
        Turn(role="user", content="你好"),
        Turn(role="assistant", content="你好！"),
    ]
    LLMReader(backend, "generate").read("法国的首都是？", OPTIONS, facts, history)
    asked = backend.calls[0]["messages"]
    assert [message.role for message in asked] == ["system", "user", "assistant", "user"]
    assert "只回答字母。" in asked[0].content and "巴黎是法国的首都。" in asked[0].content
    assert asked[0].content.index("只回答字母。") < asked[0].content.index("巴黎")
    assert asked[1].content == "你好" and asked[-1].content.startswith("法国的首都是？")
