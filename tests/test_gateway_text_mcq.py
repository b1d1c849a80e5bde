"""A benchmark's MCQ as one plain chat message: the route scores its options, the reply keeps their format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kg_route.factory import linker_from_store
from kg_route.ingest import ingest_legal
from kg_route.retrieval import FactRetriever
from kg_route.route import KGRoute
from kg_route.store import open_store
from kgft.contract import Answer, Question
from kgft.pricing import PriceBook
from kgft.settings import Settings
from tests.gateway_fakes import FakeRoute, StreamingFakeRoute, chat_body, make_app

LAWBENCH_STYLE = (
    "以下是一道法律选择题，只有一个正确答案，请写在[正确答案]和<eoa>之间。例如：[正确答案]A<eoa>\n"
    "问题：下列哪一行为构成故意犯罪？\n"
    "A:甲过失致人死亡;B:乙故意杀人;C:丙过失引起火灾;D:丁意外事件\n答案："
)
STEM = (
    "以下是一道法律选择题，只有一个正确答案，请写在[正确答案]和<eoa>之间。例如：[正确答案]A<eoa>\n"
    "问题：下列哪一行为构成故意犯罪？\n答案："
)
OPTIONS = {"A": "甲过失致人死亡", "B": "乙故意杀人", "C": "丙过失引起火灾", "D": "丁意外事件"}
LEXEVAL_STYLE = (
    "请阅读以下选择题给出正确选项，不要解释原因。请只给出答案的序号。\n"
    "中华人民共和国刑法第二百三十二条的内容是:\n"
    "A: 盗窃公私财物，数额较大的，处三年以下有期徒刑\n"
    "B: 故意杀人的，处死刑、无期徒刑或者十年以上有期徒刑"
)


class PickingRoute(FakeRoute):
    """Picks a given letter (or none, or abstains), so the reply shows which pick it carries."""

    def __init__(self, name: str, pick: str | None, *, abstain: bool = False):
        super().__init__(name)
        self.pick = pick
        self.abstain = abstain

    def answer(self, question: Question) -> Answer:
        answer = super().answer(question)
        return answer.model_copy(
            update={"choice": self.pick, "abstained": self.abstain, "text": "无法从图谱中确定"}
        )


def test_a_one_message_mcq_reaches_the_route_with_its_options_and_the_reply_follows_its_template(tmp_path):
    kg = PickingRoute("kg", "B")
    app, store = make_app(tmp_path, {"kg": kg})
    with TestClient(app) as client:
        body = client.post("/v1/chat/completions", json=chat_body(LAWBENCH_STYLE)).json()
    [question] = kg.questions
    assert question.text == STEM
    assert question.options == OPTIONS
    assert question.metadata["options_from"] == "text"
    assert body["choices"][0]["message"]["content"] == "[正确答案]B<eoa>"
    assert body["kgft"]["options_from"] == "text" and body["kgft"]["choice"] == "B"
    [row] = store.rows("live")
    assert row.question == STEM and row.choice == "B"


def test_without_a_template_the_reply_is_the_letter_with_its_option_text(tmp_path):
    app, _ = make_app(tmp_path, {"kg": PickingRoute("kg", "B")})
    with TestClient(app) as client:
        body = client.post("/v1/chat/completions", json=chat_body(LEXEVAL_STYLE)).json()
    assert body["choices"][0]["message"]["content"] == "B. 故意杀人的，处死刑、无期徒刑或者十年以上有期徒刑"


@pytest.mark.parametrize(("pick", "abstain"), [(None, False), ("B", True)])
def test_an_abstention_or_no_pick_keeps_the_routes_text_rather_than_a_guess(tmp_path, pick, abstain):
    app, _ = make_app(tmp_path, {"kg": PickingRoute("kg", pick, abstain=abstain)})
    with TestClient(app) as client:
        body = client.post("/v1/chat/completions", json=chat_body(LAWBENCH_STYLE)).json()
    assert body["choices"][0]["message"]["content"] == "无法从图谱中确定"
    assert body["kgft"]["options_from"] == "text"


def test_options_sent_as_the_field_win_and_open_questions_stay_open(tmp_path):
    kg = FakeRoute("kg")
    app, _ = make_app(tmp_path, {"kg": kg})
    open_question = "A公司与B公司签订买卖合同，约定B公司于五月交货。A公司能否解除合同？"
    with TestClient(app) as client:
        explicit = client.post(
            "/v1/chat/completions", json=chat_body(LAWBENCH_STYLE, options={"A": "是", "B": "否"})
        ).json()
        plain = client.post("/v1/chat/completions", json=chat_body(open_question)).json()
    assert [question.text for question in kg.questions] == [LAWBENCH_STYLE, open_question]
    assert [question.options for question in kg.questions] == [{"A": "是", "B": "否"}, None]
    assert explicit["choices"][0]["message"]["content"] == f"kg says: {LAWBENCH_STYLE}"
    assert "options_from" not in explicit["kgft"] and "options_from" not in plain["kgft"]
    assert plain["choices"][0]["message"]["content"] == f"kg says: {open_question}"


def test_only_the_last_user_message_is_read_for_options(tmp_path):
    kg = FakeRoute("kg")
    app, _ = make_app(tmp_path, {"kg": kg})
    messages = [
        {"role": "user", "content": LAWBENCH_STYLE},
        {"role": "assistant", "content": "[正确答案]B<eoa>"},
        {"role": "user", "content": "为什么？"},
    ]
    with TestClient(app) as client:
        client.post("/v1/chat/completions", json={"model": "kg", "messages": messages})
    assert kg.questions[0].text == "为什么？" and kg.questions[0].options is None


def test_a_streamed_text_mcq_sends_the_formatted_pick_as_one_piece(tmp_path):
    kg = StreamingFakeRoute("kg")  # would stream word by word; a pick exists only once made
    app, _ = make_app(tmp_path, {"kg": kg})
    with TestClient(app) as client:
        response = client.post(
            "/v1/chat/completions",
            json=chat_body(LAWBENCH_STYLE, stream=True, stream_options={"include_usage": True}),
        )
    assert response.status_code == 200 and response.headers["x-kgft-route"] == "kg"
    lines = [line for line in response.text.splitlines() if line]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    pieces = [c["choices"][0]["delta"].get("content") for c in chunks if c["choices"]]
    assert [piece for piece in pieces if piece] == ["[正确答案]A<eoa>"]  # the fake picks the first option
    finishing = next(c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"])
    assert finishing["kgft"]["options_from"] == "text" and finishing["kgft"]["choice"] == "A"


ARTICLES = [
    (232, "第二百三十二条",
     "故意杀人的，处死刑、无期徒刑或者十年以上有期徒刑；情节较轻的，处三年以上十年以下有期徒刑。"),
    (264, "第二百六十四条",
     "盗窃公私财物，数额较大的，或者多次盗窃、入户盗窃、携带凶器盗窃、扒窃的，处三年以下有期徒刑、拘役或者管制。"),
]  # fmt: skip


def write_statutes(folder: Path) -> Path:
    law = {"law_id": "d2da5d066414", "law_name": "中华人民共和国刑法", "doc_type": "法律", "level": "法律",
           "issuing_body": "全国人民代表大会常务委员会", "publish_date": "2020-12-26",
           "effective_date": "1997-10-01", "status": "已被修改", "law_department": "刑法"}  # fmt: skip
    folder.mkdir()
    (folder / "laws.jsonl").write_text(json.dumps(law, ensure_ascii=False) + "\n", "utf-8")
    rows = [
        {"law_id": law["law_id"], "chapter": "第四章", "section": None, "article_no": number,
         "article_no_arabic": arabic, "article_text": text, "status": "已被修改"}
        for arabic, number, text in ARTICLES
    ]  # fmt: skip
    (folder / "articles.part1.jsonl").write_text(
        "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), "utf-8"
    )
    return folder


def test_the_kg_route_reads_the_options_of_a_plain_lexeval_prompt_and_cites_the_article(tmp_path):
    settings = Settings(home=tmp_path, threads=1, max_tokens=8, graph=f"ladybug:{tmp_path / 'graph'}")
    graph = open_store(settings.graph_url)
    try:
        ingest_legal(graph, write_statutes(tmp_path / "statutes"), settings, PriceBook.load(), progress=False)
        route = KGRoute(FactRetriever(graph, linker_from_store(graph, settings)), settings, PriceBook.load())
        app, _ = make_app(tmp_path, {"kg": route})  # type: ignore[dict-item]
        with TestClient(app) as client:
            body = client.post("/v1/chat/completions", json=chat_body(LEXEVAL_STYLE)).json()
    finally:
        graph.close()
    assert body["choices"][0]["message"]["content"] == "B. 故意杀人的，处死刑、无期徒刑或者十年以上有期徒刑"
    assert body["kgft"]["choice"] == "B" and body["kgft"]["options_from"] == "text"
    assert body["kgft"]["citations"][0]["source"] == "中华人民共和国刑法 第二百三十二条"
    assert body["usage"]["completion_tokens"] == 0  # the lexical reader: no model call
