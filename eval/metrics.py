"""Scoring one answer against its item: exact letters for MCQ, character overlap for open Chinese answers.

Open answers get no verdict here: overlap scores rank answers but cannot say "correct", so `correct`
stays None until a judge (LLMJudge below) or a person decides.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from eval.items import EvalItem
from kgft.backends.base import ChatMessage, LLMBackend
from kgft.contract import Cost
from kgft.pricing import PriceBook


@dataclass(frozen=True)
class ItemScore:
    correct: bool | None
    char_f1: float | None
    rouge_l: float | None


def score_answer(item: EvalItem, choice: str | None, text: str, abstained: bool) -> ItemScore:
    """An abstention is a wrong MCQ answer and a zero-overlap open answer, never a skipped item."""
    if item.kind == "mcq":
        picked = frozenset() if abstained else normalize_letters(choice)
        return ItemScore(
            correct=bool(picked) and picked == normalize_letters(item.gold), char_f1=None, rouge_l=None
        )
    if abstained:
        return ItemScore(correct=None, char_f1=0.0, rouge_l=0.0)
    return ItemScore(correct=None, char_f1=char_f1(text, item.gold), rouge_l=rouge_l(text, item.gold))


def normalize_letters(choice: str | None) -> frozenset[str]:
    """ "AB", "A,B", "b、a" and full-width "ＡＢ" all name the same set; anything but A..Z is a separator."""
    if not choice:
        return frozenset()
    folded = unicodedata.normalize("NFKC", choice).upper()
    return frozenset(letter for letter in folded if "A" <= letter <= "Z")


def _chars(text: str) -> list[str]:
    """NFKC folds full-width to half-width; case, whitespace and punctuation never count as content."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return [c for c in folded if not c.isspace() and not unicodedata.category(c).startswith("P")]


def _f_measure(overlap: int, predicted: int, reference: int) -> float:
    if overlap == 0:
        return 0.0
    precision, recall = overlap / predicted, overlap / reference
    return 2 * precision * recall / (precision + recall)


def char_f1(prediction: str, reference: str) -> float:
    """SQuAD-style F1 over the multiset of characters: Chinese has no spaces to split words on."""
    predicted, wanted = _chars(prediction), _chars(reference)
    overlap = sum((Counter(predicted) & Counter(wanted)).values())
    return _f_measure(overlap, len(predicted), len(wanted))


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure (beta=1) over characters: like char F1, but order matters."""
    predicted, wanted = _chars(prediction), _chars(reference)
    return _f_measure(_lcs_length(predicted, wanted), len(predicted), len(wanted))


def _lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Longest common subsequence, two-row dynamic programme: O(len(a)·len(b)) time, O(len(b)) memory."""
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def abstention_rate(abstained: Sequence[bool]) -> float:
    if not abstained:
        raise ValueError("abstention rate of no answers is undefined")
    return sum(bool(flag) for flag in abstained) / len(abstained)


@dataclass(frozen=True)
class Judgement:
    """`parsed` is False when the reply named no verdict; `correct` is then False and `raw` shows why."""

    correct: bool
    cost: Cost
    raw: str
    parsed: bool = True


_JUDGE_SYSTEM = (
    "你是一名严格的法律与医学考试阅卷人。对照参考答案，判断考生答案的要点是否正确、完整且没有与参考答案矛盾的内容。"
    "措辞不同但意思相同算正确。只回答“正确”或“错误”，不要解释。"
)
_JUDGE_USER = "问题：{question}\n\n参考答案：{reference}\n\n考生答案：{answer}\n\n判断（正确/错误）："

# Earliest verdict wins; 不正确/incorrect are listed before the words they contain.
_VERDICT = re.compile(r"不正确|错误|正确|(?<![a-z])(?:incorrect|correct|yes|no)(?![a-z])", re.IGNORECASE)
_TRUE_WORDS = frozenset({"正确", "correct", "yes"})
_THINKING = re.compile(r"<think>.*?</think>", re.DOTALL)


def parse_verdict(reply: str) -> bool | None:
    """True/False from a judge's reply, None when it names no verdict; reasoning blocks are skipped."""
    found = _VERDICT.search(_THINKING.sub("", reply))
    return None if found is None else found.group(0).lower() in _TRUE_WORDS


class LLMJudge:
    """An LLM grades open answers against the reference; its cost is returned apart from the routes'."""

    def __init__(self, backend: LLMBackend, prices: PriceBook, *, max_tokens: int = 64):
        self.backend = backend
        self.prices = prices
        self.max_tokens = max_tokens

    def judge(self, item: EvalItem, answer_text: str) -> Judgement:
        if item.kind != "open":
            raise ValueError(f"item {item.id} is multiple choice; score it with score_answer, not a judge")
        if not answer_text.strip():
            nothing = Cost(runtime_usd=Decimal(0), basis="not judged: empty answer", priced=True)
            return Judgement(correct=False, cost=nothing, raw="")
        prompt = _JUDGE_USER.format(question=item.question, reference=item.gold, answer=answer_text.strip())
        messages = [ChatMessage("system", _JUDGE_SYSTEM), ChatMessage("user", prompt)]
        generation = self.backend.generate(messages, max_tokens=self.max_tokens, temperature=0.0)
        verdict = parse_verdict(generation.text)
        return Judgement(
            correct=bool(verdict),
            cost=self.backend.cost(generation, self.prices),
            raw=generation.text,
            parsed=verdict is not None,
        )
