from collections.abc import Sequence
from decimal import Decimal

import pytest

from eval.items import EvalItem
from eval.metrics import (
    LLMJudge,
    abstention_rate,
    char_f1,
    normalize_letters,
    parse_verdict,
    rouge_l,
    score_answer,
)
from kgft.backends.base import ChatMessage, Generation
from kgft.pricing import PriceBook, TokenPrice

MULTI = EvalItem(
    id="jec-1",
    question="下列哪些属于犯罪构成要件？",
    gold="ABD",
    domain="legal",
    options={"A": "犯罪客体", "B": "犯罪主体", "C": "犯罪动机", "D": "犯罪客观方面"},
)
OPEN = EvalItem(id="open-1", question="张三持刀致人死亡，构成何罪？", gold="故意杀人罪", domain="legal")


@pytest.mark.parametrize(
    ("choice", "correct"),
    [("ABD", True), ("DBA", True), ("A,B,D", True), ("a、b、d", True), ("ＡＢＤ", True), ("AB", False)],
)
def test_multi_answer_is_an_exact_set_of_letters(choice, correct):
    assert score_answer(MULTI, choice, f"{choice}. ……", abstained=False).correct is correct


def test_superset_missing_and_abstained_mcq_answers_are_wrong():
    assert score_answer(MULTI, "ABCD", "", abstained=False).correct is False
    assert score_answer(MULTI, None, "我不确定", abstained=False).correct is False
    abstained = score_answer(MULTI, "ABD", "", abstained=True)
    assert abstained.correct is False
    assert (abstained.char_f1, abstained.rouge_l) == (None, None)
    assert normalize_letters(" B, a ") == frozenset("AB")


def test_char_f1_and_rouge_l_by_hand():
    # 故意杀人罪 vs 故意伤害罪: shared 故 意 罪 = 3 of 5 each way, and 故意罪 is also the LCS.
    # F1 = 2·0.6·0.6 / 1.2 = 0.6 for both.
    assert char_f1("故意杀人罪", "故意伤害罪") == pytest.approx(0.6)
    assert rouge_l("故意杀人罪", "故意伤害罪") == pytest.approx(0.6)
    # 人杀意故 reverses 故意杀人: all 4 characters match (P=1, R=4/5, F1=8/9),
    # but order is lost so the LCS is 1 (P=1/4, R=1/5, F=2·(1/20)/(9/20)=2/9).
    assert char_f1("人杀意故", "故意杀人罪") == pytest.approx(8 / 9)
    assert rouge_l("人杀意故", "故意杀人罪") == pytest.approx(2 / 9)
    # Repeats count once per occurrence in the reference: P=1/3, R=1, F1=0.5.
    assert char_f1("哈哈哈", "哈") == pytest.approx(0.5)


def test_whitespace_punctuation_and_width_do_not_count():
    assert char_f1("故意 杀人罪。", "故意杀人罪") == 1.0
    assert rouge_l("“故意杀人罪”！", "故意杀人罪") == 1.0
    assert char_f1("ＡＢＣ１２", "abc12") == 1.0
    assert char_f1("", "故意杀人罪") == 0.0


def test_open_answers_get_overlap_but_no_verdict():
    scored = score_answer(OPEN, None, "构成故意杀人罪。", abstained=False)
    assert scored.correct is None
    # 构成故意杀人罪 (7) vs 故意杀人罪 (5): 5 shared, P=5/7, R=1, F1 = 10/12.
    assert scored.char_f1 == pytest.approx(10 / 12)
    assert scored.rouge_l == pytest.approx(10 / 12)
    assert score_answer(OPEN, None, "故意杀人罪", abstained=True) == score_answer(OPEN, None, "", False)
    assert score_answer(OPEN, None, "", abstained=True).char_f1 == 0.0


def test_abstention_rate():
    assert abstention_rate([True, False, False, False]) == 0.25
    with pytest.raises(ValueError):
        abstention_rate([])


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        ("正确", True),
        ("错误。参考答案是故意杀人罪。", False),
        ("不正确", False),
        ("<think>乍看正确，但罪名不同</think>\n错误", False),
        ("Yes.", True),
        ("Incorrect.", False),
        ("The answer is correct.", True),
        ("none of the above", None),
        ("嗯……", None),
    ],
)
def test_parse_verdict(reply, verdict):
    assert parse_verdict(reply) is verdict


class _ScriptedJudgeModel:
    """Replies with a fixed text and 1,000 prompt / 10 completion tokens, and keeps what it was asked."""

    spec = "fake:judge"
    model = "judge-model"

    def __init__(self, reply: str):
        self.reply = reply
        self.asked: list[Sequence[ChatMessage]] = []

    def generate(self, messages, *, max_tokens, temperature=0.0, stop=(), on_text=None) -> Generation:
        self.asked.append(messages)
        return Generation(self.reply, self.model, prompt_tokens=1000, completion_tokens=10, generation_ms=5.0)

    def cost(self, generation, prices):
        return prices.token_cost(generation.model, generation.prompt_tokens, generation.completion_tokens)


PRICES = PriceBook({"judge-model": TokenPrice(input=Decimal("1"), output=Decimal("2"))}, {})


def test_judge_asks_with_the_reference_and_prices_itself():
    backend = _ScriptedJudgeModel("错误")
    judgement = LLMJudge(backend, PRICES).judge(OPEN, "故意伤害罪")
    assert (judgement.correct, judgement.parsed, judgement.raw) == (False, True, "错误")
    # 1000 × $1/M + 10 × $2/M
    assert judgement.cost.runtime_usd == Decimal("0.00102")
    (messages,) = backend.asked
    asked = messages[-1].content
    assert "故意杀人罪" in asked and "故意伤害罪" in asked and OPEN.question in asked


def test_judge_flags_unreadable_replies_and_skips_empty_answers():
    unreadable = LLMJudge(_ScriptedJudgeModel("我无法判断"), PRICES).judge(OPEN, "故意杀人罪")
    assert (unreadable.correct, unreadable.parsed) == (False, False)
    silent = _ScriptedJudgeModel("正确")
    empty = LLMJudge(silent, PRICES).judge(OPEN, "  ")
    assert (empty.correct, empty.cost.runtime_usd, silent.asked) == (False, Decimal(0), [])
    with pytest.raises(ValueError):
        LLMJudge(silent, PRICES).judge(MULTI, "A")
