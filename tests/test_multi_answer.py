"""Multi-answer MCQ ("one or more options are right"): readers pick sets, scoring wants the exact set."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from eval.items import EvalItem
from eval.metrics import score_answer
from kg_route.facts import Fact
from kg_route.linking import Link
from kg_route.retrieval import Retrieval
from kg_route.route import KGRoute
from kgft.backends import create_backend
from kgft.backends.base import ChatMessage, Scoring
from kgft.contract import Question
from kgft.letter_answers import SEVERAL_INSTRUCTION_ZH, allows_several, read_letters
from kgft.option_scoring import SEVERAL_MARGIN, pick_option
from kgft.plain_route import PlainRoute
from kgft.settings import Settings
from tests.test_option_scoring import PRICES, ChatOnly

OPTIONS = {
    "A": "犯罪的预备阶段",
    "B": "犯罪的实行阶段",
    "C": "犯罪既遂以后",
    "D": "犯罪行为已经实行完毕的情况下",
}
SEVERAL = "（不定项选择题）犯罪中止可以发生在:"
ONE = "犯罪中止发生在下列哪一阶段:"


@pytest.mark.parametrize(
    ("question", "several"),
    [
        ("关于公民基本权利，下列哪些选项是正确的?", True),
        (SEVERAL, True),
        ("本题为多选题：下列说法正确的是", True),
        ("Select all that apply: which are noble gases?", True),
        (ONE, False),
        ("下列关于法律解释的说法正确的是", False),
    ],
)
def test_a_question_says_when_several_options_may_be_right(question, several):
    assert allows_several(question) is several


@pytest.mark.parametrize(
    ("reply", "letters"),
    [
        ("ABD", "ABD"),
        ("A、B、D", "ABD"),
        ("B,A", "AB"),
        ("答案是A和C", "AC"),
        ("正确答案为ABCD。\n解析：……", "ABCD"),
        ("The correct answers are A, C.", "AC"),
        ("A和C正确", "AC"),
        ("B", "B"),  # one right option is a set too
        ("答案：B", "B"),
        ("DNA", None),  # a word, not options D, N and A
        ("ABE", None),  # E is not an option: not read as a set
        ("我不知道", None),
        ("A or B", None),  # a hedge between two, not a set of two
    ],
)
def test_read_letters(reply, letters):
    assert read_letters(reply, OPTIONS).letter == letters


class Scores(ChatOnly):
    """A local model with fixed per-character scores for the options, in option order."""

    can_score = True

    def __init__(self, per_char: Sequence[float]):
        super().__init__("unused")
        self.per_char = per_char

    def score(self, messages: Sequence[ChatMessage], continuations: Sequence[str]) -> Scoring:
        logprobs = [value * len(text) for value, text in zip(self.per_char, continuations, strict=True)]
        return Scoring(logprobs, 40, 10.0)


def test_score_mode_picks_every_option_within_the_margin_of_the_best():
    near = SEVERAL_MARGIN * 0.9
    backend = Scores([-1.0, -1.0 - near, -1.0 - 3 * SEVERAL_MARGIN, -1.0 - near])
    several = pick_option(backend, [ChatMessage("user", SEVERAL)], OPTIONS)
    one = pick_option(backend, [ChatMessage("user", ONE)], OPTIONS)

    assert several.choice == "ABD" and one.choice == "A"
    assert several.scores["C"] == pytest.approx(-1.0 - 3 * SEVERAL_MARGIN)


def test_generate_mode_asks_for_every_right_letter_and_reads_the_set():
    backend = ChatOnly("A、B、D")
    pick = pick_option(backend, [ChatMessage("user", SEVERAL)], OPTIONS, "generate")

    assert pick.choice == "ABD" and pick.abstain_reason is None
    assert backend.calls[0]["messages"][-1].content.endswith(SEVERAL_INSTRUCTION_ZH)


def test_the_llm_route_answers_a_multi_answer_item_and_it_is_scored_as_an_exact_set():
    route = PlainRoute(ChatOnly("答案：ABD"), PRICES, max_tokens=16)
    answer = route.answer(Question(id="q", text=SEVERAL, domain="legal", options=OPTIONS))

    assert answer.choice == "ABD" and not answer.abstained
    assert answer.text == "A. 犯罪的预备阶段；B. 犯罪的实行阶段；D. 犯罪行为已经实行完毕的情况下"
    item = EvalItem(id="q", question=SEVERAL, gold="ABD", domain="legal", options=OPTIONS)
    assert score_answer(item, answer.choice, answer.text, answer.abstained).correct is True
    subset = EvalItem(id="q", question=SEVERAL, gold="ABCD", domain="legal", options=OPTIONS)
    assert score_answer(subset, answer.choice, answer.text, answer.abstained).correct is False


class _OneFactRetriever:
    """The graph's side of the KG route in a unit test: one linked law, one fact."""

    store = type("Store", (), {"url": "ladybug:/unused"})()

    def retrieve(self, question: str, as_of: object = None) -> Retrieval:
        link = Link("law:x", "Law", "刑法", 0, 2, "name", 1.0)
        return Retrieval([link], [Fact("f", "犯罪中止可以发生在预备和实行阶段", "刑法")], 0.1)


def test_the_kg_route_answers_several_letters_where_the_question_allows_them():
    route = KGRoute(_OneFactRetriever(), Settings(), PRICES, reader="llm")  # type: ignore[arg-type]
    route.backend = ChatOnly("A、B、D")  # type: ignore[misc]
    settings_generate = route.settings.model_copy(update={"mcq_mode": "generate"})
    route.settings = settings_generate

    answer = route.answer(Question(id="q", text=SEVERAL, domain="legal", options=OPTIONS))

    assert answer.choice == "ABD" and not answer.abstained
    assert answer.text == "A. 犯罪的预备阶段；B. 犯罪的实行阶段；D. 犯罪行为已经实行完毕的情况下"


@pytest.fixture(scope="module")
def smollm2(tmp_path_factory):
    backend = create_backend("gguf:smollm2", Settings(home=tmp_path_factory.mktemp("home"), threads=1))
    yield backend
    backend.close()


def test_a_real_model_scores_a_multi_answer_item_into_the_letters_near_its_best(smollm2):
    messages = [ChatMessage("user", SEVERAL)]
    pick = pick_option(smollm2, messages, OPTIONS, "score")
    single = pick_option(smollm2, [ChatMessage("user", ONE)], OPTIONS, "score")

    best = max(pick.scores.values())
    assert pick.choice == "".join(
        letter for letter in OPTIONS if pick.scores[letter] >= best - SEVERAL_MARGIN
    )
    assert pick.choice and set(pick.choice) <= set(OPTIONS)
    assert single.choice is not None and len(single.choice) == 1
