"""An open question asking which crime a case is: answered from the charge ranking, no model call."""

from __future__ import annotations

from kg_route.route import KGRoute
from kgft.contract import Question
from kgft.pricing import PriceBook
from tests.test_kg_charges import case_slice, layer, pytestmark, route, settings  # noqa: F401

DRUNK_DRIVING = (
    "被告人李某于2017年5月3日晚酒后驾驶小型轿车行驶至某路口时被民警查获，"
    "经鉴定其血液中乙醇含量为186mg/100ml。"
)


def test_which_crime_is_answered_with_the_ranked_charges_and_their_articles(route):  # noqa: F811
    answer = route.answer(Question(id="dui", text=DRUNK_DRIVING + "被告人涉及的罪名是什么？", domain="legal"))
    assert answer.text == "罪名：危险驾驶罪\n法条：中华人民共和国刑法第一百三十三条之一"
    assert answer.model == "none" and answer.usage.completion_tokens == 0
    assert answer.diagnostics["charge_answer"] is True
    assert [citation.source for citation in answer.citations] == [
        "罪名 危险驾驶罪（中华人民共和国刑法第一百三十三条之一）",
        "中华人民共和国刑法 第一百三十三条之一",
    ]


def test_a_case_question_that_asks_something_else_goes_to_the_model(route):  # noqa: F811
    answer = route.answer(Question(id="dui-sentence", text=DRUNK_DRIVING + "应当如何量刑？", domain="legal"))
    assert "charge_answer" not in answer.diagnostics and answer.model != "none"


def test_charge_options_are_read_from_the_ranking_even_past_the_models_context(route, settings):  # noqa: F811
    """The model reader's route: a case fact longer than SmolLM2's 8,192 tokens still gets its charge."""
    reading = KGRoute(route.retriever, settings, PriceBook.load())  # KGFT_KG_READER=llm, the default
    long_fact = DRUNK_DRIVING + "经审理查明，上述事实有证人证言、鉴定意见等证据证实。" * 240
    mcq = Question(
        id="dui-mcq",
        text=long_fact + "被告人涉及的案由是：",
        domain="legal",
        options={"A": "交通肇事罪", "B": "危险驾驶罪", "C": "盗窃罪", "D": "诈骗罪"},
    )
    answer = reading.answer(mcq)
    assert answer.choice == "B" and answer.diagnostics["charge_options"] is True
    assert answer.diagnostics["reader"] == "llm" and answer.usage.prompt_tokens == 0
